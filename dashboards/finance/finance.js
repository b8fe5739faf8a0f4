/* 收费台 / the cashier's desk: find the unit (owner's name, phone, plate or unit code through
 * /api/search), see its open bills and their lines, take a payment and print the receipt.
 * Money stays the API's decimal strings; sums are in fen (BigInt). Other parts of the page
 * hear "fin:paid" after a payment and tell the desk "fin:changed" after a reversal. */
"use strict";

(() => {
  const S = window.Shell;
  const F = window.Fin;
  const $ = (id) => document.getElementById(id);
  const METHODS = ["cash", "wechat", "alipay", "card", "bank_transfer"];
  let site = "";
  let unit = null;  // the unit code whose account is open
  let found = null;  // its search result (residents, plates), when it came from a search

  function say(text, good) {
    $("message").textContent = text;
    $("message").className = good ? "ok" : "";
  }

  /* ---- finding the unit ---- */

  function describe(r) {
    const people = (r.residents || []).map((p) => `${S.label("resident_role", p.role)} ${p.name}`);
    return [r.unit, r.building, ...people, ...(r.plates || [])].filter(Boolean).join(" · ");
  }

  async function lookup() {
    const form = $("lookup");
    F.clearErrors(form);
    const q = $("q").value.trim();
    const list = $("results");
    list.hidden = true;
    let results;
    try {
      results = (await S.api(`/api/search?${new URLSearchParams({ site, q })}`)).results;
    } catch (e) {
      F.showError(form, e);
      return;
    }
    if (results.length === 1) {
      await open(results[0].unit, results[0]);
      return;
    }
    if (!results.length) {
      F.showError(form, { field: "q", message: S.t(`没有找到“${q}”：请换姓名、电话后四位、车牌或房号再试`,
        `Nothing found for “${q}”: try a name, the last four digits of a phone, a plate or a unit code`) });
      return;
    }
    list.replaceChildren(...results.map((r) => S.el("li", {}, S.el("button", {
      type: "button", class: "pick-unit", "data-unit": r.unit, text: describe(r),
      onclick: () => open(r.unit, r).catch((e) => F.showError(form, e)) }))));
    list.hidden = false;
  }

  /* ---- the account ---- */

  function billRow(b) {
    const tr = S.el("tr", { "data-bill": b.id });
    const pick = S.el("input", { type: "checkbox", class: "pick", value: b.id,
      "aria-label": S.t(`缴 ${b.number}`, `Pay ${b.number}`) });
    pick.dataset.due = b.due;
    F.cell(tr, "").append(pick);
    F.cell(tr, "").append(S.el("button", { type: "button", class: "link open-bill", text: b.number,
      onclick: () => detail(b).catch((e) => S.toast(e.message, true)) }));
    F.cell(tr, b.period);
    F.cell(tr, S.label("bill_state", b.state));
    F.cell(tr, F.yuan(b.total), "num");
    F.cell(tr, F.yuan(b.paid), "num");
    F.cell(tr, F.yuan(b.due), "num");
    F.cell(tr, b.due_date);
    return tr;
  }

  /* A bill's lines; when today's late fee is not on the bill yet, say what the payment adds. */
  async function detail(row) {
    const box = $("bill-detail");
    const bill = await F.showBill(row.id, box);
    const extra = F.fen(row.total) - F.fen(bill.total);
    if (extra > 0n) {
      box.append(S.el("p", { class: "hold-reason", text: S.t(
        `今天付款另计滞纳金 ${F.fromFen(extra)} 元（付款时记入账单）`,
        `A payment today adds ${F.fromFen(extra)} yuan of late fee (put on the bill when paid)`) }));
    }
  }

  /* The amount: the picked bills' debt, or every open bill's when none is picked. */
  function suggestAmount() {
    const picks = [...document.querySelectorAll(".pick")];
    const chosen = picks.filter((p) => p.checked);
    const total = (chosen.length ? chosen : picks).reduce((sum, p) => sum + F.fen(p.dataset.due), 0n);
    $("amount").value = total > 0n ? F.fromFen(total) : "";
  }

  async function open(code, result) {
    const data = await S.api(`/api/balances?${new URLSearchParams({ site, unit: code })}`);
    unit = data.unit;
    if (result !== undefined) found = result;
    $("results").hidden = true;
    $("account").hidden = false;
    $("bill-detail").hidden = true;
    $("acc-unit").textContent = data.unit;
    $("acc-building").textContent = (found && found.unit === unit && found.building) || data.building || "";
    const people = found && found.unit === unit ? found.residents || [] : [];
    $("acc-people").textContent = people.map((p) => `${S.label("resident_role", p.role)} ${p.name}`).join("、")
      || S.t("未登记住户", "No residents on record");
    $("acc-balance").textContent = F.yuan(data.balance);
    const body = $("bills");
    if (data.open_bills.length) body.replaceChildren(...data.open_bills.map(billRow));
    else F.empty(body, 8, "没有未缴账单", "No unpaid bills");
    suggestAmount();
    payKey = null;
    return data;
  }

  /* ---- the payment ----
     One idempotency key per payment the clerk means to take: a double-click, or a retry after
     a lost answer, sends the same key, so the console books it once. A new key only once a
     payment went through or the clerk changed the form (another amount is another payment). */
  let payKey = null;
  function newKey() {
    return crypto.randomUUID ? crypto.randomUUID()
      : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
  }

  async function takePayment() {
    const form = $("pay");
    F.clearErrors(form);
    const bills = [...document.querySelectorAll(".pick:checked")].map((c) => Number(c.value));
    if (payKey === null) payKey = newKey();
    const body = { site, unit, amount: $("amount").value.trim(), method: $("method").value,
      idempotency_key: payKey };
    if ($("reference").value.trim()) body.reference = $("reference").value.trim();
    if ($("payer").value.trim()) body.payer = $("payer").value.trim();
    if ($("prepay").checked) body.prepay = true;
    if (bills.length) body.bills = bills;
    let p;
    try {
      p = await S.api("/api/payments", { method: "POST", json: body });
    } catch (e) {
      F.showError(form, e);
      return;
    }
    payKey = null;
    $("receipt-link").replaceChildren(S.el("a", {
      href: `/finance/receipts/${encodeURIComponent(p.receipt)}`, target: "_blank",
      class: "cy-button", text: S.t(`打印收据 ${p.receipt}`, `Print receipt ${p.receipt}`) }));
    await open(unit);  // the bills as they stand now; the message stays the payment's
    $("reference").value = "";
    $("payer").value = "";
    $("prepay").checked = false;
    say(S.t(`收款成功：${F.yuan(p.amount)} 元，收据 ${p.receipt}`,
      `Payment taken: ${F.yuan(p.amount)} yuan, receipt ${p.receipt}`), true);
    document.dispatchEvent(new CustomEvent("fin:paid", { detail: p }));
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("q").focus();  // the clerk types the name straight away
    $("method").replaceChildren(...METHODS.map((m) => S.el("option", { value: m, text: S.label("payment_method", m) })));
    $("lookup").addEventListener("submit", (ev) => {
      ev.preventDefault();
      F.once($("lookup").querySelector("button"), lookup).catch((e) => S.toast(e.message, true));
    });
    $("pay").addEventListener("submit", (ev) => {
      ev.preventDefault();
      say("");
      F.once($("pay-button"), takePayment).catch((e) => S.toast(e.message, true));
    });
    for (const ev of ["input", "change"]) $("pay").addEventListener(ev, () => { payKey = null; });
    $("bills").addEventListener("change", () => { payKey = null; suggestAmount(); });
    document.addEventListener("fin:changed", (ev) => {
      if (unit !== null && ev.detail && ev.detail.unit === unit) open(unit).catch(() => {});
    });
    S.onSite((slug) => {
      site = slug;
      unit = null;
      found = null;
      $("account").hidden = true;
      $("results").hidden = true;
      say("");
    });
  });
})();
