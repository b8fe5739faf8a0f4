/* 访客通行证 / visitor passes: issue one (POST …/access/passes), show its QR image
 * (GET …/passes/{id}/qr.svg) with the number code and a print button, list the site's passes
 * and revoke one with a reason (POST …/passes/{id}/revoke). Used by the 门禁 page's tab and by
 * the guard's door view (签发访客证): AccPasses.mount(box, {list}) builds the form in ``box``.
 * Times are typed in the site's zone and sent with its offset. */
"use strict";

window.AccPasses = (() => {
  const S = window.Shell;
  const A = window.Acc;
  const VALID_HOURS = 4;

  function field(name, zh, en, attrs) {
    return S.el("label", {}, S.el("span", { text: S.t(zh, en) }),
                S.el("input", Object.assign({ name, autocomplete: "off" }, attrs || {})));
  }

  function mount(box, opts) {
    const options = opts || {};
    let site = "";
    let tz = "Asia/Shanghai";
    const all = S.el("input", { type: "checkbox", class: "pass-all-doors", checked: true });
    const doors = S.el("input", { name: "doors", maxlength: "400", disabled: true,
                                  placeholder: S.t("门的标识，例如 gate-east, b1-lobby", "door keys, e.g. gate-east, b1-lobby") });
    const submit = S.el("button", { type: "submit", class: "primary pass-issue",
                                    text: S.t("签发", "Issue") });
    const form = S.el("form", { class: "card issue pass-form", novalidate: true },
      S.el("h2", { text: S.t("签发访客通行证", "Issue a visitor pass") }),
      S.el("div", { class: "row" },
        field("visitor_name", "访客姓名", "Visitor's name", { maxlength: "64" }),
        field("unit", "被访房号", "Host unit", { maxlength: "64",
                                              placeholder: S.t("例如 1-101", "e.g. 1-101") }),
        field("valid_from", "生效时间", "Valid from", { type: "datetime-local" }),
        field("valid_to", "截止时间", "Valid to", { type: "datetime-local" }),
        field("uses", "可用次数", "Uses", { type: "number", min: "1", max: "50", value: "1" })),
      S.el("div", { class: "row" },
        S.el("label", { class: "inline" }, all, S.el("span", { text: S.t("全部门", "All doors") })),
        S.el("label", {}, S.el("span", { text: S.t("门（逗号分隔）", "Doors (comma between)") }), doors),
        submit),
      S.el("p", { class: "form-error", role: "alert", hidden: true }));
    const result = S.el("section", { class: "card pass-result", hidden: true, "aria-live": "polite" });
    const parts = [form, result];
    let list = null;
    let stateSelect = null;
    if (options.list) {
      stateSelect = S.el("select", { class: "pass-state" },
        ...["active", "revoked", "expired"].map((s) => S.el("option", { value: s,
                                                                      text: S.label("credential_state", s) })),
        S.el("option", { value: "", text: S.t("全部", "All") }));
      list = S.el("tbody", { class: "passes" });
      const head = ["访客|Visitor", "被访房号|Host unit", "门|Doors", "有效期|Valid",
                    "已用/次数|Used", "状态|State", "操作|Action"]
        .map((h) => S.el("th", { text: S.t(...h.split("|")) }));
      parts.push(S.el("div", { class: "card" },
        S.el("div", { class: "row" }, S.el("h2", { class: "grow", text: S.t("访客通行证", "Visitor passes") }),
             S.el("label", {}, S.el("span", { text: S.t("状态", "State") }), stateSelect)),
        S.el("table", {}, S.el("thead", {}, S.el("tr", {}, ...head)), list)));
      stateSelect.addEventListener("change", () => load());
    }
    box.replaceChildren(...parts);

    const when = (p) => `${S.time(p.valid_from, tz)} ~ ${S.time(p.valid_to, tz)}`;

    function show(p) {
      const img = S.el("img", { class: "qr", alt: S.t("通行证二维码", "Pass QR code"), width: "240",
                                height: "240", src: A.siteUrl(site, `passes/${p.id}/qr.svg`) });
      const print = S.el("button", { type: "button", class: "pass-print", text: S.t("打印", "Print") });
      print.addEventListener("click", () => {
        document.body.classList.add("print-pass");
        window.print();
        document.body.classList.remove("print-pass");
      });
      result.replaceChildren(
        S.el("h2", { text: S.t("访客通行证", "Visitor pass") }), img,
        S.el("p", { class: "pass-code" }, S.el("span", { text: S.t("通行码 ", "Code ") }),
             S.el("b", { text: p.code || "" })),
        S.el("p", { class: "pass-who", text: `${p.visitor_name || ""} → ${p.unit || ""}` }),
        S.el("p", { class: "pass-when", text: when(p) }),
        S.el("p", { text: `${A.doorsText(p.doors)} · ${S.t(`可用 ${p.uses} 次`, `${p.uses} use(s)`)}` }),
        S.el("p", { class: "note", text: S.t("凭二维码或通行码在门口读头通行；请勿外传。",
                                             "Show the QR or type the code at the door reader; do not share it.") }),
        print);
      result.hidden = false;
    }

    async function issue(ev) {
      ev.preventDefault();
      S.clearErrors(form);
      const f = form.elements;
      const body = { visitor_name: f.visitor_name.value.trim(), unit: f.unit.value.trim(),
                     valid_from: A.withOffset(f.valid_from.value, tz),
                     valid_to: A.withOffset(f.valid_to.value, tz),
                     doors: A.parseDoors(all.checked, doors.value),
                     uses: Number(f.uses.value) };
      await S.once(submit, async () => {
        try {
          const p = await S.api(A.siteUrl(site, "passes"), { method: "POST", json: body });
          show(p);
          f.visitor_name.value = "";
          S.toast(S.t(`已签发通行证，通行码 ${p.code}`, `Pass issued: code ${p.code}`));
          if (list) await load();
        } catch (err) {
          S.showError(form, err);
        }
      });
    }

    function revoke(p, td) {
      A.revokeForm(td, A.siteUrl(site, `passes/${p.id}/revoke`),
                   S.t("通行证已注销", "Pass revoked"), load);
    }

    function row(p) {
      const tr = S.el("tr", { "data-pass": String(p.id), class: p.state });
      S.cell(tr, p.visitor_name);
      S.cell(tr, p.unit);
      S.cell(tr, A.doorsText(p.doors));
      S.cell(tr, when(p));
      S.cell(tr, `${p.used ?? 0} / ${p.uses}`, "num");
      S.cell(tr, S.label("credential_state", p.state));
      const td = S.cell(tr, "");
      const qr = S.el("button", { type: "button", class: "pass-show", text: S.t("二维码", "QR") });
      qr.addEventListener("click", () => show(p));
      td.replaceChildren(qr);
      if (p.state === "active") {
        const b = S.el("button", { type: "button", class: "revoke-start", text: S.t("注销", "Revoke") });
        b.addEventListener("click", () => revoke(p, td));
        td.append(" ", b);
      }
      return tr;
    }

    async function load() {
      if (!list) return;
      const state = stateSelect.value;
      try {
        const data = await S.api(A.siteUrl(site, `passes${state ? `?state=${state}` : ""}`));
        const passes = (data && data.passes) || [];
        if (!passes.length) { S.empty(list, 7, "没有通行证", "No passes"); return; }
        list.replaceChildren(...passes.map(row));
      } catch (err) {
        S.empty(list, 7, err.message, err.message);
      }
    }

    function start(slug) {
      site = slug;
      tz = S.zone(slug);
      form.elements.valid_from.value = A.localInput(tz, 0);
      form.elements.valid_to.value = A.localInput(tz, VALID_HOURS * 60);
      result.hidden = true;
      S.clearErrors(form);
      return load();
    }

    all.addEventListener("change", () => { doors.disabled = all.checked; });
    form.addEventListener("submit", issue);
    return { start, form, result };
  }

  return { mount };
})();
