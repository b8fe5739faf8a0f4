/* 巡更进行中 / the guard board's live rounds panel (loaded by dashboards/guard/index.html):
 * every 10 s GET …/patrol/rounds/live for the board's 小区 (each of the login's 小区 when the
 * board shows all), each round in progress as a line (plan, guard, started) with its
 * checkpoints as coloured chips (Pat.chip). Only for a login with patrol.read; the panel stays
 * hidden otherwise. Missed checkpoints also arrive as alarms on the board itself. */
"use strict";

(() => {
  const S = window.Shell;
  const P = window.Pat;
  const REFRESH_MS = 10000;
  const panel = document.getElementById("patrol-live");
  let site = null;
  let timer = null;

  function siteSlugs() {
    if (site) return [site];
    const me = S.me();
    return ((me && me.site_list) || []).map((s) => s.slug);
  }

  function line(slug, raw, many) {
    const r = P.round(raw);
    const tz = S.zone(slug);
    const head = [r.planName, r.guard, r.started ? S.t(`开始 ${P.clock(r.started, tz)}`, `started ${P.clock(r.started, tz)}`) : "",
                  S.label("patrol_round_status", r.status)];
    if (many) {
      const s = ((S.me() || {}).site_list || []).find((x) => x.slug === slug);
      head.unshift(s ? s.name : slug);
    }
    return S.el("li", { class: "patrol-round", "data-round": r.id },
                S.el("div", { class: "patrol-head", text: head.filter(Boolean).join(" · ") }),
                S.el("div", { class: "patrol-chips" }, ...r.checkpoints.map((c) => P.chip(c, tz))));
  }

  async function refresh() {
    clearTimeout(timer);
    const slugs = siteSlugs();
    const lines = [];
    let failed = null;
    for (const slug of slugs) {
      try {
        const rounds = P.items(await S.api(P.siteUrl(slug, "rounds/live")), "rounds");
        for (const r of rounds) lines.push(line(slug, r, slugs.length > 1));
      } catch (err) {
        failed = err;
      }
    }
    const list = S.el("ol", { class: "patrol-rounds" }, ...lines);
    const note = lines.length ? null : S.el("p", { class: "patrol-none",
      text: failed ? failed.message : S.t("当前没有进行中的巡更", "No rounds in progress") });
    panel.replaceChildren(S.el("h2", { text: S.t("巡更进行中", "Patrol rounds in progress") }),
                          ...(note ? [note] : [list]));
    panel.hidden = false;
    timer = setTimeout(refresh, REFRESH_MS);
  }

  S.ready.then((me) => {
    if (!me || !(me.permissions || []).includes("patrol.read")) return;
    S.onSite((slug) => {
      site = slug || "";
      refresh();
    });
  });
})();
