/* 收据 / the site's receipts on the cashier's desk, newest first (GET /api/payments): reprint
 * one (the printable receipt page) or 红冲 a payment with a reason, after a confirmation; the
 * list then shows the red receipt and which payment it undid. */
"use strict";

(() => {
  const S = window.Shell;
  const F = window.Fin;
  const $ = (id) => document.getElementById(id);
  let site = "";
  let opened = null;  // the payment id whose 红冲 form is open

  function query() {
    const q = new URLSearchParams({ site, limit: "100" });
    for (const [key, id] of [["unit", "r-unit"], ["from", "r-from"], ["to", "r-to"]]) {
      const v = $(id).value.trim();
      if (v) q.set(key, v);
    }
    return q;
  }

  function note(p, receipts) {
    if (p.kind === "reversal") {
      const of = receipts.get(p.reverses_id) || "";
      return S.t(`冲销收据 ${of}，原因：${p.reason || ""}`, `Reverses receipt ${of}, because: ${p.reason || ""}`);
    }
    if (p.reversed_by) {
      const by = receipts.get(p.reversed_by);
      return by ? S.t(`已红冲（红字收据 ${by}）`, `Reversed (red receipt ${by})`) : S.t("已红冲", "Reversed");
    }
    return p.allocations.map((a) => a.bill).join("、");
  }

  function row(p, receipts) {
    const tr = S.el("tr", { "data-payment": p.id, "data-receipt": p.receipt || "",
      class: p.reversed_by || p.kind === "reversal" ? "reversed" : null });
    F.cell(tr, p.receipt);
    F.cell(tr, S.time(p.received_at));
    F.cell(tr, p.unit);
    F.cell(tr, p.kind === "reversal" ? `${S.label("payment_kind", p.kind)} · ${S.label("payment_method", p.method)}`
      : S.label("payment_method", p.method));
    F.cell(tr, F.yuan(p.amount), p.kind === "reversal" ? "num red-amount" : "num");
    F.cell(tr, p.taken_by);
    F.cell(tr, note(p, receipts), "payment-note");
    const acts = F.cell(tr, "", "acts");
    if (p.receipt) {
      acts.append(S.el("a", { class: "cy-button reprint", target: "_blank",
        href: `/finance/receipts/${encodeURIComponent(p.receipt)}`, text: S.t("重新打印", "Reprint") }));
    }
    if (p.kind === "payment" && !p.reversed_by) {
      acts.append(" ", S.el("button", { type: "button", class: "danger reverse", text: S.t("红冲", "Reverse"),
        onclick: () => askReason(p, tr) }));
    }
    return tr;
  }

  /* The confirmation: a reason is required and 确认红冲 acts; 取消 leaves everything as it was. */
  function askReason(p, tr) {
    closeAsk();
    opened = p.id;
    const reason = S.el("input", { name: "reason", class: "note-input", maxlength: "500", required: true,
      placeholder: S.t("红冲原因（必填）", "Why it is reversed (required)") });
    const confirm = S.el("button", { type: "submit", class: "danger confirm-reverse",
      text: S.t("确认红冲", "Confirm reversal") });
    const cancel = S.el("button", { type: "button", class: "cancel", text: S.t("取消", "Cancel"),
      onclick: closeAsk });
    const form = S.el("form", { class: "row tight", novalidate: true },
      S.el("span", { text: S.t(`红冲收据 ${p.receipt}，金额 ${F.yuan(p.amount)} 元：`,
        `Reverse receipt ${p.receipt}, ${F.yuan(p.amount)} yuan:`) }),
      reason, confirm, cancel, S.el("p", { class: "form-error", role: "alert", hidden: true }));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      F.once(confirm, () => reverse(p, form, reason)).catch((e) => S.toast(e.message, true));
    });
    const ask = S.el("tr", { class: "reverse-form" }, S.el("td", { colspan: "8" }, form));
    tr.after(ask);
    reason.focus();
  }

  function closeAsk() {
    for (const n of document.querySelectorAll("#receipts tr.reverse-form")) n.remove();
    opened = null;
  }

  async function reverse(p, form, reason) {
    F.clearErrors(form);
    if (!reason.value.trim()) {
      F.showError(form, { field: "reason", message: S.t("请填写红冲原因", "Say why it is reversed") });
      return;
    }
    try {
      const r = await S.api(`/api/payments/${p.id}/reverse`, { method: "POST", json: { reason: reason.value.trim() } });
      S.toast(S.t(`已红冲，红字收据 ${r.receipt}`, `Reversed: red receipt ${r.receipt}`));
      closeAsk();
      document.dispatchEvent(new CustomEvent("fin:changed", { detail: r }));
      await load();
    } catch (e) {
      F.showError(form, e.field === "reason" ? e : Object.assign(e, { field: null }));
    }
  }

  async function load() {
    const form = $("receipts-form");
    F.clearErrors(form);
    let data;
    try {
      data = await S.api(`/api/payments?${query()}`);
    } catch (e) {
      F.showError(form, e);
      return;
    }
    const receipts = new Map(data.payments.map((p) => [p.id, p.receipt]));
    const body = $("receipts");
    if (!data.payments.length) F.empty(body, 8, "还没有收据", "No receipts yet");
    else body.replaceChildren(...data.payments.map((p) => row(p, receipts)));
    if (opened !== null) closeAsk();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("receipts-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      load().catch((e) => S.toast(e.message, true));
    });
    document.addEventListener("fin:paid", () => { load().catch(() => {}); });
    S.onSite((slug) => {
      site = slug;
      load().catch((e) => S.toast(e.message, true));
    });
  });
})();
