/* 收费页面公用 / shared by the finance pages (收费台, 出账, 收费项目): money as the API's decimal
 * strings (never float arithmetic on money), one bill's lines, buttons that act once, and the
 * API's refusals shown next to the field they name. Needs the shell (window.Shell). */
"use strict";

window.Fin = (() => {
  const S = window.Shell;

  /* "850.000000" → "850.00", "-12.5" → "-12.50", "0.125" → "0.13" (half up, as the console
     rounds): string and BigInt arithmetic only. */
  function yuan(value) {
    if (value === null || value === undefined || value === "") return "—";
    const m = /^\s*(-?)(\d*)(?:\.(\d*))?\s*$/.exec(String(value));
    if (!m) return String(value);
    const frac = (m[3] || "").padEnd(3, "0");
    let fen = BigInt((m[2] || "0") + frac.slice(0, 2));
    if (Number(frac[2]) >= 5) fen += 1n;
    const text = fen.toString().padStart(3, "0");
    const sign = m[1] && fen !== 0n ? "-" : "";
    return `${sign}${text.slice(0, -2)}.${text.slice(-2)}`;
  }

  /* A quantity or price without trailing zeros: "185.500000" → "185.5", "2.000000" → "2". */
  function qty(value) {
    if (value === null || value === undefined || value === "") return "—";
    const s = String(value);
    return s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s;
  }

  /* Fen as a BigInt from a decimal string, for sums shown on screen. */
  function fen(value) {
    const y = yuan(value);
    return y === "—" ? 0n : BigInt(y.replace(".", ""));
  }

  function fromFen(n) {
    const neg = n < 0n;
    const t = (neg ? -n : n).toString().padStart(3, "0");
    return `${neg ? "-" : ""}${t.slice(0, -2)}.${t.slice(-2)}`;
  }

  /* A stored "中文 / English" text in the current language; "中文）/ English" too (late fee
     lines), while "元/㎡" inside a description stays whole. */
  function words(text) {
    const m = /^(.*?\S)\s?\/ (?=[A-Za-z])(.*)$/.exec(String(text || ""));
    if (!m) return String(text || "");
    return S.lang === "en" ? m[2] : m[1];
  }

  // Shared with every page (the shell): cells, act-once buttons, refusals beside fields.
  const { cell, empty, once, showError, clearErrors } = S;

  /* One bill with its lines (GET /api/bills/{id}) into box. */
  async function showBill(id, box) {
    const b = await S.api(`/api/bills/${encodeURIComponent(id)}`);
    const head = S.el("p", { class: "bill-head" },
      S.el("strong", { text: b.number }), ` · ${S.t("账期", "Period")} ${b.period}`,
      ` · ${S.label("bill_state", b.state)}`,
      ` · ${S.t("应收", "Total")} ${yuan(b.total)} ${S.t("元", "yuan")}`,
      ` · ${S.t("已收", "Paid")} ${yuan(b.paid)}`,
      ` · ${S.t("到期日", "Due")} ${b.due_date}`);
    const rows = S.el("tbody");
    for (const ln of b.lines) {
      const tr = S.el("tr", { "data-line": ln.id });
      cell(tr, S.label("bill_line_kind", ln.kind));
      cell(tr, words(ln.description));
      cell(tr, qty(ln.quantity), "num");
      cell(tr, qty(ln.unit_price), "num");
      cell(tr, yuan(ln.amount), "num");
      rows.append(tr);
    }
    if (!b.lines.length) empty(rows, 5, "这张账单没有明细", "This bill has no lines");
    const table = S.el("table", { class: "lines" },
      S.el("thead", {}, S.el("tr", {}, ...[["类别", "Kind"], ["项目", "Item"], ["数量", "Quantity"],
        ["单价", "Unit price"], ["金额（元）", "Amount (yuan)"]].map(([zh, en]) =>
        S.el("th", { text: S.t(zh, en) })))), rows);
    const parts = [head, table];
    for (const r of b.hold_reasons || []) {
      parts.push(S.el("p", { class: "hold-reason", text: words(r.message) }));
    }
    if (b.void_reason) parts.push(S.el("p", { text: `${S.t("作废原因", "Void reason")}：${b.void_reason}` }));
    box.replaceChildren(...parts);
    box.hidden = false;
    return b;
  }

  return { yuan, qty, fen, fromFen, words, cell, empty, once, showError, clearErrors, showBill };
})();
