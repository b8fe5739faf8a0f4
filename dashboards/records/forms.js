/* 档案表单 / the register's forms: one form per record (new or existing) from a field list,
 * codes as choices from the label table, refusals next to their field, and the record's
 * history under the form. A new record is POSTed; an existing one PATCHed with what changed. */
"use strict";

window.RecForm = (() => {
  const S = window.Shell;
  const R = window.Rec;

  const UNIT = [
    { key: "code", zh: "房号", en: "Unit code", required: true, max: 64 },
    { key: "building", zh: "楼栋编号", en: "Building code", required: true, max: 32 },
    { key: "floor", zh: "楼层", en: "Floor", type: "int" },
    { key: "area", zh: "建筑面积 m²", en: "Floor area m²", required: true, type: "decimal" },
    { key: "inner_area", zh: "套内面积 m²", en: "Inner area m²", type: "decimal" },
    { key: "unit_type", zh: "类型", en: "Type", type: "choice", table: "unit_type" },
    { key: "status", zh: "状态", en: "Status", type: "choice", table: "unit_status" },
  ];
  const RESIDENT = [
    { key: "role", zh: "身份", en: "Role", type: "choice", table: "resident_role",
      codes: ["owner", "tenant"], fixedOnEdit: true },
    { key: "name", zh: "姓名", en: "Name", required: true, max: 100 },
    { key: "phone", zh: "电话", en: "Phone", max: 32 },
    { key: "id_number", zh: "证件号", en: "ID number", max: 32 },
    { key: "email", zh: "邮箱", en: "E-mail", max: 200 },
    { key: "move_in", zh: "入住日期", en: "Moved in", type: "date" },
    { key: "move_out", zh: "迁出日期", en: "Moved out", type: "date" },
    { key: "lease_start", zh: "租期开始（租户）", en: "Lease start (tenants)", type: "date" },
    { key: "lease_end", zh: "租期结束（租户）", en: "Lease end (tenants)", type: "date" },
    { key: "note", zh: "备注", en: "Note", type: "text", max: 2000, wide: true },
  ];
  const VEHICLE = [
    { key: "plate", zh: "车牌", en: "Plate", required: true, max: 16 },
    { key: "holder", zh: "车主", en: "Holder", required: true, max: 100 },
    { key: "role", zh: "身份", en: "Role", type: "choice", table: "resident_role",
      codes: ["owner", "tenant", "staff"] },
  ];

  function input(f, value, editing) {
    let node;
    if (f.type === "choice") {
      node = S.el("select", { name: f.key, "data-field": f.key });
      R.choices(node, f.table, f.codes);
      if (value) node.value = value;
    } else {
      node = S.el("input", { name: f.key, "data-field": f.key, maxlength: f.max || null,
                             type: f.type === "date" ? "date" : "text",
                             inputmode: f.type === "int" || f.type === "decimal" ? "decimal" : null,
                             required: f.required || null });
      node.value = value === null || value === undefined ? "" : String(value);
    }
    if (editing && f.fixedOnEdit) node.disabled = true;
    return S.el("label", { class: f.wide ? "wide" : null }, S.el("span", { text: S.t(f.zh, f.en) }), node);
  }

  /* The form of one record in box. spec: {fields, kind(record) → API kind, title, extra()}:
     extra gives the fixed fields of a new record (site, unit). onSaved(saved) after a save. */
  function show(box, spec, record, onSaved) {
    const editing = !!(record && record.id);
    const form = S.el("form", { class: "record-form", novalidate: true });
    const fields = S.el("div", { class: "row" }, ...spec.fields.map((f) =>
      input(f, record ? record[f.key] : (f.type === "choice" ? (spec.defaults || {})[f.key] : ""), editing)));
    const save = S.el("button", { type: "submit", class: "primary save",
                                  text: editing ? S.t("保存修改", "Save changes") : S.t("新建", "Create") });
    const cancel = S.el("button", { type: "button", class: "cancel", text: S.t("关闭", "Close") });
    const title = S.el("h3", { text: editing ? `${S.t(spec.zh, spec.en)} · ${spec.name(record)}`
                                             : S.t(`新建${spec.zh}`, `New ${spec.en.toLowerCase()}`) });
    form.append(fields, S.el("div", { class: "row" }, save, cancel),
                S.el("p", { class: "form-error", role: "alert", hidden: true }));
    const past = S.el("div", { class: "history-box" });
    box.replaceChildren(title, form, past);
    box.hidden = false;
    cancel.addEventListener("click", () => { box.hidden = true; box.replaceChildren(); });
    if (editing) R.history(spec.kind(record), record.id, past).catch((e) => S.toast(e.message, true));

    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      R.once(save, async () => {
        R.clearErrors(form);
        const body = {};
        for (const f of spec.fields) {
          const node = form.elements.namedItem(f.key);
          if (node.disabled) continue;
          const value = node.value.trim();
          const before = record && record[f.key] !== null && record[f.key] !== undefined
            ? String(record[f.key]) : "";
          if (editing && value === before) continue;
          if (!editing && value === "") continue;
          body[f.key] = value === "" ? null : value;
        }
        const role = form.elements.namedItem("role");
        const kind = spec.kind(record || { role: role ? role.value : null });
        try {
          let saved;
          if (editing) {
            if (!Object.keys(body).length) { S.toast(S.t("没有修改", "Nothing changed")); return; }
            saved = await S.api(`/api/${kind}/${record.id}`, { method: "PATCH", json: body });
          } else {
            if (spec.resident) delete body.role;
            saved = await S.api(`/api/${kind}`, { method: "POST", json: { ...body, ...spec.extra() } });
          }
          S.toast(S.t("已保存", "Saved"));
          show(box, spec, saved, onSaved);
          await onSaved(saved);
        } catch (err) {
          R.showError(form, err);
        }
      });
    });
  }

  return { UNIT, RESIDENT, VEHICLE, show };
})();
