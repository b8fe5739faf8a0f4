/* 出账 / bill runs: start (or resume) a period's run, follow its progress, and pass held bills
 * after review (复核通过), all through the billing API for the shell's 小区. */
"use strict";

(() => {
  const S = window.Shell;
  const F = window.Fin;
  const $ = (id) => document.getElementById(id);
  let site = "";
  let polling = null;

  /* The period just over, in the site's calendar: last month, last quarter, this year. */
  function defaultPeriod(cycle) {
    const today = new Intl.DateTimeFormat("en-CA", { timeZone: S.zone(site) }).format(new Date());
    let [y, m] = today.split("-").map(Number);
    if (cycle === "yearly") return String(y);
    if (cycle === "quarterly") {
      let q = Math.floor((m - 1) / 3);
      if (q === 0) { y -= 1; q = 4; }
      return `${y}-Q${q}`;
    }
    m -= 1;
    if (m === 0) { y -= 1; m = 12; }
    return `${y}-${String(m).padStart(2, "0")}`;
  }

  function fillCycles() {
    const pick = $("cycle");
    pick.replaceChildren(...Object.keys(window.CY_LABELS.cycle).map((code) =>
      S.el("option", { value: code, text: S.label("cycle", code) })));
    pick.value = "monthly";
    pick.addEventListener("change", () => { $("period").value = defaultPeriod(pick.value); });
  }

  function runRow(r) {
    const tr = S.el("tr", { "data-run": r.id });
    F.cell(tr, S.label("cycle", r.cycle));
    F.cell(tr, r.period);
    F.cell(tr, S.label("run_state", r.state), `state state-${r.state}`);
    const bar = S.el("progress", { max: Math.max(r.units_total, 1), value: r.units_done });
    F.cell(tr, "").append(bar, ` ${r.units_done}/${r.units_total}`);
    F.cell(tr, r.bills, "num");
    F.cell(tr, r.held, "num");
    F.cell(tr, F.yuan(r.total), "num");
    F.cell(tr, S.time(r.started_at));
    F.cell(tr, r.error ? S.msg(r.error) : "");
    return tr;
  }

  async function loadRuns() {
    const data = await S.api(`/api/bill-runs?site=${encodeURIComponent(site)}&limit=50`);
    const body = $("runs");
    if (!data.bill_runs.length) F.empty(body, 9, "尚无出账记录", "No bill runs yet");
    else body.replaceChildren(...data.bill_runs.map(runRow));
    const running = data.bill_runs.find((r) => r.state === "running");
    if (running && polling === null) poll(running.id);
  }

  function heldRow(b) {
    const tr = S.el("tr", { "data-bill": b.id });
    const open = S.el("button", { type: "button", class: "link open-bill", text: b.number,
      onclick: () => F.showBill(b.id, $("bill-detail")).catch((e) => S.toast(e.message, true)) });
    F.cell(tr, "").append(open);
    F.cell(tr, b.unit);
    F.cell(tr, b.period);
    F.cell(tr, F.yuan(b.total), "num");
    F.cell(tr, (b.hold_reasons || []).map((r) => F.words(r.message)).join("；"));
    const note = S.el("input", { class: "note-input", name: "note", maxlength: "500", required: true,
      placeholder: S.t("复核说明（必填）", "What you checked (required)") });
    const pass = S.el("button", { type: "submit", class: "release primary", text: S.t("复核通过", "Pass review") });
    const form = S.el("form", { class: "row tight", novalidate: true }, note, pass,
      S.el("p", { class: "form-error", role: "alert", hidden: true }));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      F.once(pass, async () => {
        F.clearErrors(form);
        if (!note.value.trim()) {
          F.showError(form, { field: "note", message: S.t("请写下复核说明：核实了什么", "Say what you checked") });
          return;
        }
        try {
          await S.api(`/api/bills/${b.id}/release`, { method: "POST", json: { note: note.value.trim() } });
          tr.remove();
          S.toast(S.t(`账单 ${b.number} 已复核通过`, `Bill ${b.number} passed review`));
          if (!$("held").querySelector("tr[data-bill]")) F.empty($("held"), 6, "没有待复核的账单", "Nothing held");
        } catch (e) {
          F.showError(form, e.field === "note" ? e : Object.assign(e, { field: null }));
        }
      });
    });
    F.cell(tr, "").append(form);
    return tr;
  }

  async function loadHeld() {
    const held = [];  // every held bill: follow the keyset pages to the end
    let after = "";
    do {
      const data = await S.api(`/api/bills?site=${encodeURIComponent(site)}&state=held&limit=200`
        + (after ? `&after=${encodeURIComponent(after)}` : ""));
      held.push(...data.bills);
      after = data.next;
    } while (after);
    const body = $("held");
    if (!held.length) F.empty(body, 6, "没有待复核的账单", "Nothing held");
    else body.replaceChildren(...held.map(heldRow));
  }

  async function poll(id) {
    polling = id;
    let run;
    try {
      for (;;) {
        run = await S.api(`/api/bill-runs/${id}`);
        const row = document.querySelector(`tr[data-run="${id}"]`);
        if (row) row.replaceWith(runRow(run));
        if (run.state !== "running") break;
        await new Promise((r) => setTimeout(r, 700));
      }
    } finally {
      polling = null;
    }
    await Promise.all([loadRuns(), loadHeld()]);
    return run;
  }

  async function start(ev) {
    ev.preventDefault();
    const form = $("start-form");
    await F.once($("start"), async () => {
      F.clearErrors(form);
      try {
        const run = await S.api("/api/bill-runs", { method: "POST", json: {
          site, cycle: $("cycle").value, period: $("period").value.trim() } });
        const body = $("runs");
        const shown = body.querySelector(`tr[data-run="${run.id}"]`);
        if (shown) shown.replaceWith(runRow(run));
        else if (body.querySelector("tr.empty")) body.replaceChildren(runRow(run));
        else body.prepend(runRow(run));
        const end = polling === run.id ? run : await poll(run.id);
        if (end.state === "done") S.toast(S.t(`${end.period} 出账完成`, `${end.period}: bills run`));
        else if (end.state === "failed") S.toast(S.msg(end.error || "") || S.t("出账失败", "The run failed"), true);
      } catch (e) {
        F.showError(form, e);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    fillCycles();
    $("start-form").addEventListener("submit", (ev) => { start(ev).catch((e) => S.toast(e.message, true)); });
    S.onSite((slug) => {
      site = slug;
      $("period").value = defaultPeriod($("cycle").value);
      $("bill-detail").hidden = true;
      Promise.all([loadRuns(), loadHeld()]).catch((e) => S.toast(e.message, true));
    });
  });
})();
