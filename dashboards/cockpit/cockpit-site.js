/* 小区大屏 / the site view: every panel of GET /api/cockpit/sites/{site} in the server's order,
 * each drawn by its renderer (panel-*.js) or, for a name the page does not know, as a plain
 * table; then live: a snapshot on every (re)connect, changed panels as they come, ticks at
 * once. A panel with nothing to show says so instead of drawing zeros.
 *
 *   const view = CockpitSite(root, slug, screen); view.destroy();
 *   screen: {title(text), zone(tz), liveLine(item, tz), badge(up), error(text)}
 */
(function () {
  "use strict";
  const C = window.Cockpit;

  window.CockpitSite = function (root, slug, screen) {
    const charts = C.Charts();
    const grid = C.el("div", { class: "ck-grid" });
    root.replaceChildren(grid);
    const panels = new Map();  // name → {frame, box, empty, handle}
    let skew = 0;
    let tz = "Asia/Shanghai";
    let live = null;
    let gone = false;
    const ctx = { charts, now: () => Date.now() + skew, tz: () => tz };

    function frame(name) {
      let f = panels.get(name);
      if (f) return f;
      const title = C.el("h2", {}, C.el("span", { class: "ck-zh" }), C.el("span", { class: "ck-en" }));
      const box = C.el("div", { class: "ck-body-box" });
      const empty = C.el("div", { class: "ck-empty", hidden: true });
      const section = C.el("section", { class: "ck-panel", "data-panel": name }, title, box, empty);
      grid.append(section);
      f = { section, title, box, empty, handle: null };
      panels.set(name, f);
      return f;
    }

    function apply(name, p) {
      if (!p || typeof p !== "object") return;
      const f = frame(name);
      f.title.firstChild.textContent = p.title_zh || name;
      f.title.lastChild.textContent = p.title_en || "";
      const empty = !!p.empty;
      f.box.hidden = empty;
      f.empty.hidden = !empty;
      f.section.classList.toggle("is-empty", empty);
      if (empty) {
        f.empty.textContent = p.error ? C.t("数据暂不可用", "data unavailable") : C.t("暂无数据", "no data");
        return;
      }
      if (!f.handle) f.handle = C.renderer(name)(f.box, ctx);
      f.handle.update(p);
    }

    function snapshot(data) {
      if (!data || !data.site) return;
      skew = Date.parse(data.now) - Date.now() || 0;
      tz = data.site.timezone || tz;
      screen.title(`${data.site.name} · ${C.t("运营驾驶舱", "Operations cockpit")}`);
      screen.zone(tz);
      const order = data.order || Object.keys(data.panels || {});
      for (const name of order) apply(name, (data.panels || {})[name]);
      for (const [name, p] of Object.entries(data.panels || {})) if (!order.includes(name)) apply(name, p);
    }

    function message(m) {
      if (m.type === "snapshot" && m.view === "site") snapshot(m.data);
      else if (m.type === "panels" && (!m.site || m.site === slug)) {
        for (const [name, p] of Object.entries(m.panels || {})) apply(name, p);
      } else if (m.type === "tick" && m.item && (!m.site || m.site === slug)) {
        const alarms = panels.get("alarms");
        if (alarms && !alarms.handle && ["critical", "major", "minor"].includes(m.item.severity)) {
          // The first alarm of a quiet day: show it now, the panel update fills in the counts.
          alarms.handle = C.renderer("alarms")(alarms.box, ctx);
          alarms.box.hidden = false;
          alarms.empty.hidden = true;
          alarms.section.classList.remove("is-empty");
        }
        if (alarms && alarms.handle && alarms.handle.tick) alarms.handle.tick(m.item);
        screen.liveLine(m.item, tz);
      }
    }

    (async () => {
      try {
        const data = await window.Shell.api(`/api/cockpit/sites/${encodeURIComponent(slug)}`);
        if (gone) return;
        snapshot(data);
        screen.error("");
      } catch (e) {
        if (!gone) screen.error(e.message);
      }
      if (gone) return;
      live = window.CockpitLive.connect({
        site: slug, onMessage: message, onState: screen.badge,
        onRefused: () => { window.Shell.api("/api/me").catch(() => null); },
      });
    })();

    return {
      second() {
        for (const f of panels.values()) if (f.handle && f.handle.second) f.handle.second();
      },
      destroy() {
        gone = true;
        if (live) live.close();
        for (const f of panels.values()) if (f.handle && f.handle.destroy) f.handle.destroy();
        charts.dispose();
        panels.clear();
        root.replaceChildren();
      },
      charts: () => charts.count(),
    };
  };
})();
