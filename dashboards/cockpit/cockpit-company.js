/* 公司大屏 / the company view: one tile per site the viewer serves, ranked by attention (the
 * server's order: critical alarms, offline edges, overdue orders first): edge online or not,
 * open alarms by severity, overdue work orders, the oldest buffered event's age. A tile opens
 * the site's view. Live: the `company` messages of /api/cockpit/ws (no site). */
(function () {
  "use strict";
  const C = window.Cockpit;

  function columns(n) {
    if (n <= 1) return 1;
    if (n <= 4) return 2;
    if (n <= 6) return 3;
    if (n <= 12) return 4;
    if (n <= 20) return 5;
    return Math.ceil(Math.sqrt(n * 1.9));
  }

  window.CockpitCompany = function (root, screen) {
    const totals = C.el("div", { class: "ck-totals" });
    const tiles = C.el("div", { class: "ck-tiles" });
    root.replaceChildren(totals, tiles);
    let live = null;
    let gone = false;
    let sites = [];

    function tile(s) {
      const a = s.alarms_open || {};
      const down = !s.online || s.edge_stale;
      return C.el("a", { class: `ck-tile${a.critical || !s.online ? " hot" : s.attention > 0 ? " warm" : ""}`,
                         href: `/cockpit/sites/${encodeURIComponent(s.slug)}`, "data-site": s.slug },
        C.el("h2", {}, C.el("span", { class: `ck-dot${down ? " off" : ""}` }), C.el("span", { text: s.name })),
        C.el("div", { class: "ck-kpis" },
             C.kpi(C.num(a.critical), "紧急", "Critical", "critical"),
             C.kpi(C.num(a.major), "重要", "Major", "major"),
             C.kpi(C.num(a.minor), "一般", "Minor", "minor")),
        C.el("div", { class: "ck-line" }, C.t("边缘 ", "Edge "),
             C.el("b", { class: down ? "ck-bad" : "ck-ok",
                         text: !s.online ? C.t("离线", "offline") : s.edge_stale ? C.t("上报延迟", "late") : C.t("在线", "online") }),
             C.t(" · 超时工单 ", " · overdue "), C.el("b", { class: s.workorders_overdue ? "ck-warn" : null, text: C.num(s.workorders_overdue) }),
             C.t(" · 缓存最早 ", " · oldest buffered "), C.el("b", { text: C.age(s.oldest_age_s) })));
    }

    function render(data) {
      if (!data || !Array.isArray(data.sites)) return;
      sites = data.sites.slice().sort((x, y) => (y.attention || 0) - (x.attention || 0));
      const sum = (f) => sites.reduce((n, s) => n + Number(f(s) || 0), 0);
      totals.replaceChildren(
        C.kpi(`${C.num(sum((s) => s.online && !s.edge_stale))}/${C.num(sites.length)}`, "小区在线", "Sites online", "ok"),
        C.kpi(C.num(sum((s) => (s.alarms_open || {}).critical)), "紧急告警", "Critical alarms", "critical"),
        C.kpi(C.num(sum((s) => (s.alarms_open || {}).major)), "重要告警", "Major alarms", "major"),
        C.kpi(C.num(sum((s) => (s.alarms_open || {}).minor)), "一般告警", "Minor alarms", "minor"),
        C.kpi(C.num(sum((s) => s.workorders_overdue)), "超时工单", "Overdue orders"));
      const cols = columns(sites.length);
      const rows = Math.max(1, Math.ceil(sites.length / cols));
      const height = root.clientHeight - totals.offsetHeight - 16;
      tiles.style.gridTemplateColumns = `repeat(${cols}, minmax(0, 1fr))`;
      const row = Math.floor((height - 16 * (rows - 1)) / rows);
      tiles.style.gridAutoRows = `${Math.max(60, Math.min(300, row))}px`;
      tiles.style.height = `${height}px`;
      tiles.classList.toggle("small", rows > 3);
      tiles.replaceChildren(...sites.map(tile));
      if (!sites.length) tiles.replaceChildren(C.el("div", { class: "ck-empty", text: C.t("暂无数据", "no data") }));
    }

    function message(m) {
      if ((m.type === "snapshot" && m.view === "company") || m.type === "company") render(m.data);
    }

    const ready = (async () => {
      screen.title(C.t("运营驾驶舱 · 全部小区", "Operations cockpit · all sites"));
      try {
        const data = await window.Shell.api("/api/cockpit/company");
        if (gone) return;
        render(data);
        screen.error("");
      } catch (e) {
        if (!gone) screen.error(e.message);
      }
      if (gone) return;
      live = window.CockpitLive.connect({
        site: "", onMessage: message, onState: screen.badge,
        onRefused: () => { window.Shell.api("/api/me").catch(() => null); },
      });
    })();

    return {
      ready,
      slugs: () => sites.map((s) => s.slug),
      second() {},
      destroy() {
        gone = true;
        if (live) live.close();
        root.replaceChildren();
      },
      charts: () => 0,
    };
  };
})();
