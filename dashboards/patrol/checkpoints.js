/* 巡更点 / checkpoints: the site's checkpoints (GET …/patrol/checkpoints), creating one
 * (POST) or editing it (PATCH …/checkpoints/{code}): name, building / floor / area, the BLE
 * receiver that hears it or a QR sticker. A QR checkpoint offers 打印二维码 (the sticker SVG)
 * and 重新生成 (a new sticker; the old one, perhaps photographed, stops counting), confirmed
 * on the row first. Refusals are shown beside the field they name. */
"use strict";

window.PatCheckpoints = (() => {
  const S = window.Shell;
  const P = window.Pat;
  const $ = (id) => document.getElementById(id);
  const form = $("cp-form");
  const FIELDS = ["name", "building", "floor", "area", "receiver"];
  let site = "";
  let editing = null;  // the code being edited, or null for a new one
  let list = [];

  function edit(cp) {
    editing = cp ? cp.code : null;
    S.clearErrors(form);
    form.elements.code.value = cp ? cp.code : "";
    form.elements.code.readOnly = !!cp;
    for (const f of FIELDS) form.elements[f].value = (cp && cp[f]) || "";
    form.elements.qr.checked = !!(cp && cp.qr);
    form.elements.active.checked = !cp || cp.active !== false;
    $("cp-active-box").hidden = !cp;
    $("cp-title").textContent = cp ? S.t(`编辑巡更点 ${cp.code}`, `Edit checkpoint ${cp.code}`)
      : S.t("新建巡更点", "New checkpoint");
    (cp ? form.elements.name : form.elements.code).focus();
  }

  async function save(ev) {
    ev.preventDefault();
    S.clearErrors(form);
    const code = form.elements.code.value.trim();
    if (!code) { P.fail(form, "code", "请填写编号", "Give the code"); return; }
    if (!form.elements.name.value.trim()) { P.fail(form, "name", "请填写名称", "Give the name"); return; }
    const body = { qr: form.elements.qr.checked };
    for (const f of FIELDS) body[f] = form.elements[f].value.trim();
    body.receiver = body.receiver || null;
    await S.once($("cp-save"), async () => {
      try {
        if (editing) {
          body.active = form.elements.active.checked;
          await S.api(P.siteUrl(site, `checkpoints/${encodeURIComponent(editing)}`),
                      { method: "PATCH", json: body });
        } else {
          await S.api(P.siteUrl(site, "checkpoints"), { method: "POST", json: { code, ...body } });
        }
        S.toast(S.t(`已保存巡更点 ${code}`, `Checkpoint ${code} saved`));
        edit(null);
        await load();
      } catch (err) {
        S.showError(form, err);
      }
    });
  }

  function place(cp) {
    return [cp.building, cp.floor, cp.area].filter(Boolean).join(" ");
  }

  /* 重新生成: asked on the row first, then POST …/sticker; the old sticker stops counting. */
  function reissue(cp, td) {
    const ok = S.el("button", { type: "button", class: "danger",
                                text: S.t("确认重新生成", "Reissue") });
    const cancel = S.el("button", { type: "button", text: S.t("取消", "Cancel") });
    const error = S.el("p", { class: "form-error", role: "alert", hidden: true });
    cancel.addEventListener("click", () => draw());
    ok.addEventListener("click", () => S.once(ok, async () => {
      try {
        await S.api(P.siteUrl(site, `checkpoints/${encodeURIComponent(cp.code)}/sticker`),
                    { method: "POST" });
        S.toast(S.t(`已重新生成 ${cp.name} 的二维码，旧二维码作废`,
                    `New sticker for ${cp.name}: the old one no longer counts`));
        await load();
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
      }
    }));
    td.replaceChildren(S.el("span", { class: "note", text: S.t("旧二维码将作废。", "The old sticker stops counting.") }),
                       ok, cancel, error);
  }

  function row(cp) {
    const tr = S.el("tr", { "data-checkpoint": cp.code, class: cp.active === false ? "retired" : null });
    S.cell(tr, cp.code, "num");
    S.cell(tr, cp.name);
    S.cell(tr, place(cp));
    const how = [];
    if (cp.receiver) how.push(`${S.label("patrol_source", "ble")} ${cp.receiver}`);
    if (cp.qr) {  // the sticker's serial: which printed sticker is the one that counts
      how.push(`${S.label("patrol_source", "qr")}${S.t(`（第 ${cp.sticker_n} 版）`, ` (issue ${cp.sticker_n})`)}`);
    }
    S.cell(tr, how.join("；"));
    S.cell(tr, cp.active === false ? S.t("停用", "Not in use") : S.t("启用", "In use"));
    const td = S.cell(tr, "");
    const b = S.el("button", { type: "button", class: "edit", text: S.t("编辑", "Edit") });
    b.addEventListener("click", () => edit(cp));
    td.replaceChildren(b);
    if (cp.qr) {
      td.append(S.el("a", { class: "cy-button sticker", target: "_blank", rel: "noopener",
                            href: P.siteUrl(site, `checkpoints/${encodeURIComponent(cp.code)}/sticker.svg`),
                            text: S.t("打印二维码", "Print QR") }));
      const again = S.el("button", { type: "button", class: "reissue", text: S.t("重新生成", "Reissue") });
      again.addEventListener("click", () => reissue(cp, td));
      td.append(again);
    }
    return tr;
  }

  function draw() {
    const body = $("checkpoints");
    if (!list.length) { S.empty(body, 6, "还没有巡更点", "No checkpoints yet"); return; }
    body.replaceChildren(...list.map(row));
  }

  async function load() {
    try {
      list = P.items(await S.api(P.siteUrl(site, "checkpoints")), "checkpoints");
      draw();
    } catch (err) {
      S.empty($("checkpoints"), 6, err.message, err.message);
    }
    document.dispatchEvent(new CustomEvent("patrol:checkpoints", { detail: list }));
  }

  function start(slug) {
    site = slug;
    edit(null);
    return load();
  }

  $("cp-new").addEventListener("click", () => edit(null));
  form.addEventListener("submit", save);

  return { start, load, all: () => list };
})();
