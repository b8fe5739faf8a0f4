/* 规则表单 / a nested JSON rule (a fee item's rule and late fee, a car park's tariff) as a
 * form: one labelled input per leaf, named by its path (rule.rates.residential), so an API
 * refusal naming that path lands next to its input. Codes are choices through the label table;
 * numbers keep their type; a tier list is one row of fields per tier, a list of names is
 * comma-separated text. Keys are shown by their words, never raw. */
"use strict";

window.DocForm = (() => {
  const S = window.Shell;

  /* Words for each key (zh, en); a rates.<unit type> key is named by the unit type. */
  const WORDS = {
    id: ["标准编号", "tariff id"],
    name: ["名称", "name"],
    rates: ["单价（元/㎡·月）", "price (yuan/m² per month)"],
    vacant_share: ["空置房收费比例（0–1）", "share a vacant unit pays (0–1)"],
    prepay_discount: ["预缴折扣（0–1）", "prepay discount (0–1)"],
    amount: ["金额（元/月）", "amount (yuan per month)"],
    unit_types: ["适用房屋类型", "unit types"],
    exclude_vacant: ["空置房不收", "vacant units do not pay"],
    utility: ["能源类型", "utility"],
    tiers: ["阶梯价", "tier"],
    upto: ["用量上限（末档留空）", "up to (blank on the last tier)"],
    price: ["价格（元）", "price (yuan)"],
    anomaly: ["异常判定", "anomaly check"],
    spike_factor: ["突增倍数", "spike factor"],
    spike_periods: ["参考账期数", "periods compared"],
    spike_cap: ["用量上限", "usage cap"],
    stuck_periods: ["不走字账期数", "stuck periods"],
    boundary_hours: ["读数时间容差（小时）", "reading tolerance (hours)"],
    basis: ["分摊方式", "basis"],
    buildings: ["楼栋", "buildings"],
    daily_rate: ["滞纳金日费率", "late fee per day"],
    grace_days: ["宽限天数", "grace days"],
    cap: ["滞纳金封顶比例", "late fee cap"],
    timezone: ["时区", "time zone"],
    rounding: ["取整", "rounding"],
    free_minutes: ["免费时长（分钟）", "free minutes"],
    deduct_free_minutes: ["计费时扣除免费时长", "deduct the free minutes"],
    grace_minutes: ["缴费后离场时限（分钟）", "minutes to leave after paying"],
    daily_cap_window: ["封顶窗口", "cap window"],
    lost_entry: ["无入场记录时", "without an entry record"],
    new_energy: ["新能源车", "new-energy vehicles"],
    discount_percent: ["折扣（%）", "discount (%)"],
    extra_free_minutes: ["额外免费分钟", "extra free minutes"],
    small: ["小型车", "small vehicles"],
    large: ["大型车", "large vehicles"],
    first_period: ["首段", "first period"],
    unit: ["之后每段", "then per period"],
    minutes: ["分钟", "minutes"],
    daily_cap: ["每日封顶（元）", "daily cap (yuan)"],
    lost_entry_fee: ["无入场记录收费（元）", "fee without entry record (yuan)"],
    night: ["夜间", "night"],
    mode: ["计费方式", "mode"],
    day: ["白天时段", "day hours"],
    start: ["开始", "start"],
    end: ["结束", "end"],
  };
  /* Keys whose values are codes: the label table that names them. */
  const CHOICES = { utility: "utility", basis: "share_basis", rounding: "tariff_rounding",
    daily_cap_window: "cap_window", lost_entry: "lost_entry", mode: "night_mode" };
  const HIDDEN = new Set(["rule", "late_fee", "prices"]);

  /* "rule.tiers[1].price" → [{key: "rule"}, {key: "tiers", index: 1}, {key: "price"}] */
  function segs(path) {
    return path.split(".").map((part) => {
      const m = /^(.*)\[(\d+)\]$/.exec(part);
      return m ? { key: m[1], index: Number(m[2]) } : { key: part, index: null };
    });
  }

  function words(path) {
    const parts = segs(path);
    const out = [];
    parts.forEach(({ key, index }, i) => {
      if (HIDDEN.has(key) && i < parts.length - 1) return;
      if (i > 0 && parts[i - 1].key === "rates") {
        out.push(S.label("unit_type", key));
        return;
      }
      const w = WORDS[key];
      let text = w ? S.t(w[0], w[1]) : key;
      if (index !== null) text += S.t(` 第 ${index + 1} 档`, ` ${index + 1}`);
      out.push(text);
    });
    return out.join(" · ");
  }

  const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

  /* [path, value] for every leaf of doc: objects and lists of objects are opened up (a tier
     is tiers[0].upto, the path the console names in a refusal); lists of names are leaves. */
  function flatten(doc, prefix) {
    const out = [];
    for (const [key, value] of Object.entries(doc || {})) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (isObject(value)) out.push(...flatten(value, path));
      else if (Array.isArray(value) && value.length && value.every(isObject)) {
        value.forEach((item, i) => out.push(...flatten(item, `${path}[${i}]`)));
      } else out.push([path, value]);
    }
    return out;
  }

  /* int, bool, codes (unit types as boxes), list (names, comma-separated), json, text
     (decimal strings are text). */
  function typeOf(path, value) {
    if (typeof value === "boolean") return "bool";
    if (typeof value === "number") return "int";
    if (Array.isArray(value)) {
      if (segs(path).pop().key === "unit_types") return "codes";
      return value.every((v) => typeof v === "string") ? "list" : "json";
    }
    return "text";
  }

  function input(path, value, type) {
    const key = segs(path).pop().key;
    const attrs = { name: path, "data-field": path, "data-type": type };
    const caption = S.el("span", { text: words(path) });
    let node;
    if (type === "bool") {
      node = S.el("input", { ...attrs, type: "checkbox" });
      node.checked = !!value;
      return S.el("label", { class: "check" }, node, caption);
    }
    if (type === "codes") {
      const boxes = Object.keys(window.CY_LABELS.unit_type).map((code) => {
        const box = S.el("input", { type: "checkbox", value: code });
        box.checked = (value || []).includes(code);
        return S.el("label", { class: "check" }, box, S.el("span", { text: S.label("unit_type", code) }));
      });
      return S.el("div", { ...attrs, class: "codes" }, caption, ...boxes);
    }
    if (CHOICES[key] && type === "text") {
      const table = CHOICES[key];
      node = S.el("select", attrs, ...Object.keys(window.CY_LABELS[table] || {}).map((code) =>
        S.el("option", { value: code, text: S.label(table, code) })));
      node.value = value || node.options[0].value;
    } else {
      node = S.el("input", { ...attrs, size: type === "json" || type === "list" ? "20" : "10",
        inputmode: type === "int" ? "numeric" : null });
      node.value = value === null || value === undefined ? ""
        : type === "json" ? JSON.stringify(value) : type === "list" ? value.join(", ") : String(value);
    }
    return S.el("label", {}, caption, node);
  }

  /* Leaves in the order of WORDS (the order a person fills them in), not the stored order. */
  const ORDER = Object.keys(WORDS);
  function rank(path) {
    return segs(path).flatMap(({ key, index }) =>
      [ORDER.includes(key) ? ORDER.indexOf(key) : ORDER.length, index === null ? -1 : index]);
  }
  function byOrder([a], [b]) {
    const ra = rank(a);
    const rb = rank(b);
    for (let i = 0; i < Math.min(ra.length, rb.length); i += 1) if (ra[i] !== rb[i]) return ra[i] - rb[i];
    return ra.length - rb.length;
  }

  /* Fill box with one input per leaf of doc (under prefix). */
  function render(box, doc, prefix) {
    const leaves = flatten(doc, prefix).sort(byOrder);
    box.replaceChildren(...leaves.map(([path, value]) => input(path, value, typeOf(path, value))));
  }

  function put(doc, path, value) {
    const parts = segs(path);
    let at = doc;
    parts.forEach(({ key, index }, i) => {
      const last = i === parts.length - 1;
      if (index === null) {
        if (last) at[key] = value;
        else at = at[key] || (at[key] = {});
        return;
      }
      const list = at[key] || (at[key] = []);
      if (last) list[index] = value;
      else at = list[index] || (list[index] = {});
    });
  }

  const refuse = (path, zh, en) => Object.assign(new Error(S.t(zh, en)), { field: path });

  /* The document the inputs in box say; blank text is left out. Throws {field, message}. */
  function collect(box, prefix) {
    const doc = {};
    for (const node of box.querySelectorAll("[data-field]")) {
      const path = node.dataset.field;
      const rel = prefix ? path.slice(prefix.length + 1) : path;
      const type = node.dataset.type;
      if (type === "bool") { put(doc, rel, node.checked); continue; }
      if (type === "codes") {
        const picked = [...node.querySelectorAll("input:checked")].map((c) => c.value);
        if (picked.length) put(doc, rel, picked);
        continue;
      }
      const raw = node.value.trim();
      if (raw === "") continue;
      if (type === "int") {
        if (!/^-?\d+$/.test(raw)) throw refuse(path, "须为整数", "must be a whole number");
        put(doc, rel, Number(raw));
      } else if (type === "list") {
        put(doc, rel, raw.split(/[,，、\s]+/).filter(Boolean));
      } else if (type === "json") {
        try {
          put(doc, rel, JSON.parse(raw));
        } catch (e) {
          throw refuse(path, "格式不对", "cannot be read");
        }
      } else put(doc, rel, raw);
    }
    return doc;
  }

  return { render, collect, flatten, words };
})();
