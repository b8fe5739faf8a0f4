/* 房屋档案 / the register page: a site's units with filters; a unit's form with its history,
 * its owners and tenants, vehicles (each with a form and history), spaces and meters. */
"use strict";

(() => {
  const S = window.Shell;
  const R = window.Rec;
  const F = window.RecForm;
  const $ = (id) => document.getElementById(id);
  let site = "";
  let next = null;
  let shown = 0;
  let unit = null;

  const UNIT_SPEC = { fields: F.UNIT, zh: "房屋", en: "Unit", kind: () => "units",
                      name: (r) => r.code, defaults: { unit_type: "residential", status: "vacant" },
                      extra: () => ({ site }) };
  const RESIDENT_SPEC = { fields: F.RESIDENT, zh: "住户", en: "Resident", resident: true,
                          kind: (r) => (r.role === "tenant" ? "tenants" : "owners"),
                          name: (r) => r.name, defaults: { role: "owner" },
                          extra: () => ({ site, unit: unit.code }) };
  const VEHICLE_SPEC = { fields: F.VEHICLE, zh: "车辆", en: "Vehicle", kind: () => "vehicles",
                         name: (r) => r.plate, defaults: { role: "owner" },
                         extra: () => ({ site, unit: unit.code }) };

  function query(after) {
    const p = new URLSearchParams({ site, limit: "100" });
    for (const name of ["building", "status", "type", "q"]) {
      if ($(name).value.trim()) p.set(name, $(name).value.trim());
    }
    if (after) p.set("after_id", String(after));
    return p;
  }

  async function load(more) {
    const form = $("filters");
    R.clearErrors(form);
    if (!more) { $("units").replaceChildren(); shown = 0; }
    try {
      const page = await S.api(`/api/units?${query(more ? next : null)}`);
      for (const u of page.units) $("units").append(row(u));
      shown += page.units.length;
      next = page.next_after_id;
      $("more").hidden = next === null;
      $("count").textContent = S.t(`已显示 ${shown} 户`, `${shown} units shown`);
      if (!shown) R.empty($("units"), 6, "没有符合条件的房屋", "No units match");
      return page.units;
    } catch (err) {
      R.showError(form, err);
      return [];
    }
  }

  function row(u) {
    const tr = S.el("tr", { class: "unit", "data-unit": u.code, tabindex: "0" });
    R.cell(tr, u.code); R.cell(tr, u.building); R.cell(tr, u.floor, "num");
    R.cell(tr, u.area, "num"); R.cell(tr, S.label("unit_type", u.unit_type));
    R.cell(tr, S.label("unit_status", u.status));
    const choose = () => {
      for (const r of document.querySelectorAll("#units tr.chosen")) r.classList.remove("chosen");
      tr.classList.add("chosen");
      open(u).catch((err) => S.toast(err.message, true));
    };
    tr.addEventListener("click", choose);
    tr.addEventListener("keydown", (ev) => { if (ev.key === "Enter") choose(); });
    return tr;
  }

  async function unitSaved(saved) {
    unit = saved;
    const old = document.querySelector(`#units tr[data-unit="${CSS.escape(saved.code)}"]`);
    const fresh = row(saved);
    fresh.classList.add("chosen");
    if (old) old.replaceWith(fresh); else $("units").prepend(fresh);
    for (const n of $("units").querySelectorAll("tr.empty")) n.remove();
    $("detail").hidden = false;
    await people();
  }

  async function open(u) {
    unit = u;
    $("detail").hidden = false;
    $("resident-editor").hidden = true;
    $("vehicle-editor").hidden = true;
    F.show($("unit-editor"), UNIT_SPEC, u, unitSaved);
    await people();
  }

  function editButton(onClick) {
    const b = S.el("button", { type: "button", class: "link edit", text: S.t("编辑", "Edit") });
    b.addEventListener("click", onClick);
    return b;
  }

  async function people() {
    const p = `site=${encodeURIComponent(site)}&unit=${encodeURIComponent(unit.code)}`;
    const [owners, tenants, vehicles, spaces, meters] = await Promise.all([
      S.api(`/api/owners?${p}`), S.api(`/api/tenants?${p}`), S.api(`/api/vehicles?${p}`),
      S.api(`/api/spaces?${p}`), S.api(`/api/meters?${p}`)]);
    const body = $("residents");
    body.replaceChildren();
    for (const r of [...owners.owners, ...tenants.tenants]) {
      const tr = S.el("tr", { "data-resident": r.id });
      R.cell(tr, r.name); R.cell(tr, S.label("resident_role", r.role)); R.cell(tr, r.phone);
      R.cell(tr, r.move_in); R.cell(tr, r.move_out);
      tr.append(S.el("td", {}, editButton(() => F.show($("resident-editor"), RESIDENT_SPEC, r, people))));
      body.append(tr);
    }
    if (!body.children.length) R.empty(body, 6, "没有登记业主或租户", "No owners or tenants");
    const cars = $("vehicles");
    cars.replaceChildren();
    for (const v of vehicles.vehicles) {
      const tr = S.el("tr", { "data-vehicle": v.id });
      R.cell(tr, v.plate); R.cell(tr, v.holder); R.cell(tr, S.label("resident_role", v.role));
      tr.append(S.el("td", {}, editButton(() => F.show($("vehicle-editor"), VEHICLE_SPEC, v, people))));
      cars.append(tr);
    }
    if (!cars.children.length) R.empty(cars, 4, "没有登记车辆", "No vehicles");
    const bays = $("spaces");
    bays.replaceChildren();
    for (const s of spaces.spaces) {
      const tr = S.el("tr");
      R.cell(tr, s.lot); R.cell(tr, s.code); R.cell(tr, S.label("space_kind", s.kind)); R.cell(tr, s.plate);
      bays.append(tr);
    }
    if (!bays.children.length) R.empty(bays, 4, "没有车位", "No spaces");
    const ms = $("meters");
    ms.replaceChildren();
    for (const m of meters.meters) {
      const tr = S.el("tr");
      R.cell(tr, m.code); R.cell(tr, S.label("utility", m.utility)); R.cell(tr, R.number(m.multiplier));
      R.cell(tr, m.active ? S.t("在用", "In use") : S.t(`已拆除 ${S.time(m.removed_at)}`, `Removed ${S.time(m.removed_at)}`));
      ms.append(tr);
    }
    if (!ms.children.length) R.empty(ms, 4, "没有计费表", "No meters");
  }

  R.choices($("status"), "unit_status", null, S.t("全部", "All"));
  R.choices($("type"), "unit_type", null, S.t("全部", "All"));
  $("filters").addEventListener("submit", (ev) => { ev.preventDefault(); load(false); });
  $("more").addEventListener("click", () => load(true));
  $("new-unit").addEventListener("click", () => {
    unit = null;
    $("detail").hidden = false;
    for (const id of ["residents", "vehicles", "spaces", "meters"]) $(id).replaceChildren();
    $("resident-editor").hidden = true;
    $("vehicle-editor").hidden = true;
    F.show($("unit-editor"), UNIT_SPEC, null, unitSaved);
  });
  $("new-resident").addEventListener("click", () => {
    if (unit) F.show($("resident-editor"), RESIDENT_SPEC, null, people);
  });
  $("new-vehicle").addEventListener("click", () => {
    if (unit) F.show($("vehicle-editor"), VEHICLE_SPEC, null, people);
  });
  S.onSite(async (slug) => {
    site = slug;
    unit = null;
    $("detail").hidden = true;
    const wanted = new URLSearchParams(location.search).get("unit");
    if (wanted) $("q").value = wanted;
    const units = await load(false);
    const hit = wanted && units.find((u) => u.code === wanted);
    if (hit) {
      document.querySelector(`#units tr[data-unit="${CSS.escape(hit.code)}"]`).classList.add("chosen");
      await open(hit).catch((err) => S.toast(err.message, true));
    }
  });
})();
