/* 欠费清单与收缴率 / arrears and collection rate on the cashier's desk, for the shell's 小区. */
"use strict";

(() => {
  const S = window.Shell;
  const F = window.Fin;
  const $ = (id) => document.getElementById(id);
  let site = "";

  function qs(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
    return q.toString();
  }

  /* "0.852345" → "85.23%": the decimal point moved two places, then rounded like money. */
  function pct(rate) {
    if (rate === null || rate === undefined) return "—";
    const m = /^(-?)(\d*)\.?(\d*)$/.exec(String(rate));
    if (!m) return String(rate);
    const frac = m[3].padEnd(2, "0");
    return `${F.yuan(`${m[1]}${m[2]}${frac.slice(0, 2)}.${frac.slice(2)}`)}%`;
  }

  /* Fee items and buildings by name (the code stays the option's value). */
  async function choices() {
    const all = () => S.el("option", { value: "", text: S.t("全部", "All") });
    const fees = await S.api(`/api/fee-items?site=${encodeURIComponent(site)}`);
    $("a-fee").replaceChildren(all(), ...fees.fee_items.map((f) => S.el("option", { value: f.code, text: f.name })));
    const blds = await S.api(`/api/buildings?site=${encodeURIComponent(site)}&limit=1000`);
    $("a-building").replaceChildren(all(), ...blds.buildings.map((b) => S.el("option", { value: b.code, text: b.name || b.code })));
  }

  async function arrears() {
    const form = $("arrears-form");
    F.clearErrors(form);
    const q = qs({ site, building: $("a-building").value, period: $("a-period").value.trim(),
      fee: $("a-fee").value });
    $("export-csv").href = `/api/arrears/export?${q}&format=csv`;
    $("export-xlsx").href = `/api/arrears/export?${q}&format=xlsx`;
    let data;
    try {
      data = await S.api(`/api/arrears?${q}`);
    } catch (e) {
      F.showError(form, e);
      return;
    }
    $("arrears-total").textContent = S.t(`共 ${data.units} 户欠费，合计 ${F.yuan(data.total)} 元`,
      `${data.units} units owe ${F.yuan(data.total)} yuan in all`);
    const body = $("arrears");
    if (!data.arrears.length) { F.empty(body, 8, "没有欠费", "No arrears"); return; }
    body.replaceChildren(...data.arrears.map((r) => {
      const tr = S.el("tr");
      for (const v of [r.unit, r.building, r.owner, r.phone]) F.cell(tr, v);
      F.cell(tr, r.bills, "num");
      F.cell(tr, F.yuan(r.unpaid), "num");
      F.cell(tr, r.oldest_due);
      F.cell(tr, r.days_overdue, "num");
      return tr;
    }));
  }

  function rateRows(id, groups, total) {
    $(id).replaceChildren(...[...groups, { label: S.t("合计", "Total"), ...total }].map((g) => {
      const tr = S.el("tr");
      F.cell(tr, g.label);
      F.cell(tr, F.yuan(g.billed), "num");
      F.cell(tr, F.yuan(g.collected), "num");
      F.cell(tr, F.yuan(g.outstanding), "num");
      F.cell(tr, pct(g.rate), "num");
      return tr;
    }));
  }

  async function collection() {
    const form = $("collection-form");
    F.clearErrors(form);
    const period = $("c-period").value.trim();
    try {
      for (const [by, id] of [["building", "by-building"], ["fee", "by-fee"]]) {
        const data = await S.api(`/api/stats/collection?${qs({ site, period, by })}`);
        rateRows(id, data.groups, data.total);
      }
    } catch (e) {
      F.showError(form, e);
    }
  }

  function on(id, fn) {
    $(id).addEventListener("submit", (ev) => {
      ev.preventDefault();
      F.once($(id).querySelector("button[type=submit]"), fn).catch((e) => S.toast(e.message, true));
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    on("arrears-form", arrears);
    on("collection-form", collection);
    S.onSite((slug) => {
      site = slug;
      for (const id of ["arrears", "by-building", "by-fee"]) $(id).replaceChildren();
      $("arrears-total").textContent = "";
      choices().catch((e) => S.toast(e.message, true));
    });
  });
})();
