/* 工单页面共用 / shared by the work-order pages (loaded after the shell): the transition table
   the console writes into <meta name="courtyard-table">, a card of an order, SLA text in the
   site's time, and one way to run an action — its button disabled until the answer comes, the
   refusal kept next to it across refreshes. Codes reach the screen through Shell.label only. */
"use strict";

const WO = (() => {
  const table = JSON.parse(document.querySelector('meta[name="courtyard-table"]').content);
  const ENDED = ["completed", "closed", "cancelled"];
  /** Refusals by order id, kept until the next action on that order. */
  const errors = {};
  /** Orders with an action in flight: their buttons stay disabled through redraws. */
  const busy = new Set();

  /** Actions the table allows from `state`, in table order. */
  function allowed(state) {
    return Object.keys(table.actions).filter((a) => table.actions[a].sources.includes(state));
  }

  const needsNote = (action) => Boolean(table.actions[action] && table.actions[action].note_required);
  const stateLabel = (s) => Shell.label("workorder_state", s);
  const actionLabel = (a) => Shell.label("workorder_action", a);

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function siteName(slug) {
    const me = Shell.me();
    const s = me && (me.site_list || []).find((x) => x.slug === slug);
    return s ? s.name : slug;
  }

  /** The deadline that is running: response until someone answers, then resolution. */
  function due(order) {
    if (ENDED.includes(order.state)) return null;
    return order.responded_at
      ? { at: order.resolve_due, zh: "完成", en: "resolve" }
      : { at: order.response_due, zh: "响应", en: "respond" };
  }

  function overdue(order, now) {
    const d = due(order);
    return Boolean(d && Date.parse(d.at) <= now);
  }

  function late(order, now) {
    return overdue(order, now) || (!ENDED.includes(order.state)
      && (order.response_breached || order.resolve_breached));
  }

  function span(ms) {
    const m = Math.floor(Math.abs(ms) / 60000);
    const d = Math.floor(m / 1440);
    const h = Math.floor((m % 1440) / 60);
    const mm = String(m % 60).padStart(2, "0");
    return d ? Shell.t(`${d}天${h}小时`, `${d}d ${h}h`) : Shell.t(`${h}小时${mm}分`, `${h}h ${mm}m`);
  }

  /** "响应剩余 1小时05分 · 截止 2026-12-07 12:00" in the order's site time. */
  function slaText(order, now) {
    const d = due(order);
    if (!d) return "";
    const left = Date.parse(d.at) - now;
    const s = span(left);
    const head = left > 0
      ? Shell.t(`${d.zh}剩余 ${s}`, `${s} left to ${d.en}`)
      : Shell.t(`${d.zh}已超时 ${s}`, `${d.en} overdue by ${s}`);
    return `${head} · ${Shell.t("截止", "due")} ${Shell.time(d.at, Shell.zone(order.site))}`;
  }

  /** The common part of a card: priority, category, state, repeats, title, place, SLA. */
  function card(o, now, tag) {
    const li = el(tag || "li", "order");
    li.dataset.id = o.id;
    li.dataset.priority = o.priority;
    li.dataset.state = o.state;
    const isLate = late(o, now);
    li.classList.toggle("overdue", isLate);
    const head = el("div", "head");
    head.append(el("span", "prio", Shell.label("priority", o.priority)),
      el("span", "cat", Shell.label("category", o.category)),
      el("span", "state", stateLabel(o.state)));
    if (o.count > 1) head.append(el("span", "count", `×${o.count}`));
    if (isLate) head.append(el("span", "late", Shell.t("已超时", "Overdue")));
    const title = o.title.zh === o.title.en ? o.title.zh : Shell.t(o.title.zh, o.title.en);
    li.append(head, el("h3", "title", title));
    const where = [o.number || `#${o.id}`, siteName(o.site), o.source.device,
      o.source.requested_by].filter(Boolean).join(" · ");
    li.append(el("div", "place", where));
    if (o.description && o.description !== o.title.zh) li.append(el("p", "desc", o.description));
    const sla = el("div", "sla", slaText(o, now));
    sla.classList.toggle("breached", isLate);
    if (sla.textContent) li.append(sla);
    return li;
  }

  function button(action, cls, text) {
    const b = el("button", `act ${action}${cls ? ` ${cls}` : ""}`, text || actionLabel(action));
    b.type = "button";
    b.dataset.action = action;
    return b;
  }

  /** The refusal line of a card (hidden when there is none). */
  function errorLine(id) {
    const msg = errors[id];
    const box = el("div", "error", msg || "");
    box.setAttribute("role", "alert");
    box.hidden = !msg;
    return box;
  }

  /** After a redraw: buttons of an order with an action in flight stay disabled. */
  function holdBusy(root) {
    for (const li of root.querySelectorAll("li.order")) {
      if (!busy.has(li.dataset.id)) continue;
      for (const b of li.querySelectorAll("button")) b.disabled = true;
    }
  }

  /** POST the action and run `then(order)` (the page's refresh) before the buttons come
      back; the order after it, or null with the refusal shown on its card. */
  async function act(li, action, body, then) {
    const id = li.dataset.id;
    if (busy.has(id)) return null;  // a second click while the first is on its way
    busy.add(id);
    for (const b of li.querySelectorAll("button")) b.disabled = true;
    delete errors[id];
    const line = li.querySelector(".error");
    if (line) line.hidden = true;
    let order;
    try {
      order = await Shell.api(`/api/workorders/${id}/${action}`, { method: "POST", json: body || {} });
    } catch (err) {
      // A refusal naming one of the card's inputs says which, and marks it.
      const input = err.field && err.field !== "note"
        && li.querySelector(`.ask [name="${err.field}"]`);
      if (input) input.setAttribute("aria-invalid", "true");
      errors[id] = input ? `${input.getAttribute("aria-label")}${Shell.t("：", ": ")}${err.message}`
        : err.message;
      // The card may have been redrawn meanwhile: show it on whichever is on the page now.
      const now = document.querySelector(`li.order[data-id="${id}"] .error`) || line;
      if (now) { now.textContent = errors[id]; now.hidden = false; }
      release(id);
      return null;
    }
    try {
      if (then) await then(order);
    } finally {
      release(id);
    }
    return order;
  }

  function release(id) {
    busy.delete(id);
    for (const b of document.querySelectorAll(`li.order[data-id="${id}"] button`)) b.disabled = false;
  }

  /** "WO-20261207-000012：已派单" — the answer of an action, for the page's status line. */
  function answer(order) {
    return `${order.number || `#${order.id}`}${Shell.t("：", ": ")}${stateLabel(order.state)}`;
  }

  /** Keep what was typed in a container's inputs across a redraw (by order id and name). */
  function keepTyped(root, redraw) {
    const typed = {};
    for (const input of root.querySelectorAll("li.order [name]")) {
      typed[`${input.closest("li.order").dataset.id}:${input.name}`] = input.value;
    }
    redraw();
    for (const input of root.querySelectorAll("li.order [name]")) {
      const v = typed[`${input.closest("li.order").dataset.id}:${input.name}`];
      if (v !== undefined && input.tagName !== "SELECT") input.value = v;
      else if (v !== undefined && [...input.options].some((o) => o.value === v)) input.value = v;
    }
  }

  /** Whether someone is typing or choosing in `root` (a poll must not redraw under them). */
  function inUse(root) {
    const a = document.activeElement;
    return Boolean(a && root.contains(a) && a.matches("input, select, textarea"));
  }

  return {
    table, allowed, needsNote, stateLabel, actionLabel, el, siteName, due, overdue, late,
    slaText, card, button, errorLine, holdBusy, act, answer, keepTyped, inUse, errors,
    REFRESH_MS: 10000,
  };
})();
