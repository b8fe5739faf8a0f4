/* 客服台 / the customer-service desk: find a unit (GET /api/search), open its card (residents,
 * vehicles, bills, work orders) and log a resident's repair call or complaint for it
 * (POST /api/workorders with the unit; the requester is the login, never a typed name). */
"use strict";

(() => {
  const S = window.Shell;
  const R = window.Rec;
  const $ = (id) => document.getElementById(id);
  const CALL_CATEGORIES = ["plumbing", "electrical", "public_area", "gate_fault", "elevator_fault",
                           "complaint", "other"];
  const BILLS_SHOWN = 12;
  let site = "";
  let unit = null;       // the open unit: {unit_id, unit, building}
  let requestId = null;  // one per call being logged: a resubmitted form is not a second order

  function newRequest() {
    requestId = (window.crypto && crypto.randomUUID) ? crypto.randomUUID()
      : `${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;
  }

  function results(list) {
    const box = $("results");
    box.replaceChildren(...list.map((r) => {
      const people = r.residents.map((p) => `${p.name}（${S.label("resident_role", p.role)}）`);
      const button = S.el("button", { type: "button", class: "result", "data-unit": r.unit },
        S.el("strong", { text: r.unit }), " ",
        S.el("span", { class: "note", text: r.building || "" }), " ",
        S.el("span", { text: people.join("、") }), " ",
        S.el("span", { class: "plates", text: r.plates.join(" ") }), " ",
        S.el("span", { class: "tag", text: S.t(`按${S.label("search_match", r.matched)}找到`,
                                               `by ${S.label("search_match", r.matched)}`) }));
      button.addEventListener("click", () => open(r).catch((err) => S.toast(err.message, true)));
      return S.el("li", {}, button);
    }));
    $("no-results").hidden = list.length > 0;
  }

  async function find(ev) {
    ev.preventDefault();
    const form = $("search");
    const q = $("q").value.trim();
    R.clearErrors(form);
    if (!q) { R.showError(form, Object.assign(new Error(S.t("请输入要查找的内容", "Type what to look for")), { field: "q" })); return; }
    await R.once($("find"), async () => {
      try {
        const data = await S.api(`/api/search?site=${encodeURIComponent(site)}&q=${encodeURIComponent(q)}`);
        results(data.results);
        if (data.results.length === 1) await open(data.results[0]);
      } catch (err) {
        R.showError(form, err);
      }
    });
  }

  function facts(u) {
    return [u.building ? `${S.t("楼栋", "Building")} ${u.building}` : "",
            S.label("unit_type", u.unit_type), S.label("unit_status", u.status),
            `${u.area} m²`].filter(Boolean).join(" · ");
  }

  async function open(r) {
    unit = r;
    for (const b of document.querySelectorAll("#results .result")) {
      b.classList.toggle("chosen", b.dataset.unit === r.unit);
    }
    $("card").hidden = false;
    $("unit-title").textContent = r.unit;
    $("unit-facts").textContent = r.building || "";
    $("unit-records").href = `/records?site=${encodeURIComponent(site)}&unit=${encodeURIComponent(r.unit)}`;
    $("call-result").hidden = true;
    R.clearErrors($("call"));
    newRequest();
    const p = `site=${encodeURIComponent(site)}&unit=${encodeURIComponent(r.unit)}`;
    const me = await S.ready;
    const perms = new Set((me && me.permissions) || []);
    $("call").hidden = !perms.has("workorders.act");
    const [u, owners, tenants, vehicles] = await Promise.all([
      S.api(`/api/units/${r.unit_id}`), S.api(`/api/owners?${p}&current=true`),
      S.api(`/api/tenants?${p}&current=true`), S.api(`/api/vehicles?${p}`)]);
    $("unit-facts").textContent = facts({ ...u, building: r.building });
    const people = $("residents");
    people.replaceChildren();
    for (const o of [...owners.owners, ...tenants.tenants]) {
      const tr = S.el("tr");
      R.cell(tr, o.name); R.cell(tr, S.label("resident_role", o.role));
      R.cell(tr, o.phone); R.cell(tr, o.move_in);
      people.append(tr);
    }
    if (!people.children.length) R.empty(people, 4, "没有登记住户", "No residents registered");
    const cars = $("vehicles");
    cars.replaceChildren();
    for (const v of vehicles.vehicles) {
      const tr = S.el("tr");
      R.cell(tr, v.plate); R.cell(tr, v.holder); R.cell(tr, S.label("resident_role", v.role));
      cars.append(tr);
    }
    if (!cars.children.length) R.empty(cars, 3, "没有登记车辆", "No vehicles registered");
    await Promise.all([bills(p, perms.has("billing.read")), orders(p, perms.has("workorders.read"))]);
  }

  async function bills(p, allowed) {
    const body = $("bills");
    if (!allowed) { R.empty(body, 6, "无权查看账单", "You may not view bills"); return; }
    const data = await S.api(`/api/bills?${p}&limit=${BILLS_SHOWN}&order=desc`);  // the latest
    body.replaceChildren();
    for (const b of data.bills) {
      const tr = S.el("tr", { "data-bill": b.id });
      R.cell(tr, b.number); R.cell(tr, b.period); R.cell(tr, S.label("bill_state", b.state));
      R.cell(tr, yuan(b.total), "num"); R.cell(tr, yuan(b.paid), "num"); R.cell(tr, b.due_date);
      body.append(tr);
    }
    if (!data.bills.length) R.empty(body, 6, "没有账单", "No bills");
  }

  function yuan(v) {
    const m = /^(-?\d+)(?:\.(\d*))?$/.exec(String(v || "0"));
    return m ? `${m[1]}.${((m[2] || "") + "00").slice(0, 2)}` : String(v);
  }

  async function orders(p, allowed) {
    const body = $("orders");
    if (!allowed) { R.empty(body, 4, "无权查看工单", "You may not view work orders"); return; }
    const data = await S.api(`/api/workorders?${p}&limit=20`);
    body.replaceChildren();
    for (const o of data.workorders) {
      const tr = S.el("tr", { "data-order": o.id });
      R.cell(tr, o.number); R.cell(tr, S.label("category", o.category));
      R.cell(tr, S.label("workorder_state", o.state)); R.cell(tr, S.time(o.opened_at));
      body.append(tr);
    }
    if (!data.workorders.length) R.empty(body, 4, "没有工单", "No work orders");
  }

  async function logCall(ev) {
    ev.preventDefault();
    const form = $("call");
    if (!unit) return;
    await R.once($("log-call"), async () => {
      R.clearErrors(form);
      const category = $("category").value;
      const pair = ((window.CY_LABELS || {}).category || {})[category];
      const title = `${unit.unit} ${pair ? pair[0] : category}`;
      try {
        const order = await S.api("/api/workorders", { method: "POST", json: {
          site, category, priority: $("priority").value, unit: unit.unit, title,
          description: $("description").value.trim(), request_id: requestId } });
        const done = $("call-result");
        done.textContent = S.t(`已登记工单 ${order.number}，状态：${S.label("workorder_state", order.state)}`,
                               `Logged as ${order.number}, ${S.label("workorder_state", order.state)}`);
        done.dataset.number = order.number;
        done.hidden = false;
        $("description").value = "";
        newRequest();
        await orders(`site=${encodeURIComponent(site)}&unit=${encodeURIComponent(unit.unit)}`, true);
      } catch (err) {
        R.showError(form, err);
      }
    });
  }

  R.choices($("category"), "category", CALL_CATEGORIES);
  R.choices($("priority"), "priority", ["normal", "high", "urgent", "low"]);
  $("search").addEventListener("submit", find);
  $("call").addEventListener("submit", logCall);
  S.onSite((slug) => {
    site = slug;
    unit = null;
    $("card").hidden = true;
    $("results").replaceChildren();
    $("no-results").hidden = true;
  });
})();
