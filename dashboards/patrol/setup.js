/* 巡更管理 / the patrol set-up page: four tabs (巡更点, 路线, 计划, 巡更标签), the one shown
 * kept in the address (?tab=) so a reload stays; each tab loads when first opened and again
 * when the 小区 changes. The page itself needs patrol.write. */
"use strict";

(() => {
  const S = window.Shell;
  const MODULES = { checkpoints: window.PatCheckpoints, routes: window.PatRoutes,
                    plans: window.PatPlans, tags: window.PatTags };
  const tabs = [...document.querySelectorAll("[role=tab]")];
  let site = "";
  const started = new Set();

  function select(name) {
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
      MODULES[name].start(site);
    }
  }

  for (const t of tabs) t.addEventListener("click", () => select(t.dataset.tab));

  S.onSite((slug) => {
    site = slug;
    started.clear();
    const wanted = new URLSearchParams(location.search).get("tab");
    select(wanted in MODULES ? wanted : "checkpoints");
  });
})();
