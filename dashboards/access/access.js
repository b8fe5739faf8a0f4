/* 门禁 / the access page: five tabs, each offered only to a role whose permissions open its
 * data (门禁卡: records.read, issuing and revoking records.write; 访客通行证: access.passes;
 * 通行记录: devices.read; 时段 and 门禁组: records.read, editing records.write). The tab
 * shown is kept in the address (?tab=) so a reload stays. */
"use strict";

(() => {
  const S = window.Shell;
  const A = window.Acc;
  const NEEDS = { cards: "records.read", passes: "access.passes", log: "devices.read",
                  profiles: "records.read", groups: "records.read" };
  const tabs = [...document.querySelectorAll("[role=tab]")];
  const passes = window.AccPasses.mount(document.getElementById("pass-box"), { list: true });
  let site = "";
  let perms = new Set();
  let current = null;
  const started = new Set();

  function offered() {
    return tabs.filter((t) => perms.has(NEEDS[t.dataset.tab])).map((t) => t.dataset.tab);
  }

  function load(name) {
    if (name === "cards") return window.AccCards.start(site, perms);
    if (name === "passes") return passes.start(site);
    if (name === "profiles") return window.AccProfiles.start(site, perms);
    if (name === "groups") return window.AccGroups.start(site, perms);
    return window.AccLog.start(site);
  }

  function select(name) {
    current = name;
    for (const t of tabs) {
      const on = t.dataset.tab === name;
      t.setAttribute("aria-selected", String(on));
      document.getElementById(`pane-${t.dataset.tab}`).hidden = !on;
    }
    const url = new URL(location.href);
    url.searchParams.set("tab", name);
    history.replaceState(history.state, "", url);
    if (!started.has(name)) {
      started.add(name);
      load(name);
    }
  }

  for (const t of tabs) t.addEventListener("click", () => select(t.dataset.tab));

  S.onSite(async (slug) => {
    perms = await A.permissions();
    site = slug;
    started.clear();
    const names = offered();
    for (const t of tabs) t.hidden = !names.includes(t.dataset.tab);
    const wanted = new URLSearchParams(location.search).get("tab");
    const first = names.includes(wanted) ? wanted : (names.includes(current) ? current : names[0]);
    if (first) select(first);
  });
})();
