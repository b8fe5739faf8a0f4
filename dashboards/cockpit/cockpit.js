/* 驾驶舱页面 / the cockpit page's frame: which view (company at /cockpit, a site at
 * /cockpit/sites/{site}), the header's clock in the shown site's zone, the live line and the
 * "重新连接中" badge, and the rotation: ?rotate=N turns through the company and each site
 * every N seconds (?sites=a,b limits the sites). A turn ends the old view completely (its
 * socket, charts and timers) before the next starts. */
(function () {
  "use strict";
  const C = window.Cockpit;
  const $ = (id) => document.getElementById(id);
  const root = $("ck-view");
  const params = new URLSearchParams(location.search);
  const rotate = Number.parseInt(params.get("rotate") || "", 10);
  const only = (params.get("sites") || "").split(",").map((s) => s.trim()).filter(Boolean);
  const here = /^\/cockpit\/sites\/([^/]+)\/?$/.exec(location.pathname);

  let view = null;
  let current = here ? decodeURIComponent(here[1]) : "";  // "" = the company
  let zone = null;
  let known = only.slice();

  if (!C.charts_available()) $("ck-charts-missing").hidden = false;
  // The shell's frame is out of sight on the wall; its language switch and a login's log-out
  // (the shell shows it for a person, not for a kiosk) join the header.
  for (const id of ["cy-lang", "cy-logout"]) {
    const button = $(id);
    if (button) $("ck-clock").before(button);
  }

  const screen = {
    title(text) { $("ck-title").textContent = text; document.title = `${text} · Courtyard`; },
    zone(tz) { zone = tz; tickClock(); },
    badge(up) { $("ck-badge").hidden = !!up; },
    error(text) { const e = $("ck-error"); e.textContent = text || ""; e.hidden = !text; },
    liveLine(item, tz) {
      const line = $("ck-live-line");
      const at = C.clock(Date.parse(item.ts), tz || zone || "Asia/Shanghai")[0];
      line.replaceChildren(C.t("实时 ", "Live "), C.el("b", { text: at }),
                           ` ${item.place ? `${item.place} · ` : ""}${C.t(item.title_zh, item.title_en)}`);
    },
  };

  function tickClock() {
    const tz = zone || (window.Shell && window.Shell.zone()) || "Asia/Shanghai";
    const [time, date] = C.clock(Date.now(), tz);
    $("ck-time").textContent = time;
    $("ck-date").textContent = date;
    if (view) view.second();
  }

  function back(me) {
    const link = $("ck-back");
    if (current) {
      link.href = `/cockpit${location.search}`;
      link.textContent = C.t("← 全部小区", "← All sites");
      link.hidden = false;
    } else if (me && me.kind === "user" && me.home && me.home !== "/cockpit") {
      link.href = me.home;
      link.textContent = C.t("← 控制台", "← Console");
      link.hidden = false;
    } else link.hidden = true;
  }

  function show(slug) {
    if (view) view.destroy();
    current = slug;
    zone = null;
    $("ck-live-line").replaceChildren();
    screen.badge(true);
    view = slug ? window.CockpitSite(root, slug, screen) : window.CockpitCompany(root, screen);
    window.Shell.ready.then(back);
    if (!slug && view.ready) {
      view.ready.then(() => { if (!only.length && view && view.slugs) known = view.slugs(); });
    }
  }

  function turn() {
    const order = ["", ...known];
    const at = order.indexOf(current);
    show(order[(at + 1) % order.length]);
  }

  window.Shell.ready.then((me) => {
    if (!me) return;
    show(current);
    if (Number.isFinite(rotate) && rotate > 0) {
      if (!known.length) {
        window.Shell.api("/api/cockpit/company")
          .then((d) => { if (!known.length) known = (d.sites || []).map((s) => s.slug); })
          .catch(() => null);
      }
      setInterval(turn, Math.max(5, rotate) * 1000);
    }
  });
  setInterval(tickClock, 1000);
  tickClock();

  /* For the browser tests: the shown view and its number of chart instances. */
  window.CockpitPage = { current: () => current, charts: () => (view ? view.charts() : 0) };
})();
