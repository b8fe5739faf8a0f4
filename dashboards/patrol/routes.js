/* 路线 / routes: the site's routes (GET …/patrol/routes), creating one (POST) or editing it
 * (PATCH …/routes/{code}): a name, whether the checkpoints must be walked in order, and the
 * ordered list of checkpoints, each with its 应到时间 in minutes after the round's start (the
 * API keeps seconds: offset_s). Rows move up and down; refusals land beside the row or field
 * they name (points[i].offset_s …). */
"use strict";

window.PatRoutes = (() => {
  const S = window.Shell;
  const P = window.Pat;
  const $ = (id) => document.getElementById(id);
  const form = $("route-form");
  const box = $("route-points");
  let site = "";
  let editing = null;
  let checkpoints = [];
  let list = [];

  function cpName(code) {
    const cp = checkpoints.find((c) => c.code === code);
    return cp ? cp.name : code;
  }

  function options(select, chosen) {
    const known = checkpoints.filter((c) => c.active !== false || c.code === chosen);
    select.replaceChildren(S.el("option", { value: "", text: S.t("选择巡更点", "Choose a checkpoint") }),
      ...known.map((c) => S.el("option", { value: c.code, text: `${c.name}（${c.code}）` })));
    select.value = chosen || "";
  }

  /* Rows are numbered as the API counts them: points[0], points[1], … */
  function number() {
    [...box.children].forEach((li, i) => {
      li.dataset.field = `points[${i}]`;
      li.querySelector(".p-cp").dataset.field = `points[${i}].checkpoint`;
      li.querySelector(".p-min").dataset.field = `points[${i}].offset_s`;
    });
  }

  function pointRow(p) {
    const select = S.el("select", { class: "p-cp", "aria-label": S.t("巡更点", "Checkpoint") });
    options(select, p && p.checkpoint);
    const min = S.el("input", { class: "p-min", inputmode: "decimal", size: "6",
                                value: p ? P.toMinutes(p.offset_s) : "" });
    const up = S.el("button", { type: "button", class: "p-up", text: "↑",
                                "aria-label": S.t("上移", "Move up") });
    const down = S.el("button", { type: "button", class: "p-down", text: "↓",
                                  "aria-label": S.t("下移", "Move down") });
    const drop = S.el("button", { type: "button", class: "p-drop", text: S.t("删除", "Remove") });
    const li = S.el("li", { class: "point" },
                    S.el("label", {}, S.el("span", { text: S.t("巡更点", "Checkpoint") }), select),
                    S.el("label", {}, S.el("span", { text: S.t("应到时间（分钟）", "Due (min after start)") }), min),
                    up, down, drop);
    up.addEventListener("click", () => { if (li.previousElementSibling) box.insertBefore(li, li.previousElementSibling); number(); });
    down.addEventListener("click", () => { if (li.nextElementSibling) box.insertBefore(li.nextElementSibling, li); number(); });
    drop.addEventListener("click", () => { li.remove(); number(); });
    box.append(li);
    number();
  }

  function points() {
    return [...box.children].map((li) => ({ checkpoint: li.querySelector(".p-cp").value,
                                             offset_s: P.toSeconds(li.querySelector(".p-min").value) }));
  }

  function edit(r) {
    editing = r ? r.code : null;
    S.clearErrors(form);
    form.elements.code.value = r ? r.code : "";
    form.elements.code.readOnly = !!r;
    form.elements.name.value = r ? r.name : "";
    form.elements.ordered.checked = !r || r.ordered;
    form.elements.active.checked = !r || r.active !== false;
    $("route-active-box").hidden = !r;
    $("route-title").textContent = r ? S.t(`编辑路线 ${r.code}`, `Edit route ${r.code}`)
      : S.t("新建路线", "New route");
    box.replaceChildren();
    for (const p of (r ? r.points : [null, null])) pointRow(p);
  }

  async function save(ev) {
    ev.preventDefault();
    S.clearErrors(form);
    const code = form.elements.code.value.trim();
    if (!code) { P.fail(form, "code", "请填写编号", "Give the code"); return; }
    if (!form.elements.name.value.trim()) { P.fail(form, "name", "请填写名称", "Give the name"); return; }
    const pts = points();
    const blank = pts.findIndex((p) => !p.checkpoint);
    if (blank >= 0) { P.fail(form, `points[${blank}].checkpoint`, "请选择巡更点", "Choose the checkpoint"); return; }
    const body = { name: form.elements.name.value.trim(), ordered: form.elements.ordered.checked,
                   points: pts.map((p) => ({ checkpoint: p.checkpoint, offset_s: p.offset_s ?? 0 })) };
    await S.once($("route-save"), async () => {
      try {
        if (editing) {
          body.active = form.elements.active.checked;
          await S.api(P.siteUrl(site, `routes/${encodeURIComponent(editing)}`), { method: "PATCH", json: body });
        } else {
          await S.api(P.siteUrl(site, "routes"), { method: "POST", json: { code, ...body } });
        }
        S.toast(S.t(`已保存路线 ${code}`, `Route ${code} saved`));
        edit(null);
        await load();
      } catch (err) {
        S.showError(form, err);
      }
    });
  }

  function pointsText(r) {
    const sep = r.ordered ? " → " : "、";
    return r.points.map((p) => `${cpName(p.checkpoint)} ${P.toMinutes(p.offset_s)}′`).join(sep);
  }

  function row(r) {
    const tr = S.el("tr", { "data-route": r.code, class: r.active === false ? "retired" : null });
    S.cell(tr, r.code, "num");
    S.cell(tr, r.name);
    S.cell(tr, `${r.ordered ? S.t("按顺序：", "In order: ") : S.t("不限顺序：", "Any order: ")}${pointsText(r)}`);
    S.cell(tr, r.active === false ? S.t("停用", "Not in use") : S.t("启用", "In use"));
    const td = S.cell(tr, "");
    const b = S.el("button", { type: "button", class: "edit", text: S.t("编辑", "Edit") });
    b.addEventListener("click", () => edit(r));
    td.replaceChildren(b);
    return tr;
  }

  async function load() {
    const body = $("routes");
    try {
      list = P.items(await S.api(P.siteUrl(site, "routes")), "routes");
      if (!list.length) S.empty(body, 5, "还没有路线", "No routes yet");
      else body.replaceChildren(...list.map(row));
    } catch (err) {
      S.empty(body, 5, err.message, err.message);
    }
    document.dispatchEvent(new CustomEvent("patrol:routes", { detail: list }));
  }

  /* The form is ready at once; the checkpoint choices fill in when they arrive, keeping
     whatever was already chosen. */
  async function start(slug) {
    site = slug;
    edit(null);
    try {
      checkpoints = P.items(await S.api(P.siteUrl(site, "checkpoints")), "checkpoints");
    } catch (err) {
      checkpoints = [];
    }
    for (const s of box.querySelectorAll(".p-cp")) options(s, s.value);
    return load();
  }

  document.addEventListener("patrol:checkpoints", (ev) => {
    checkpoints = ev.detail;
    for (const s of box.querySelectorAll(".p-cp")) options(s, s.value);
  });
  $("route-add").addEventListener("click", () => pointRow(null));
  $("route-new").addEventListener("click", () => edit(null));
  form.addEventListener("submit", save);

  return { start, load, all: () => list };
})();
