/* 概览 / overview: the shell's 小区 switcher shows one community or all; each community's card
 * adds what waits for people (open alarms, open and overdue work orders) from the API, for the
 * roles that may read them. */
"use strict";
(function () {
  const OPEN_ALARMS = "open,acknowledged,in_progress";
  const OPEN_ORDERS = "pool,assigned,accepted,in_progress,paused";

  Shell.onSite((slug) => {
    for (const section of document.querySelectorAll(".site[data-site-slug]")) {
      section.hidden = Boolean(slug) && section.dataset.siteSlug !== slug;
    }
  });

  function fact(zh, en, value, href, bad) {
    const link = Shell.el("a", { href, class: bad ? "off" : null }, String(value));
    return Shell.el("span", { class: "todo" }, `${Shell.t(zh, en)} `, link);
  }

  async function waiting(section, me) {
    const site = section.dataset.siteSlug;
    const q = encodeURIComponent(site);
    const line = Shell.el("p", { class: "facts waiting" });
    const can = new Set(me.permissions || []);
    try {
      if (can.has("alarms.read")) {
        const a = await Shell.api(`/api/alarms?site=${q}&state=${OPEN_ALARMS}&limit=1000`);
        line.append(fact("未处理报警", "Open alarms", a.alarms.length, `/guard?site=${q}`,
                         a.alarms.length > 0));
      }
      if (can.has("workorders.read")) {
        const w = await Shell.api(`/api/workorders?site=${q}&state=${OPEN_ORDERS}&limit=1000`);
        const late = await Shell.api(`/api/workorders?site=${q}&overdue=1&limit=1000`);
        line.append(fact("未完成工单", "Open work orders", w.workorders.length,
                         `/workorders/board?site=${q}`, false));
        line.append(fact("已超时", "Overdue", late.workorders.length,
                         `/workorders/board?site=${q}`, late.workorders.length > 0));
      }
    } catch (err) {
      line.append(Shell.el("span", { class: "off" }, err.message));
    }
    if (line.childNodes.length) section.querySelector(".facts").after(line);
  }

  Shell.ready.then((me) => {
    if (!me) return;
    for (const section of document.querySelectorAll(".site[data-site-slug]")) waiting(section, me);
  });
})();
