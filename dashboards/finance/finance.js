/* 收费台 / finance desk: unit lookup, payment, receipt, arrears and collection rate.
   No libraries, no build step; talks to the payments API only. */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  let csrf = null;
  const STATE = { open: "未缴 Open", partial: "部分缴 Partial", paid: "已缴 Paid" };

  function say(text, bad) {
    $("message").textContent = text;
    $("message").className = bad ? "bad" : "ok";
  }

  async function api(method, path, body) {
    const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      if (csrf) init.headers["X-CSRF-Token"] = csrf;
      init.body = JSON.stringify(body);
    }
    const resp = await fetch(path, init);
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      const err = data.error || {};
      const extra = err.debt ? `（欠款 debt ${err.debt}）` : "";
      throw new Error(`${err.message || "HTTP " + resp.status}${extra}`);
    }
    return data;
  }

  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "—" : String(text);
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  function site() {
    const s = $("site").value.trim();
    if (!s) throw new Error("请先填写小区 / enter the site first");
    localStorage.setItem("courtyard.finance.site", s);
    return s;
  }

  function qs(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
    return q.toString();
  }

  async function lookup(quiet) {
    const data = await api("GET", `/api/balances?${qs({ site: site(), unit: $("unit").value.trim() })}`);
    $("account").hidden = false;
    $("acc-unit").textContent = data.unit;
    $("acc-building").textContent = data.building || "—";
    $("acc-balance").textContent = data.balance;
    const body = $("bills");
    body.replaceChildren();
    let due = 0;
    for (const b of data.open_bills) {
      const tr = document.createElement("tr");
      const pick = document.createElement("input");
      pick.type = "checkbox";
      pick.value = b.id;
      pick.className = "pick";
      const td = document.createElement("td");
      td.appendChild(pick);
      tr.appendChild(td);
      cell(tr, b.number);
      cell(tr, b.period);
      cell(tr, STATE[b.state] || b.state);
      cell(tr, b.total, "num");
      cell(tr, b.paid, "num");
      cell(tr, b.due, "num");
      cell(tr, b.due_date);
      body.appendChild(tr);
      due += Math.round(Number(b.due) * 100);
    }
    if (!data.open_bills.length) {
      const tr = document.createElement("tr");
      cell(tr, "没有未缴账单 / no open bills").colSpan = 8;
      body.appendChild(tr);
    }
    $("amount").value = due ? (due / 100).toFixed(2) : "";
    if (quiet !== true) say(`已找到 ${data.unit} / found ${data.unit}`);
  }

  // One idempotency key per payment the clerk means to take: a double-click, or a retry after
  // a lost answer, sends the same key, so the console books it once. A new key only once a
  // payment went through or the clerk changed the form (another amount is another payment).
  let payKey = null;
  let paying = false;
  function newKey() {
    return crypto.randomUUID ? crypto.randomUUID()
      : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
  }

  async function pay() {
    if (paying) return;  // the button is disabled too; this covers Enter pressed twice
    const button = $("pay").querySelector("button[type=submit]");
    paying = true;
    button.disabled = true;
    try {
      await takePayment();
    } finally {
      paying = false;
      button.disabled = false;
    }
  }

  async function takePayment() {
    const bills = [...document.querySelectorAll(".pick:checked")].map((c) => Number(c.value));
    if (payKey === null) payKey = newKey();
    const body = {
      site: site(), unit: $("acc-unit").textContent, amount: $("amount").value.trim(),
      method: $("method").value, idempotency_key: payKey,
    };
    if ($("reference").value.trim()) body.reference = $("reference").value.trim();
    if ($("payer").value.trim()) body.payer = $("payer").value.trim();
    if ($("prepay").checked) body.prepay = true;
    if (bills.length) body.bills = bills;
    const p = await api("POST", "/api/payments", body);
    payKey = null;
    const link = $("receipt-link");
    link.replaceChildren();
    const a = document.createElement("a");
    a.href = `/finance/receipts/${encodeURIComponent(p.receipt)}`;
    a.target = "_blank";
    a.textContent = `打印收据 ${p.receipt} / print receipt`;
    link.appendChild(a);
    await lookup(true);  // the bills as they stand now; the message stays the payment's
    say(`收款成功 ${p.amount} 元，收据 ${p.receipt} / payment taken`);
  }

  function arrearsQuery() {
    return qs({ site: site(), building: $("a-building").value.trim(),
      period: $("a-period").value.trim(), fee: $("a-fee").value.trim() });
  }

  async function arrears() {
    const q = arrearsQuery();
    $("export-csv").href = `/api/arrears/export?${q}&format=csv`;
    $("export-xlsx").href = `/api/arrears/export?${q}&format=xlsx`;
    const data = await api("GET", `/api/arrears?${q}`);
    $("arrears-total").textContent = `共 ${data.units} 户，欠款 ${data.total} 元 / ${data.units} units owe ${data.total}`;
    const body = $("arrears");
    body.replaceChildren();
    for (const r of data.arrears) {
      const tr = document.createElement("tr");
      for (const v of [r.unit, r.building, r.owner, r.phone, r.bills]) cell(tr, v);
      cell(tr, r.unpaid, "num");
      cell(tr, r.oldest_due);
      cell(tr, r.days_overdue, "num");
      body.appendChild(tr);
    }
  }

  function rateRows(id, groups, total) {
    const body = $(id);
    body.replaceChildren();
    for (const g of [...groups, { label: "合计 Total", ...total }]) {
      const tr = document.createElement("tr");
      cell(tr, g.key && g.label !== g.key ? `${g.label} (${g.key})` : g.label);
      cell(tr, g.billed, "num");
      cell(tr, g.collected, "num");
      cell(tr, g.outstanding, "num");
      cell(tr, g.rate === null ? "—" : `${(Number(g.rate) * 100).toFixed(2)}%`, "num");
      body.appendChild(tr);
    }
  }

  async function collection() {
    const period = $("c-period").value.trim();
    for (const [by, id] of [["building", "by-building"], ["fee", "by-fee"]]) {
      const data = await api("GET", `/api/stats/collection?${qs({ site: site(), period, by })}`);
      rateRows(id, data.groups, data.total);
    }
  }

  function on(id, fn) {
    $(id).addEventListener("submit", (ev) => {
      ev.preventDefault();
      fn().catch((e) => say(e.message, true));
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const params = new URLSearchParams(location.search);
    const wanted = params.get("site") || localStorage.getItem("courtyard.finance.site") || "";
    on("lookup", lookup);
    on("pay", pay);
    for (const ev of ["input", "change"]) $("pay").addEventListener(ev, () => { payKey = null; });
    $("bills").addEventListener("change", () => { payKey = null; });
    on("arrears-form", arrears);
    on("collection-form", collection);
    api("GET", "/api/me").then((me) => {
      csrf = me.csrf_token || null;
      // 小区 by name: the sites this login serves (the slug stays the option's value).
      const pick = $("site");
      for (const [slug, name] of Object.entries(me.site_names || {})) {
        const opt = document.createElement("option");
        opt.value = slug;
        opt.textContent = name;
        pick.appendChild(opt);
      }
      if ([...pick.options].some((o) => o.value === wanted)) pick.value = wanted;
      if (me.name) $("who").textContent = `${me.name}`;
    }).catch(() => {});
  });
})();
