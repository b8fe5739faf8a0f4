/* 收费项目 / a site's fee items: list, create (POST /api/fee-items) and edit (PATCH
 * /api/fee-items/{id}). Kind and cycle are choices; the rule is a form of its fields; the API's
 * refusal is shown next to the field it names and nothing typed is lost. */
"use strict";

(() => {
  const S = window.Shell;
  const F = window.Fin;
  const D = window.DocForm;
  const $ = (id) => document.getElementById(id);
  let site = "";
  let editing = null;  // the fee item being edited, null for a new one

  /* A new item's rule fields by kind (blank decimal strings, booleans, codes). */
  const TEMPLATES = {
    area: { rates: { residential: "", commercial: "" }, vacant_share: "" },
    fixed: { amount: "", exclude_vacant: false },
    metered: { utility: "electricity", price: "" },
    shared: { utility: "electricity", basis: "area", price: "" },
    parking_pass: { price: "" },
    parking_temp: {},
  };
  const LATE = { daily_rate: "", grace_days: 0, cap: "" };

  function field(name) { return $("fee-form").elements.namedItem(name); }

  function choices(select, table) {
    select.replaceChildren(...Object.keys(window.CY_LABELS[table]).map((code) =>
      S.el("option", { value: code, text: S.label(table, code) })));
  }

  function row(f) {
    const tr = S.el("tr", { "data-fee": f.id, "data-code": f.code });
    F.cell(tr, f.name);
    F.cell(tr, f.code);
    F.cell(tr, S.label("fee_kind", f.kind));
    F.cell(tr, S.label("cycle", f.cycle));
    F.cell(tr, f.due_days, "num");
    F.cell(tr, f.active ? S.t("是", "Yes") : S.t("否", "No"));
    F.cell(tr, "").append(S.el("button", { type: "button", class: "edit-fee", text: S.t("编辑", "Edit"),
      onclick: () => edit(f) }));
    return tr;
  }

  async function load() {
    const data = await S.api(`/api/fee-items?site=${encodeURIComponent(site)}`);
    const body = $("fee-items");
    if (!data.fee_items.length) F.empty(body, 7, "还没有收费项目", "No fee items yet");
    else body.replaceChildren(...data.fee_items.map(row));
    return data.fee_items;
  }

  function showRule(kind, rule) {
    D.render($("rule-fields"), rule, "rule");
    if (!$("rule-fields").children.length) {
      $("rule-fields").append(S.el("p", { class: "note", text: S.t(
        "临时停车欠费按车辆的未缴停车费计，不需填写规则", "Unpaid visitor-parking fees are billed as they are: nothing to set") }));
    }
    $("fee-form").dataset.kind = kind;
  }

  function open(f) {
    const form = $("fee-form");
    F.clearErrors(form);
    editing = f;
    $("fee-title").textContent = f ? S.t(`编辑：${f.name}`, `Edit: ${f.name}`) : S.t("新建收费项目", "New fee item");
    field("code").value = f ? f.code : "";
    field("code").readOnly = !!f;
    field("name").value = f ? f.name : "";
    field("kind").value = f ? f.kind : "fixed";
    field("cycle").value = f ? f.cycle : "monthly";
    field("due_days").value = f ? String(f.due_days) : "15";
    field("active").checked = f ? f.active : true;
    showRule(field("kind").value, f ? f.rule : TEMPLATES[field("kind").value]);
    D.render($("late-fields"), f && f.late_fee ? { ...LATE, ...f.late_fee, cap: f.late_fee.cap || "" } : LATE, "late_fee");
    form.hidden = false;
    field(f ? "name" : "code").focus();
  }

  function edit(f) { open(f); }

  function body() {
    const due = field("due_days").value.trim();
    const out = { name: field("name").value.trim(), kind: field("kind").value,
      cycle: field("cycle").value, active: field("active").checked,
      due_days: /^\d+$/.test(due) ? Number(due) : due,
      rule: D.collect($("rule-fields"), "rule") };
    const late = D.collect($("late-fields"), "late_fee");
    out.late_fee = late.daily_rate === undefined ? null : late;
    if (!editing) out.code = field("code").value.trim();
    return out;
  }

  async function save(ev) {
    ev.preventDefault();
    const form = $("fee-form");
    await F.once($("save-fee"), async () => {
      F.clearErrors(form);
      try {
        const data = body();
        const saved = editing
          ? await S.api(`/api/fee-items/${editing.id}`, { method: "PATCH", json: data })
          : await S.api("/api/fee-items", { method: "POST", json: { site, ...data } });
        form.hidden = true;
        editing = null;
        S.toast(S.t(`已保存：${saved.name}`, `Saved: ${saved.name}`));
        await load();
      } catch (e) {
        F.showError(form, e);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    choices(field("kind"), "fee_kind");
    choices(field("cycle"), "cycle");
    field("kind").addEventListener("change", () => {
      const kind = field("kind").value;
      const same = editing && editing.kind === kind;
      showRule(kind, same ? editing.rule : TEMPLATES[kind]);
    });
    $("new-fee").addEventListener("click", () => open(null));
    $("cancel-fee").addEventListener("click", () => { $("fee-form").hidden = true; editing = null; });
    $("fee-form").addEventListener("submit", (ev) => { save(ev).catch((e) => S.toast(e.message, true)); });
    S.onSite((slug) => {
      site = slug;
      $("fee-form").hidden = true;
      editing = null;
      load().catch((e) => S.toast(e.message, true));
    });
  });
})();
