/* 主管工单看板 / the supervisor's board: a column per state with counts (the last column the
   most recent closed and cancelled orders), overdue marked, each technician's load, and the
   supervisor's steps on a card: assign or transfer to a technician, close, reopen, cancel.
   A step the lifecycle table says needs a note asks for one on the card first; the answer
   (the new state) shows at the top, a refusal under the card's buttons. Polls every 10 s. */
"use strict";

(() => {
  const COLUMNS = [["pool"], ["assigned"], ["accepted"], ["in_progress"], ["paused"],
    ["completed"], ["closed", "cancelled"]];
  const LIVE = COLUMNS.slice(0, -1).flat();
  const ENDED_SHOWN = 20;
  const BUSY = ["assigned", "accepted", "in_progress", "paused"];
  /** The supervisor's steps, in the order a card shows them. */
  const STEPS = ["assign", "transfer", "close", "reopen", "cancel"];
  const PICKS_TECH = ["assign", "transfer"];
  const $ = (id) => document.getElementById(id);
  const state = { site: "", orders: [], ended: [], techs: [], asking: {} };

  function showError(msg) {
    $("error").textContent = msg || "";
    $("error").hidden = !msg;
  }

  function notice(text) {
    $("notice").textContent = text;
    $("notice").hidden = !text;
  }

  let loads = 0;  // a load answered after a newer one began (another 小区 chosen) is dropped

  async function load() {
    const q = state.site ? `&site=${encodeURIComponent(state.site)}` : "";
    const mine = ++loads;
    try {
      const [live, ended, techs] = await Promise.all([
        Shell.api(`/api/workorders?state=${LIVE}&limit=1000${q}`),
        Shell.api(`/api/workorders?state=closed,cancelled&limit=${ENDED_SHOWN}${q}`),
        Shell.api("/api/technicians")]);
      if (mine !== loads) return;
      state.orders = live.workorders;
      state.ended = ended.workorders;
      state.techs = techs.technicians.filter((t) => t.active
        && (!state.site || t.sites.includes(state.site)));
      showError("");
    } catch (err) {
      if (mine !== loads) return;
      showError(`${Shell.t("加载失败", "Could not load")}: ${err.message}`);
    }
    WO.keepTyped($("columns"), render);
  }

  function techName(id) {
    const t = state.techs.find((x) => x.id === id);
    return t ? t.name : `#${id}`;
  }

  function picker(o) {
    const sel = WO.el("select", "tech");
    sel.name = "tech";
    sel.setAttribute("aria-label", Shell.t("技工", "Technician"));
    sel.append(Object.assign(WO.el("option", "", Shell.t("选择技工", "Choose a technician")),
      { value: "" }));
    for (const t of state.techs) {
      if (!t.sites.includes(o.site) || o.assignee_ids.includes(t.id)) continue;
      let text = t.name;
      if (t.on_duty) text += Shell.t("（在岗）", " (on duty)");
      if (o.skill && !t.skills.includes(o.skill)) text += Shell.t("（无此技能）", " (lacks the skill)");
      sel.append(Object.assign(WO.el("option", "", text), { value: String(t.id) }));
    }
    return sel;
  }

  /** The note a step needs, asked on the card, with its confirm and back buttons. */
  function askNote(action) {
    const box = WO.el("div", "ask");
    const note = WO.el("input", "note");
    note.name = "note";
    note.maxLength = 2000;
    note.placeholder = Shell.t(`${WO.actionLabel(action)}说明（必填）`,
      `Why ${WO.actionLabel(action).toLowerCase()} (required)`);
    note.setAttribute("aria-label", note.placeholder);
    const ok = WO.button(action, "confirm", Shell.t(`确认${WO.actionLabel(action)}`,
      `Confirm: ${WO.actionLabel(action)}`));
    ok.dataset.confirm = "1";
    const back = WO.el("button", "back", Shell.t("返回", "Back"));
    back.type = "button";
    back.dataset.back = "1";
    box.append(note, ok, back);
    return box;
  }

  function card(o, now) {
    const li = WO.card(o, now);
    if (o.skill) li.append(WO.el("div", "skill",
      `${Shell.t("所需技能", "Skill needed")}: ${Shell.label("skill", o.skill)}`));
    if (o.assignee_ids.length) {
      li.append(WO.el("div", "assignees",
        `${Shell.t("技工", "Technician")}: ${o.assignee_ids.map(techName).join(Shell.t("、", ", "))}`));
    }
    const steps = WO.allowed(o.state).filter((a) => STEPS.includes(a));
    const asking = state.asking[o.id];
    if (steps.length) {
      const box = WO.el("div", "actions");
      if (asking) {
        box.append(askNote(asking));
      } else {
        if (steps.some((a) => PICKS_TECH.includes(a))) box.append(picker(o));
        for (const a of steps) box.append(WO.button(a));
      }
      li.append(box);
    }
    li.append(WO.errorLine(o.id));
    return li;
  }

  function render() {
    const now = Date.now();
    const all = [...state.orders, ...state.ended];
    $("columns").replaceChildren(...COLUMNS.map((states) => {
      const orders = all.filter((o) => states.includes(o.state));
      const col = WO.el("section", "column");
      col.dataset.state = states[0];
      const h = WO.el("h2", "", states.length > 1 ? Shell.t("最近结束", "Recently ended")
        : WO.stateLabel(states[0]));
      h.append(" ", WO.el("b", "n", String(orders.length)));
      const ol = WO.el("ol", "orders");
      ol.append(...orders.map((o) => card(o, now)));
      col.append(h, ol);
      return col;
    }));
    WO.holdBusy($("columns"));
    const late = state.orders.filter((o) => WO.late(o, now)).length;
    $("n-overdue").textContent = String(late);
    $("overdue-pill").classList.toggle("alert", late > 0);
    $("load").replaceChildren(...state.techs.map((t) => {
      const n = state.orders.filter((o) => BUSY.includes(o.state) && o.assignee_ids.includes(t.id))
        .length;
      const li = WO.el("li", t.on_duty ? "tech on-duty" : "tech");
      li.dataset.tech = t.id;
      const skills = t.skills.map((s) => Shell.label("skill", s)).join(Shell.t("、", ", "));
      li.append(WO.el("span", "name", t.name), " ", WO.el("b", "n", String(n)));
      if (skills) li.append(" ", WO.el("span", "skills", skills));
      return li;
    }));
  }

  async function step(li, action, confirmed) {
    const id = li.dataset.id;
    if (WO.needsNote(action) && !confirmed) {
      state.asking[id] = action;
      WO.keepTyped($("columns"), render);
      const input = document.querySelector(`li.order[data-id="${id}"] input.note`);
      if (input) input.focus();
      return;
    }
    const body = {};  // who acts is the login: the console takes it from the session
    if (PICKS_TECH.includes(action)) {
      const tech = Number(li.querySelector("select.tech").value);
      if (!tech) {
        WO.errors[id] = Shell.t("请选择技工", "Choose a technician");
        WO.keepTyped($("columns"), render);
        return;
      }
      body.assignee_ids = [tech];
    }
    const note = confirmed ? li.querySelector("input.note").value.trim() : "";
    if (note) body.note = note;  // none: the console says the note is needed, and why
    const order = await WO.act(li, action, body, async (o) => {
      delete state.asking[id];
      notice(WO.answer(o));
      await load();
    });
    if (order === null && !document.querySelector(`li.order[data-id="${id}"]`)) load();
  }

  $("columns").addEventListener("click", (ev) => {
    const b = ev.target.closest("button");
    if (!b || b.disabled) return;
    const li = b.closest("li.order");
    if (b.dataset.back) {
      delete state.asking[li.dataset.id];
      WO.keepTyped($("columns"), render);
    } else if (b.dataset.action) {
      step(li, b.dataset.action, Boolean(b.dataset.confirm));
    }
  });
  document.addEventListener("wo:filed", (ev) => {
    if (ev.detail) notice(`${Shell.t("已新建", "Filed")} ${WO.answer(ev.detail)}`);
    load();
  });
  Shell.onSite((slug) => { state.site = slug; load(); });
  setInterval(() => {
    // Not while a technician is being chosen or a note typed: a redraw would take it away.
    if (!WO.inUse($("columns")) && !Object.keys(state.asking).length) load();
  }, WO.REFRESH_MS);
})();
