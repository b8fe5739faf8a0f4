/* 巡更标签 / patrol tags: the site's tags (GET …/patrol/tags), issuing one to a guard
 * (POST …/tags; the id typed as printed on the tag, in any form the API reads), 交接 to
 * another guard with a note (POST …/tags/{id}/handover), its 交接记录 (GET …/history) and
 * 停用 (POST …/retire, confirmed on the row). A tag is with one guard at a time; the API's
 * refusals (an id it cannot read, a tag already issued) are shown beside the field. */
"use strict";

window.PatTags = (() => {
  const S = window.Shell;
  const P = window.Pat;
  const $ = (id) => document.getElementById(id);
  const form = $("tag-form");
  let site = "";
  let list = [];

  const tagId = (t) => encodeURIComponent(t.id);
  const retired = (t) => t.state === "retired";

  async function issue(ev) {
    ev.preventDefault();
    S.clearErrors(form);
    const body = { tag: form.elements.tag.value.trim(), guard: form.elements.guard.value.trim(),
                   label: form.elements.label.value.trim() };
    if (!body.tag) { P.fail(form, "tag", "请填写标签编号", "Give the tag id"); return; }
    if (!body.guard) { P.fail(form, "guard", "请填写保安", "Name the guard"); return; }
    await S.once($("tag-issue"), async () => {
      try {
        await S.api(P.siteUrl(site, "tags"), { method: "POST", json: body });
        S.toast(S.t(`已将标签发放给 ${body.guard}`, `Tag issued to ${body.guard}`));
        form.reset();
        await load();
      } catch (err) {
        S.showError(form, err);
      }
    });
  }

  /* A small form in the row's action cell: ``fields`` are inputs, ``go(form)`` the request. */
  function rowForm(td, fields, okText, go) {
    const ok = S.el("button", { type: "submit", class: "primary", text: okText });
    const cancel = S.el("button", { type: "button", text: S.t("取消", "Cancel") });
    const f = S.el("form", { class: "inline-form", novalidate: true }, ...fields, ok, cancel,
                   S.el("p", { class: "form-error", role: "alert", hidden: true }));
    cancel.addEventListener("click", () => draw());
    f.addEventListener("submit", async (e) => {
      e.preventDefault();
      S.clearErrors(f);
      await S.once(ok, async () => {
        try {
          await go(f);
          await load();
        } catch (err) {
          S.showError(f, err);
        }
      });
    });
    td.replaceChildren(f);
    const first = f.querySelector("input");
    if (first) first.focus();
  }

  function handover(t, td) {
    rowForm(td, [
      S.el("label", {}, S.el("span", { text: S.t("交给保安（登录名）", "To guard (login name)") }),
           S.el("input", { name: "guard", maxlength: "64", autocomplete: "off",
                           list: "guard-logins" })),
      S.el("label", {}, S.el("span", { text: S.t("交接说明", "Note") }),
           S.el("input", { name: "note", maxlength: "200", autocomplete: "off" })),
    ], S.t("确认交接", "Hand over"), async (f) => {
      const guard = f.elements.guard.value.trim();
      if (!guard) throw Object.assign(new Error(S.t("请填写接收的保安", "Name the guard")), { field: "guard" });
      await S.api(P.siteUrl(site, `tags/${tagId(t)}/handover`),
                  { method: "POST", json: { guard, note: f.elements.note.value.trim() } });
      S.toast(S.t(`已交接给 ${guard}`, `Handed over to ${guard}`));
    });
  }

  function retire(t, td) {
    rowForm(td, [S.el("span", { class: "note", text: S.t("停用后该标签不再计入巡更。", "A retired tag no longer counts.") })],
            S.t("确认停用", "Retire"), async () => {
      await S.api(P.siteUrl(site, `tags/${tagId(t)}/retire`), { method: "POST" });
      S.toast(S.t("已停用标签", "Tag retired"));
    });
  }

  async function history(t, tr) {
    const next = tr.nextElementSibling;
    if (next && next.classList.contains("history")) { next.remove(); return; }
    const td = S.el("td", { colspan: "6" });
    tr.after(S.el("tr", { class: "history", "data-history": t.tag }, td));
    td.textContent = S.t("加载中…", "Loading…");
    try {
      const items = P.items(await S.api(P.siteUrl(site, `tags/${tagId(t)}/history`)), "history");
      if (!items.length) { td.textContent = S.t("没有交接记录", "No handovers"); return; }
      /* {guard, from, to (null: holds it now), by, note}, oldest first. */
      td.replaceChildren(S.el("ol", { class: "handovers" }, ...items.map((h) => S.el("li", {
        text: [h.guard, `${S.time(h.from)} ~ ${h.to ? S.time(h.to) : S.t("至今", "now")}`,
               h.by ? S.t(`经办 ${h.by}`, `by ${h.by}`) : "", h.note]
          .filter(Boolean).join(" · ") }))));
    } catch (err) {
      td.textContent = err.message;
    }
  }

  function row(t) {
    const gone = retired(t);
    const tr = S.el("tr", { "data-tag": t.tag, class: gone ? "retired" : null });
    S.cell(tr, t.label);
    S.cell(tr, t.tag, "tag-id");
    S.cell(tr, gone ? "" : t.guard);
    S.cell(tr, S.time(t.issued_at));
    S.cell(tr, gone ? S.t("已停用", "Retired") : S.t("使用中", "In use"));
    const td = S.cell(tr, "");
    const buttons = [];
    const add = (cls, zh, en, fn) => {
      const b = S.el("button", { type: "button", class: cls, text: S.t(zh, en) });
      b.addEventListener("click", fn);
      buttons.push(b);
    };
    if (!gone) {
      add("handover", "交接", "Hand over", () => handover(t, td));
      add("retire", "停用", "Retire", () => retire(t, td));
    }
    add("history-toggle", "交接记录", "History", () => history(t, tr));
    td.replaceChildren(...buttons);
    return tr;
  }

  function draw() {
    const body = $("tags");
    const shown = $("tag-retired").checked ? list : list.filter((t) => !retired(t));
    if (!shown.length) { S.empty(body, 6, "还没有巡更标签", "No patrol tags yet"); return; }
    body.replaceChildren(...shown.map(row));
  }

  async function load() {
    try {
      list = P.items(await S.api(P.siteUrl(site, "tags")), "tags");
      draw();
    } catch (err) {
      S.empty($("tags"), 6, err.message, err.message);
    }
  }

  /* The site's staff who may carry a tag, offered by the guard inputs (typing still works). */
  async function loadGuards() {
    try {
      const guards = P.items(await S.api(P.siteUrl(site, "guards")), "guards");
      $("guard-logins").replaceChildren(...guards.map((g) =>
        S.el("option", { value: g.login, text: `${g.name}（${S.label("role", g.role)}）` })));
    } catch (_err) {
      $("guard-logins").replaceChildren();  // the list is a help: the form works without it
    }
  }

  function start(slug) {
    site = slug;
    return Promise.all([load(), loadGuards()]);
  }

  form.addEventListener("submit", issue);
  $("tag-retired").addEventListener("change", draw);

  return { start };
})();
