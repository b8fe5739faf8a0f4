/* 房屋档案页 / the register page: units with filters; a unit's people, vehicles and meters. */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const STATUS = { unsold: "未售 unsold", occupied: "自住 occupied", rented: "出租 rented",
                   vacant: "空置 vacant" };
  let next = null;
  let shown = 0;

  function query(after) {
    const p = new URLSearchParams({ site: $("site").value, limit: "100" });
    for (const name of ["building", "status", "type", "q"]) {
      if ($(name).value.trim()) p.set(name, $(name).value.trim());
    }
    if (after) p.set("after_id", String(after));
    return p;
  }

  async function load(more) {
    REC.showError(null);
    if (!more) { $("units").textContent = ""; shown = 0; $("detail").hidden = true; }
    try {
      const page = await REC.get(`/api/units?${query(more ? next : null)}`);
      for (const u of page.units) {
        const tr = document.createElement("tr");
        tr.className = "unit";
        for (const v of [u.code, u.building, u.floor, u.area, u.inner_area, u.unit_type,
                         STATUS[u.status] || u.status]) REC.cell(tr, v);
        tr.addEventListener("click", () => {
          for (const row of document.querySelectorAll("tr.chosen")) row.classList.remove("chosen");
          tr.classList.add("chosen");
          detail(u).catch(REC.showError);
        });
        $("units").append(tr);
      }
      shown += page.units.length;
      next = page.next_after_id;
      $("more").hidden = next === null;
      $("count").textContent = `已显示 ${shown} 户 / ${shown} units shown`;
    } catch (err) {
      REC.showError(err);
    }
  }

  function table(title, heads, rows) {
    const h = document.createElement("h3");
    h.textContent = title;
    const t = document.createElement("table");
    const head = document.createElement("tr");
    for (const x of heads) { const th = document.createElement("th"); th.textContent = x; head.append(th); }
    t.append(head);
    if (!rows.length) {
      const tr = document.createElement("tr");
      REC.cell(tr, "无 / none", "muted").colSpan = heads.length;
      t.append(tr);
    }
    for (const r of rows) { const tr = document.createElement("tr"); r.forEach((v) => REC.cell(tr, v)); t.append(tr); }
    return [h, t];
  }

  async function detail(unit) {
    const p = `site=${encodeURIComponent(unit.site)}&unit=${encodeURIComponent(unit.code)}`;
    const [owners, tenants, vehicles, spaces, meters] = await Promise.all([
      REC.get(`/api/owners?${p}`), REC.get(`/api/tenants?${p}`), REC.get(`/api/vehicles?${p}`),
      REC.get(`/api/spaces?${p}`), REC.get(`/api/meters?${p}`)]);
    const box = $("detail");
    box.textContent = "";
    const h = document.createElement("h2");
    h.textContent = `${unit.code} · ${unit.area} m² · ${STATUS[unit.status] || unit.status}`;
    box.append(h);
    box.append(...table("业主 Owners", ["姓名 Name", "电话 Phone", "入住 Move-in", "迁出 Move-out"],
      owners.owners.map((o) => [o.name, o.phone, o.move_in, o.move_out])));
    box.append(...table("租户 Tenants", ["姓名 Name", "电话 Phone", "租期 Lease", "迁出 Move-out"],
      tenants.tenants.map((t) => [t.name, t.phone, `${t.lease_start || ""} – ${t.lease_end || ""}`,
                                  t.move_out])));
    box.append(...table("车辆 Vehicles", ["车牌 Plate", "车主 Holder", "身份 Role"],
      vehicles.vehicles.map((v) => [v.plate, v.holder, v.role])));
    box.append(...table("车位 Spaces", ["车场 Lot", "车位 Space", "类别 Kind", "车牌 Plate"],
      spaces.spaces.map((s) => [s.lot, s.code, s.kind, s.plate])));
    box.append(...table("计费表 Meters", ["表号 Code", "类型 Utility", "采集设备 Device",
                                          "倍率 Multiplier", "状态 State"],
      meters.meters.map((m) => [m.code, m.utility, m.device_key ? `${m.device_key} ${m.register || ""}` : "",
                                m.multiplier, m.active ? "在用 active" : `已拆除 removed ${m.removed_at_local || ""}`])));
    box.hidden = false;
  }

  $("filters").addEventListener("submit", (ev) => { ev.preventDefault(); load(false); });
  $("more").addEventListener("click", () => load(true));
  REC.fillSites($("site")).then(() => load(false)).catch(REC.showError);
})();
