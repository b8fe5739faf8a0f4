/* 技工工单列表 / the technician's list: 我的 Mine (sorted by the SLA due), 待抢单 Pool and
   已超时 Overdue; polls every 10 s and after each action. */
"use strict";

(() => {
  const TECH_ACTIONS = ["grab", "accept", "start", "pause", "resume", "complete"];
  const NOTE_ACTIONS = ["pause", "complete"];
  const OPEN = ["assigned", "accepted", "in_progress", "paused"];
  // Whose list: a technician login sees its own (the technician record of its name; the
  // address cannot make it someone else); a supervisor may look at anyone's with ?tech=<id>.
  const asked = Number(new URLSearchParams(location.search).get("tech"));
  let techId = 0;
  const state = { tab: "mine", tech: null, lists: { mine: [], pool: [], overdue: [] }, errors: {} };
  const $ = (id) => document.getElementById(id);

  function showError(msg) {
    $("error").textContent = msg || "";
    $("error").hidden = !msg;
  }

  function dueMs(o) {
    const d = WO.due(o);
    return d ? Date.parse(d.at) : Infinity;
  }

  async function load() {
    try {
      if (!state.tech) {
        const me = await WO.api("GET", "/api/me");
        const techs = (await WO.api("GET", "/api/technicians")).technicians;
        const own = me.role === "technician" || !(Number.isInteger(asked) && asked > 0);
        state.tech = (own ? techs.find((t) => t.name === me.name)
          : techs.find((t) => t.id === asked)) || null;
        if (!state.tech) {
          throw new Error(own
            ? `当前登录（${me.name}）没有对应的技工档案 / your login has no technician record`
            : `技工 ${asked} 不存在 / no technician ${asked}`);
        }
        techId = state.tech.id;
        $("who").textContent = state.tech.name;
      }
      const mySites = state.tech.sites;
      const mine = (await WO.api("GET", `/api/workorders?assignee=${techId}&state=${OPEN}&limit=1000`)).workorders;
      const pool = (await WO.api("GET", "/api/workorders?state=pool&limit=1000")).workorders
        .filter((o) => !mySites.length || mySites.includes(o.site));
      const late = (await WO.api("GET", "/api/workorders?overdue=1&limit=1000")).workorders
        .filter((o) => o.assignee_ids.includes(techId)
          || (o.state === "pool" && (!mySites.length || mySites.includes(o.site))));
      const bySla = (a, b) => dueMs(a) - dueMs(b);
      state.lists = { mine: mine.sort(bySla), pool: pool.sort(bySla), overdue: late.sort(bySla) };
      showError("");
    } catch (err) {
      showError(`加载失败 / could not load: ${err.message}`);
    }
    render();
  }

  function card(o, now) {
    const li = WO.el("li", "order");
    li.dataset.id = o.id;
    li.dataset.priority = o.priority;
    li.dataset.state = o.state;
    const late = WO.overdue(o, now) || o.response_breached || o.resolve_breached;
    li.classList.toggle("overdue", late);
    const head = WO.el("div", "head");
    head.append(WO.el("span", "prio", WO.PRIORITY[o.priority] || o.priority),
      WO.el("span", "cat", WO.categoryLabel(o.category)),
      WO.el("span", "state", WO.stateLabel(o.state)));
    if (o.count > 1) head.append(WO.el("span", "count", `×${o.count}`));
    li.append(head, WO.el("h2", "title", o.title.zh === o.title.en ? o.title.zh
      : `${o.title.zh} ${o.title.en}`));
    const where = [o.site, o.source.device, o.source.requested_by].filter(Boolean).join(" · ");
    li.append(WO.el("div", "place", `${o.number || `#${o.id}`} · ${where}`));
    const sla = WO.el("div", "sla", WO.slaText(o, now));
    sla.classList.toggle("breached", late);
    li.append(sla);
    const actions = WO.allowed(o.state).filter((a) => TECH_ACTIONS.includes(a));
    const box = WO.el("div", "actions");
    if (actions.some((a) => NOTE_ACTIONS.includes(a))) {
      const note = WO.el("input", "note");
      note.type = "text";
      note.maxLength = 2000;
      note.placeholder = "说明（暂停必填）/ note (required to pause)";
      note.setAttribute("aria-label", "说明 / note");
      box.append(note);
    }
    for (const a of actions) {
      const b = WO.el("button", `act ${a}`, WO.actionLabel(a));
      b.type = "button";
      b.dataset.action = a;
      box.append(b);
    }
    // A refusal stays on its card until the next action on it, refreshes notwithstanding.
    const err = state.errors[o.id];
    li.append(box, Object.assign(WO.el("div", "error", err || ""), { hidden: !err }));
    return li;
  }

  function render() {
    const now = Date.now();
    const notes = {};
    for (const input of document.querySelectorAll("li.order input.note")) {
      notes[input.closest("li").dataset.id] = input.value;
    }
    for (const tab of ["mine", "pool", "overdue"]) {
      $(`n-${tab}`).textContent = String(state.lists[tab].length);
      $(`tab-${tab}`).setAttribute("aria-selected", String(tab === state.tab));
    }
    $("n-overdue").classList.toggle("alert", state.lists.overdue.length > 0);
    const list = state.lists[state.tab];
    $("orders").replaceChildren(...list.map((o) => card(o, now)));
    for (const input of document.querySelectorAll("li.order input.note")) {
      input.value = notes[input.closest("li").dataset.id] || "";
    }
    $("empty").hidden = list.length > 0;
  }

  async function act(li, action) {
    const err = li.querySelector(".error");
    delete state.errors[li.dataset.id];
    const noteInput = li.querySelector("input.note");
    const note = noteInput && NOTE_ACTIONS.includes(action) ? noteInput.value.trim() : "";
    const body = {};  // who acts, and as what, is the login: the console derives it
    if (note) body.note = note;
    if (action === "grab") body.technician_id = techId;
    try {
      await WO.api("POST", `/api/workorders/${li.dataset.id}/${action}`, body);
      if (noteInput) noteInput.value = "";
    } catch (e) {
      state.errors[li.dataset.id] = e.message;
      err.textContent = e.message;
      err.hidden = false;
      return;
    }
    await load();
  }

  document.querySelector(".tabs").addEventListener("click", (ev) => {
    const tab = ev.target.closest("[data-tab]");
    if (!tab) return;
    state.tab = tab.dataset.tab;
    render();
  });
  $("orders").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-action]");
    if (b && state.tech) act(b.closest("li.order"), b.dataset.action);
  });
  load();
  setInterval(() => {
    // Not while a note is being typed: a redraw would take the keyboard away.
    if (!(document.activeElement && document.activeElement.matches("input.note"))) load();
  }, WO.REFRESH_MS);
})();
