/* 档案与客服台共用 / shared by the register pages and the desk: table cells, buttons that act
 * once, API refusals shown next to the field they name, choices from the label table, and a
 * record's history in words. Needs the shell (window.Shell). */
"use strict";

window.Rec = (() => {
  const S = window.Shell;

  // Shared with every page (the shell): cells, act-once buttons, refusals beside fields.
  const { cell, empty, once, showError, clearErrors } = S;

  /* <option>s for the codes of a label table (all of them, or the given ones, in order). */
  function choices(select, table, codes, blank) {
    const list = codes || Object.keys((window.CY_LABELS || {})[table] || {});
    const opts = list.map((code) => S.el("option", { value: code, text: S.label(table, code) }));
    if (blank) opts.unshift(S.el("option", { value: "", text: blank }));
    select.replaceChildren(...opts);
  }

  /* "89.500000" → "89.5"; "2.00" stays as the register writes areas. */
  function number(value) {
    if (value === null || value === undefined) return "";
    const s = String(value);
    return /^-?\d+\.\d{3,}$/.test(s) ? s.replace(/0+$/, "").replace(/\.$/, "") : s;
  }

  /* Field names of the register as staff say them; codes go through their label table. */
  const FIELDS = {
    code: ["编号", "Code"], building_id: ["楼栋", "Building"], floor: ["楼层", "Floor"],
    area: ["建筑面积", "Floor area"], inner_area: ["套内面积", "Inner area"],
    unit_type: ["类型", "Type"], status: ["状态", "Status"], unit_id: ["房屋", "Unit"],
    unit_ref: ["房号", "Unit"], role: ["身份", "Role"], name: ["姓名", "Name"],
    phone: ["电话", "Phone"], id_number: ["证件号", "ID number"], email: ["邮箱", "E-mail"],
    move_in: ["入住日期", "Moved in"], move_out: ["迁出日期", "Moved out"],
    lease_start: ["租期开始", "Lease start"], lease_end: ["租期结束", "Lease end"],
    note: ["备注", "Note"], plate: ["车牌", "Plate"], holder: ["车主", "Holder"],
    lots: ["可用车场", "Car parks"], site_id: ["小区", "Community"],
  };
  const VALUE_TABLES = { unit_type: "unit_type", status: "unit_status", role: "resident_role" };
  const HIDDEN = new Set(["site_id"]);

  function valueText(key, value) {
    if (value === null || value === undefined || value === "") return S.t("（空）", "(empty)");
    if (VALUE_TABLES[key]) return S.label(VALUE_TABLES[key], value);
    if (Array.isArray(value)) return value.length ? value.join("、") : S.t("全部", "all");
    if (key === "building_id" || key === "unit_id") return "";  // an id says nothing to staff
    return number(value);
  }

  function changes(entry) {
    const after = entry.after || {};
    const before = entry.before || {};
    const keys = Object.keys(entry.action === "delete" ? before : after).filter((k) => !HIDDEN.has(k));
    const parts = [];
    for (const key of keys) {
      const name = FIELDS[key] ? S.t(FIELDS[key][0], FIELDS[key][1]) : key;
      if (entry.action === "update") {
        const from = valueText(key, before[key]);
        const to = valueText(key, after[key]);
        parts.push(from || to ? `${name}：${from} → ${to}` : S.t(`${name}已修改`, `${name} changed`));
      } else if (entry.action === "create") {
        const v = after[key];
        if (v !== null && v !== undefined && v !== "" && !(Array.isArray(v) && !v.length)) {
          const text = valueText(key, v);
          if (text) parts.push(`${name}：${text}`);
        }
      }
    }
    return parts.join("；");
  }

  /* GET /api/{kind}/{id}/history into a table under a form: who, when (site time), what. */
  async function history(kind, id, box) {
    box.replaceChildren(S.el("h4", { text: S.t("修改记录", "History") }));
    const data = await S.api(`/api/${kind}/${encodeURIComponent(id)}/history?limit=50`);
    const body = S.el("tbody");
    for (const e of data.history.slice().reverse()) {
      const tr = S.el("tr", { "data-history": e.id });
      cell(tr, S.time(e.at));
      cell(tr, e.actor_name || S.t("系统", "system"));
      cell(tr, S.label("record_action", e.action));
      cell(tr, changes(e), "what");
      body.append(tr);
    }
    if (!data.history.length) empty(body, 4, "暂无记录", "No changes yet");
    box.append(S.el("table", { class: "history" },
      S.el("thead", {}, S.el("tr", {}, ...[["时间", "When"], ["操作人", "Who"], ["操作", "Action"],
        ["内容", "What changed"]].map(([zh, en]) => S.el("th", { text: S.t(zh, en) })))), body));
  }

  return { cell, empty, once, showError, clearErrors, choices, number, history };
})();
