/* 主管工单看板 / the supervisor's board: a column per state with counts, overdue highlighted,
   each technician's load, assigning a pooled order (or transferring one) from a select.
   Polls every 10 s and after each action. */
"use strict";

(() => {
  const COLUMNS = ["pool", "assigned", "accepted", "in_progress", "paused", "completed"];
  const BUSY = ["assigned", "accepted", "in_progress", "paused"];
  const $ = (id) => document.getElementById(id);
  const state = { orders: [], techs: [] };

  function showError(msg) {
    $("error").textContent = msg || "";
    $("error").hidden = !msg;
  }

  async function loadSites() {
    const sites = (await WO.api("GET", "/api/sites")).sites;
    for (const s of sites) {
      const opt = WO.el("option", "", `${s.name || s.slug} (${s.slug})`);
      opt.value = s.slug;
      $("site").append(opt);
    }
    $("site").value = new URLSearchParams(location.search).get("site") || "";
  }

  async function load() {
    const site = $("site").value;
    try {
      const q = `state=${COLUMNS}&limit=1000${site ? `&site=${encodeURIComponent(site)}` : ""}`;
      state.orders = (await WO.api("GET", `/api/workorders?${q}`)).workorders;
      state.techs = (await WO.api("GET", "/api/technicians")).technicians
        .filter((t) => t.active);
      showError("");
    } catch (err) {
      showError(`加载失败 / could not load: ${err.message}`);
    }
    render();
  }

  function techName(id) {
    const t = state.techs.find((x) => x.id === id);
    return t ? t.name : `#${id}`;
  }

  function picker(o) {
    const sel = WO.el("select", "tech");
    sel.setAttribute("aria-label", "技工 / technician");
    sel.append(Object.assign(WO.el("option", "", "选择技工 / technician"), { value: "" }));
    for (const t of state.techs) {
      if (t.sites.length && !t.sites.includes(o.site)) continue;
      if (o.assignee_ids.includes(t.id)) continue;
      const opt = WO.el("option", "", `${t.name}${t.on_duty ? " ●" : ""}`);
      opt.value = String(t.id);
      sel.append(opt);
    }
    return sel;
  }

  function card(o, now) {
    const li = WO.el("li", "order");
    li.dataset.id = o.id;
    li.dataset.priority = o.priority;
    const late = WO.overdue(o, now) || o.response_breached || o.resolve_breached;
    li.classList.toggle("overdue", late);
    const head = WO.el("div", "head");
    head.append(WO.el("span", "prio", WO.PRIORITY[o.priority] || o.priority),
      WO.el("span", "cat", WO.categoryLabel(o.category)));
    if (o.count > 1) head.append(WO.el("span", "count", `×${o.count}`));
    li.append(head, WO.el("h3", "title", o.title.zh));
    li.append(WO.el("div", "place", `${o.number || `#${o.id}`} · ${o.site}`
      + (o.source.device ? ` · ${o.source.device}` : "")));
    if (o.assignee_ids.length) {
      li.append(WO.el("div", "assignees", `技工 / by ${o.assignee_ids.map(techName).join("、")}`));
    }
    const sla = WO.el("div", "sla", WO.slaText(o, now));
    sla.classList.toggle("breached", late);
    li.append(sla);
    const action = o.state === "pool" ? "assign"
      : WO.allowed(o.state).includes("transfer") ? "transfer" : null;
    if (action) {
      const box = WO.el("div", "actions");
      const b = WO.el("button", `act ${action}`, WO.actionLabel(action));
      b.type = "button";
      b.dataset.action = action;
      box.append(picker(o), b);
      li.append(box, Object.assign(WO.el("div", "error"), { hidden: true }));
    }
    return li;
  }

  function render() {
    const now = Date.now();
    const cols = COLUMNS.map((st) => {
      const orders = state.orders.filter((o) => o.state === st);
      const col = WO.el("section", "column");
      col.dataset.state = st;
      const h = WO.el("h2", "", WO.stateLabel(st));
      h.append(" ", WO.el("b", "n", String(orders.length)));
      const ol = WO.el("ol", "orders");
      ol.append(...orders.map((o) => card(o, now)));
      col.append(h, ol);
      return col;
    });
    $("columns").replaceChildren(...cols);
    $("n-overdue").textContent = String(
      state.orders.filter((o) => WO.overdue(o, now)).length);
    const load = state.techs.map((t) => {
      const n = state.orders.filter((o) => BUSY.includes(o.state) && o.assignee_ids.includes(t.id))
        .length;
      const li = WO.el("li", t.on_duty ? "tech on-duty" : "tech");
      li.dataset.tech = t.id;
      li.append(WO.el("span", "name", t.name), " ", WO.el("b", "n", String(n)));
      return li;
    });
    $("load").replaceChildren(...load);
  }

  async function act(li, action) {
    const err = li.querySelector(".error");
    const tech = Number(li.querySelector("select.tech").value);
    const fail = (msg) => { err.textContent = msg; err.hidden = false; };
    if (!tech) return fail("请选择技工 / choose a technician");
    try {
      await WO.api("POST", `/api/workorders/${li.dataset.id}/${action}`,
        { assignee_ids: [tech] });  // who dispatches is the login, not a field
    } catch (e) {
      return fail(e.message);
    }
    await load();
  }

  $("site").addEventListener("change", load);
  $("columns").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-action]");
    if (b) act(b.closest("li.order"), b.dataset.action);
  });
  loadSites().catch((err) => showError(`站点加载失败 / could not load sites: ${err.message}`))
    .then(load);
  setInterval(() => {
    // Not while the supervisor is choosing a technician: a redraw would close the select.
    if (!(document.activeElement && document.activeElement.matches("select.tech"))) load();
  }, WO.REFRESH_MS);
})();
