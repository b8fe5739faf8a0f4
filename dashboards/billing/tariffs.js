/* 停车收费标准 / a site's car-park tariffs (GET/PUT /api/sites/{site}/parking/tariffs/{lot}):
 * the tariff as a form of its fields, checked by the console with the edge's own rules; a
 * refusal names the field. The edge picks up the new tariff within a second of saving. */
"use strict";

(() => {
  const S = window.Shell;
  const F = window.Fin;
  const D = window.DocForm;
  const $ = (id) => document.getElementById(id);
  let site = "";
  let editing = null;  // the lot being edited, null for a new tariff

  /* A new lot's starting point: configs/tariffs/residential_standard.yaml. */
  const STANDARD = {
    id: "residential-standard", name: "住宅小区标准收费", rounding: "fen", free_minutes: 30,
    deduct_free_minutes: false, grace_minutes: 15, daily_cap_window: "entry_24h",
    lost_entry: "daily_cap",
    prices: { small: { first_period: { minutes: 120, price: "5" }, unit: { minutes: 60, price: "2" },
      daily_cap: "20" } },
  };

  const base = () => `/api/sites/${encodeURIComponent(site)}/parking/tariffs`;

  function row(t) {
    const tr = S.el("tr", { "data-lot": t.lot });
    F.cell(tr, t.lot);
    F.cell(tr, t.tariff.name || t.tariff.id);
    F.cell(tr, S.time(t.updated_at));
    F.cell(tr, "").append(S.el("button", { type: "button", class: "edit-tariff", text: S.t("编辑", "Edit"),
      onclick: () => open(t) }));
    return tr;
  }

  async function load() {
    const data = await S.api(base());
    const body = $("tariffs");
    if (!data.tariffs.length) F.empty(body, 4, "还没有停车收费标准", "No car-park tariffs yet");
    else body.replaceChildren(...data.tariffs.map(row));
  }

  function open(t) {
    const form = $("tariff-form");
    F.clearErrors(form);
    editing = t ? t.lot : null;
    $("tariff-title").textContent = t ? S.t(`编辑车场 ${t.lot} 的收费标准`, `Edit the tariff of ${t.lot}`)
      : S.t("新建收费标准", "New tariff");
    const lot = form.elements.namedItem("lot");
    lot.value = t ? t.lot : "";
    lot.readOnly = !!t;
    const doc = { ...(t ? t.tariff : STANDARD) };
    delete doc.timezone;  // the site's own time zone, kept as it is
    D.render($("tariff-fields"), doc, "");
    form.dataset.timezone = t ? t.tariff.timezone || "" : "";
    form.hidden = false;
  }

  async function save(ev) {
    ev.preventDefault();
    const form = $("tariff-form");
    await F.once($("save-tariff"), async () => {
      F.clearErrors(form);
      try {
        const lot = editing || form.elements.namedItem("lot").value.trim();
        if (!lot) throw Object.assign(new Error(S.t("请填写车场编号", "Name the car park")), { field: "lot" });
        const doc = D.collect($("tariff-fields"), "");
        if (form.dataset.timezone) doc.timezone = form.dataset.timezone;
        else doc.timezone = S.zone(site);
        await S.api(`${base()}/${encodeURIComponent(lot)}`, { method: "PUT", json: doc });
        form.hidden = true;
        editing = null;
        S.toast(S.t(`车场 ${lot} 的收费标准已保存`, `Tariff of ${lot} saved`));
        await load();
      } catch (e) {
        F.showError(form, plain(e));
      }
    });
  }

  /* The console checks a tariff as the edge does and lists every problem; the form shows the
     first one's own words next to its field (the summary line names keys, not words). */
  function plain(e) {
    const problems = (e.body && e.body.error && e.body.error.problems) || [];
    if (!problems.length) return e;
    const more = problems.length > 1 ? S.t(`（共 ${problems.length} 处要改）`, ` (${problems.length} to fix)`) : "";
    return { field: problems[0].field, message: `${S.msg(problems[0].message)}${more}` };
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("new-tariff").addEventListener("click", () => open(null));
    $("cancel-tariff").addEventListener("click", () => { $("tariff-form").hidden = true; editing = null; });
    $("tariff-form").addEventListener("submit", (ev) => { save(ev).catch((e) => S.toast(e.message, true)); });
    S.onSite((slug) => {
      site = slug;
      $("tariff-form").hidden = true;
      load().catch((e) => S.toast(e.message, true));
    });
  });
})();
