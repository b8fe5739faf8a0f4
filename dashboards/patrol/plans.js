/* 计划 / plans: the site's plans (GET …/patrol/plans), creating one (POST) or editing it
 * (PATCH …/plans/{code}): the route, the days (一…日), the first round's time and the time no
 * round starts from (site time, 24 h; an end not after the start runs past midnight), every N
 * hours, and the start window, tolerance, late allowance and escalation in minutes, with a
 * checkpoint's own tolerance where it needs one. Staff type minutes and hours; the API keeps
 * seconds. Times are typed as 22:00 so the same text reads in either language; a time the API
 * refuses is shown beside its field. */
"use strict";

window.PatPlans = (() => {
  const S = window.Shell;
  const P = window.Pat;
  const $ = (id) => document.getElementById(id);
  const form = $("plan-form");
  const tolBox = $("plan-tolerances");
  const MINUTES = { start_window: "start_window_s", tolerance: "tolerance_s", late: "late_s",
                    escalate: "escalate_s" };
  const DEFAULTS = { start_window: "10", tolerance: "2", late: "5", escalate: "10" };
  let site = "";
  let editing = null;
  let routes = [];
  let checkpoints = [];
  let list = [];

  function drawDays(days) {
    $("plan-days").replaceChildren(...P.DAYS.map(([zh, en], i) => {
      const tick = S.el("input", { type: "checkbox", name: "day", value: String(i + 1) });
      tick.checked = days.includes(i + 1);
      return S.el("label", { class: "inline" }, tick, S.el("span", { text: S.t(zh, en) }));
    }));
  }

  function routeOptions(chosen) {
    const select = $("plan-route");
    const known = routes.filter((r) => r.active !== false || r.code === chosen);
    select.replaceChildren(S.el("option", { value: "", text: S.t("选择路线", "Choose a route") }),
      ...known.map((r) => S.el("option", { value: r.code, text: `${r.name}（${r.code}）` })));
    select.value = chosen || "";
  }

  function cpName(code) {
    const cp = checkpoints.find((c) => c.code === code);
    return cp ? `${cp.name}（${code}）` : code;
  }

  /* The checkpoints of the chosen route (a tolerance names one of them). */
  function routePoints() {
    const r = routes.find((x) => x.code === $("plan-route").value);
    return r ? r.points.map((p) => p.checkpoint) : checkpoints.map((c) => c.code);
  }

  function tolRow(code, seconds) {
    const select = S.el("select", { class: "t-cp", "aria-label": S.t("巡更点", "Checkpoint") });
    const codes = routePoints();
    if (code && !codes.includes(code)) codes.push(code);
    select.replaceChildren(S.el("option", { value: "", text: S.t("选择巡更点", "Choose a checkpoint") }),
                           ...codes.map((c) => S.el("option", { value: c, text: cpName(c) })));
    select.value = code || "";
    const min = S.el("input", { class: "t-min", inputmode: "decimal", size: "6",
                                value: seconds === undefined ? "" : P.toMinutes(seconds) });
    const drop = S.el("button", { type: "button", class: "t-drop", text: S.t("删除", "Remove") });
    const li = S.el("li", { class: "point" },
                    S.el("label", {}, S.el("span", { text: S.t("巡更点", "Checkpoint") }), select),
                    S.el("label", {}, S.el("span", { text: S.t("容差（分钟）", "Tolerance (min)") }), min), drop);
    const mark = () => { li.dataset.field = `tolerances.${select.value}`; };
    select.addEventListener("change", mark);
    mark();
    drop.addEventListener("click", () => li.remove());
    tolBox.append(li);
  }

  /* "7:05" → "07:05:00"; anything else goes as typed, for the API to refuse beside the field. */
  function timeOfDay(text) {
    const t = text.trim();
    const m = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(t);
    return m ? `${m[1].padStart(2, "0")}:${m[2]}:${m[3] || "00"}` : t;
  }

  function edit(p) {
    editing = p ? p.code : null;
    S.clearErrors(form);
    form.elements.code.value = p ? p.code : "";
    form.elements.code.readOnly = !!p;
    form.elements.name.value = p ? p.name : "";
    routeOptions(p && p.route);
    drawDays(p ? p.days : [1, 2, 3, 4, 5, 6, 7]);
    form.elements.start.value = p ? p.start.slice(0, 5) : "22:00";
    form.elements.end.value = p ? p.end.slice(0, 5) : "06:00";
    form.elements.every_h.value = p ? String(p.every_s / 3600) : "2";
    for (const [name, key] of Object.entries(MINUTES)) {
      form.elements[name].value = p ? P.toMinutes(p[key]) : DEFAULTS[name];
    }
    form.elements.active.checked = !p || p.active !== false;
    $("plan-active-box").hidden = !p;
    $("plan-title").textContent = p ? S.t(`编辑计划 ${p.code}`, `Edit plan ${p.code}`)
      : S.t("新建计划", "New plan");
    tolBox.replaceChildren();
    for (const [code, s] of Object.entries((p && p.tolerances) || {})) tolRow(code, s);
  }

  async function save(ev) {
    ev.preventDefault();
    S.clearErrors(form);
    const el = form.elements;
    const code = el.code.value.trim();
    if (!code) { P.fail(form, "code", "请填写编号", "Give the code"); return; }
    if (!el.name.value.trim()) { P.fail(form, "name", "请填写名称", "Give the name"); return; }
    if (!el.route.value) { P.fail(form, "route", "请选择路线", "Choose the route"); return; }
    const days = [...form.querySelectorAll("input[name=day]:checked")].map((b) => Number(b.value));
    if (!days.length) { P.fail(form, "days", "请至少选择一天", "Tick at least one day"); return; }
    const hours = el.every_h.value.trim();
    const body = { name: el.name.value.trim(), route: el.route.value, days,
                   start: timeOfDay(el.start.value), end: timeOfDay(el.end.value),
                   every_s: hours === "" || Number.isNaN(Number(hours)) ? hours : Math.round(Number(hours) * 3600),
                   tolerances: {} };
    for (const [name, key] of Object.entries(MINUTES)) {
      const s = P.toSeconds(el[name].value);
      if (s !== undefined) body[key] = s;
    }
    for (const li of tolBox.children) {
      const cp = li.querySelector(".t-cp").value;
      if (!cp) continue;
      body.tolerances[cp] = P.toSeconds(li.querySelector(".t-min").value) ?? 0;
    }
    await S.once($("plan-save"), async () => {
      try {
        if (editing) {
          body.active = el.active.checked;
          await S.api(P.siteUrl(site, `plans/${encodeURIComponent(editing)}`), { method: "PATCH", json: body });
        } else {
          await S.api(P.siteUrl(site, "plans"), { method: "POST", json: { code, ...body } });
        }
        S.toast(S.t(`已保存计划 ${code}`, `Plan ${code} saved`));
        edit(null);
        await load();
      } catch (err) {
        S.showError(form, err);
      }
    });
  }

  function whenText(p) {
    const every = p.every_s ? S.t(`每 ${p.every_s / 3600} 小时`, `every ${p.every_s / 3600} h`)
      : S.t("每天一次", "once a day");
    return `${P.daysText(p.days)} ${p.start.slice(0, 5)}–${p.end.slice(0, 5)} ${every}`;
  }

  function tolText(p) {
    const m = (s) => P.toMinutes(s);
    const own = Object.entries(p.tolerances || {}).map(([c, s]) => `${cpName(c)} ${m(s)}`);
    return [S.t(`开始 ${m(p.start_window_s)}`, `start ${m(p.start_window_s)}`),
            S.t(`准时 ${m(p.tolerance_s)}`, `on time ${m(p.tolerance_s)}`),
            S.t(`迟到 ${m(p.late_s)}`, `late ${m(p.late_s)}`),
            S.t(`升级 ${m(p.escalate_s)}`, `escalate ${m(p.escalate_s)}`), ...own].join("；");
  }

  function row(p) {
    const tr = S.el("tr", { "data-plan": p.code, class: p.active === false ? "retired" : null });
    S.cell(tr, p.code, "num");
    S.cell(tr, p.name);
    const r = routes.find((x) => x.code === p.route);
    S.cell(tr, r ? r.name : p.route);
    S.cell(tr, whenText(p));
    S.cell(tr, tolText(p));
    S.cell(tr, p.active === false ? S.t("停用", "Not in use") : S.t("启用", "In use"));
    const td = S.cell(tr, "");
    const b = S.el("button", { type: "button", class: "edit", text: S.t("编辑", "Edit") });
    b.addEventListener("click", () => edit(p));
    td.replaceChildren(b);
    return tr;
  }

  async function load() {
    const body = $("plans");
    try {
      list = P.items(await S.api(P.siteUrl(site, "plans")), "plans");
      if (!list.length) S.empty(body, 7, "还没有计划", "No plans yet");
      else body.replaceChildren(...list.map(row));
    } catch (err) {
      S.empty(body, 7, err.message, err.message);
    }
  }

  /* The form is ready at once; the route choices fill in when they arrive, keeping whatever
     was already chosen. */
  async function start(slug) {
    site = slug;
    edit(null);
    try {
      const [r, c] = await Promise.all([S.api(P.siteUrl(site, "routes")), S.api(P.siteUrl(site, "checkpoints"))]);
      routes = P.items(r, "routes");
      checkpoints = P.items(c, "checkpoints");
    } catch (err) {
      routes = [];
    }
    routeOptions($("plan-route").value);
    return load();
  }

  document.addEventListener("patrol:routes", (ev) => {
    routes = ev.detail;
    routeOptions($("plan-route").value);
  });
  document.addEventListener("patrol:checkpoints", (ev) => { checkpoints = ev.detail; });
  $("plan-add-tol").addEventListener("click", () => tolRow("", undefined));
  $("plan-new").addEventListener("click", () => edit(null));
  form.addEventListener("submit", save);

  return { start };
})();
