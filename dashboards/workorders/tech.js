/* 技工工单 / the technician's phone page: 我的 (his open orders by SLA due), 待抢单 (the pool he
   may grab from: his sites, his skills — the console refuses the rest) and 已超时, with a big button per step the table allows — grab, accept, start,
   pause, resume, complete — and 登记工时与备件 (hours, or a part used). A step that needs a
   note (pause) asks for it on the card first. Whose list is the login's (the technician record
   of its name); a supervisor may look at someone's with ?tech=<id>. Polls every 10 s. */
"use strict";

(() => {
  const STEPS = ["grab", "accept", "start", "pause", "resume", "complete", "log_work"];
  const OPEN = ["assigned", "accepted", "in_progress", "paused"];
  const WORK_FIELDS = [
    ["hours", "工时（小时）", "Hours", "decimal"], ["part", "备件名称", "Part used", "text"],
    ["qty", "数量", "Quantity", "decimal"], ["unit_price", "单价（元）", "Unit price (yuan)", "decimal"]];
  const asked = Number(new URLSearchParams(location.search).get("tech"));
  const state = { tab: "mine", tech: null, lists: { mine: [], pool: [], overdue: [] }, asking: {} };
  const $ = (id) => document.getElementById(id);

  function showError(msg) {
    $("error").textContent = msg || "";
    $("error").hidden = !msg;
  }

  function notice(text) {
    $("notice").textContent = text;
    $("notice").hidden = !text;
  }

  const dueMs = (o) => { const d = WO.due(o); return d ? Date.parse(d.at) : Infinity; };
  // The pool he may grab from: his sites, and orders needing no skill or one he has.
  const serves = (o) => state.tech.sites.includes(o.site)
    && (!o.skill || state.tech.skills.includes(o.skill));

  async function whose(me) {
    const techs = (await Shell.api("/api/technicians")).technicians;
    const own = me.role === "technician" || !(Number.isInteger(asked) && asked > 0);
    const tech = own ? techs.find((t) => t.name === me.name && t.active)
      : techs.find((t) => t.id === asked);
    if (!tech) {
      throw new Error(own
        ? Shell.t(`当前登录（${me.name}）没有对应的技工档案，请主管添加同名技工`,
          `Your login (${me.name}) has no technician record: ask a supervisor to add one of that name`)
        : Shell.t(`技工 ${asked} 不存在`, `No technician ${asked}`));
    }
    return tech;
  }

  async function load() {
    try {
      const me = await Shell.ready;
      if (!me) return;
      if (!state.tech) {
        state.tech = await whose(me);
        $("who").textContent = state.tech.name;
      }
      const id = state.tech.id;
      const [mine, pool, late] = await Promise.all([
        Shell.api(`/api/workorders?assignee=${id}&state=${OPEN}&limit=1000`),
        Shell.api("/api/workorders?state=pool&limit=1000"),
        Shell.api("/api/workorders?overdue=1&limit=1000")]);
      const bySla = (a, b) => dueMs(a) - dueMs(b);
      state.lists = {
        mine: mine.workorders.sort(bySla),
        pool: pool.workorders.filter(serves).sort(bySla),
        overdue: late.workorders.filter((o) => o.assignee_ids.includes(id)
          || (o.state === "pool" && serves(o))).sort(bySla),
      };
      showError("");
    } catch (err) {
      showError(`${Shell.t("加载失败", "Could not load")}: ${err.message}`);
    }
    WO.keepTyped($("orders"), render);
  }

  function input(name, zh, en, kind) {
    const i = WO.el("input", name === "note" ? "note" : "field");
    i.name = name;
    i.placeholder = Shell.t(zh, en);
    i.setAttribute("aria-label", i.placeholder);
    if (kind === "decimal") i.inputMode = "decimal";
    i.maxLength = name === "note" ? 2000 : 128;
    return i;
  }

  /** What a step needs typed before it goes: a note to pause, hours or a part to log work. */
  function ask(action) {
    const box = WO.el("div", "ask");
    if (action === "log_work") {
      for (const [name, zh, en, kind] of WORK_FIELDS) box.append(input(name, zh, en, kind));
    } else {
      box.append(input("note", `${WO.actionLabel(action)}原因（必填）`,
        `Why ${WO.actionLabel(action).toLowerCase()} (required)`));
    }
    const ok = WO.button(action, "confirm", Shell.t(`确认${WO.actionLabel(action)}`,
      `Confirm: ${WO.actionLabel(action)}`));
    ok.dataset.confirm = "1";
    const back = WO.el("button", "back", Shell.t("返回", "Back"));
    back.type = "button";
    back.dataset.back = "1";
    box.append(ok, back);
    return box;
  }

  function card(o, now) {
    const li = WO.card(o, now);
    const steps = WO.allowed(o.state).filter((a) => STEPS.includes(a));
    const box = WO.el("div", "actions");
    const asking = state.asking[o.id];
    if (asking) box.append(ask(asking));
    else for (const a of steps) box.append(WO.button(a));
    if (box.childElementCount) li.append(box);
    li.append(WO.errorLine(o.id));
    return li;
  }

  function render() {
    const now = Date.now();
    for (const tab of ["mine", "pool", "overdue"]) {
      $(`n-${tab}`).textContent = String(state.lists[tab].length);
      $(`tab-${tab}`).setAttribute("aria-selected", String(tab === state.tab));
    }
    $("n-overdue").classList.toggle("alert", state.lists.overdue.length > 0);
    const list = state.lists[state.tab];
    $("orders").replaceChildren(...list.map((o) => card(o, now)));
    WO.holdBusy($("orders"));
    $("empty").hidden = list.length > 0;
  }

  function typed(li) {
    const body = {};
    for (const i of li.querySelectorAll(".ask input")) {
      const v = i.value.trim();
      if (v) body[i.name] = v;
    }
    return body;
  }

  async function step(li, action, confirmed) {
    const id = li.dataset.id;
    if ((WO.needsNote(action) || action === "log_work") && !confirmed) {
      state.asking[id] = action;
      WO.keepTyped($("orders"), render);
      const first = document.querySelector(`li.order[data-id="${id}"] .ask input`);
      if (first) first.focus();
      return;
    }
    // Who acts is the login; technician_id only says whose list this is (the console checks).
    const body = confirmed ? typed(li) : {};
    if (action === "grab" || action === "log_work") body.technician_id = state.tech.id;
    await WO.act(li, action, body, async (o) => {
      delete state.asking[id];
      notice(WO.answer(o));
      if (action === "grab") state.tab = "mine";
      await load();
    });
  }

  document.querySelector(".tabs").addEventListener("click", (ev) => {
    const tab = ev.target.closest("[data-tab]");
    if (!tab) return;
    state.tab = tab.dataset.tab;
    WO.keepTyped($("orders"), render);
  });
  $("orders").addEventListener("click", (ev) => {
    const b = ev.target.closest("button");
    if (!b || b.disabled || !state.tech) return;
    const li = b.closest("li.order");
    if (b.dataset.back) {
      delete state.asking[li.dataset.id];
      WO.keepTyped($("orders"), render);
    } else if (b.dataset.action) {
      step(li, b.dataset.action, Boolean(b.dataset.confirm));
    }
  });
  load();
  setInterval(() => {
    // Not while something is typed on a card: a redraw would take the keyboard away.
    if (!WO.inUse($("orders")) && !Object.keys(state.asking).length) load();
  }, WO.REFRESH_MS);
})();
