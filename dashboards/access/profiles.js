/* 时段 / time profiles: the site's profiles (GET …/access/profiles) and, for records.write,
 * creating or editing one's weekly windows (PUT …/access/profiles/{name}): days as 一…日 check
 * boxes, from/to times in site time (a window whose end is before its start runs past
 * midnight). The API's refusals (overlapping windows, a bad time) are shown beside the window
 * or field they name; nothing typed is lost. */
"use strict";

window.AccProfiles = (() => {
  const S = window.Shell;
  const A = window.Acc;
  const $ = (id) => document.getElementById(id);
  const form = $("profile-form");
  const box = $("profile-windows");
  const DAYS = [["一", "Mon"], ["二", "Tue"], ["三", "Wed"], ["四", "Thu"], ["五", "Fri"],
                ["六", "Sat"], ["日", "Sun"]];
  let site = "";
  let canWrite = false;

  /* One window row; its elements carry data-field="windows[i]…" so a refusal lands beside. */
  function windowRow(w) {
    const row = S.el("div", { class: "window" });
    const days = S.el("span", { class: "checks day-boxes" });
    DAYS.forEach(([zh, en], i) => {
      const tick = S.el("input", { type: "checkbox", value: String(i + 1) });
      tick.checked = !!w && w.days.includes(i + 1);
      days.append(S.el("label", { class: "inline" }, tick, S.el("span", { text: S.t(zh, en) })));
    });
    const from = S.el("input", { type: "time", class: "w-from", value: (w && w.from) || "07:00" });
    const to = S.el("input", { type: "time", class: "w-to", value: (w && w.to) || "22:00" });
    const drop = S.el("button", { type: "button", class: "w-drop", text: S.t("删除", "Remove") });
    drop.addEventListener("click", () => { row.remove(); number(); });
    row.append(days,
               S.el("label", {}, S.el("span", { text: S.t("从", "From") }), from),
               S.el("label", {}, S.el("span", { text: S.t("到", "To") }), to), drop);
    box.append(row);
    number();
  }

  /* Rows are numbered as the API counts them: windows[0], windows[1], … */
  function number() {
    [...box.querySelectorAll(".window")].forEach((row, i) => {
      row.dataset.field = `windows[${i}]`;
      row.querySelector(".day-boxes").dataset.field = `windows[${i}].days`;
      row.querySelector(".w-from").dataset.field = `windows[${i}].from`;
      row.querySelector(".w-to").dataset.field = `windows[${i}].to`;
    });
  }

  function windows() {
    return [...box.querySelectorAll(".window")].map((row) => ({
      days: [...row.querySelectorAll(".day-boxes input:checked")].map((b) => Number(b.value)),
      from: row.querySelector(".w-from").value,
      to: row.querySelector(".w-to").value,
    }));
  }

  function edit(p) {
    S.clearErrors(form);
    form.elements.name.value = p ? p.name : "";
    box.replaceChildren();
    for (const w of (p ? p.windows : [null])) windowRow(w);
    form.elements.name.focus();
  }

  function daysText(days) {
    return days.map((d) => S.t(`周${DAYS[d - 1][0]}`, DAYS[d - 1][1])).join("、");
  }

  function windowsText(list) {
    return list.map((w) => `${daysText(w.days)} ${w.from}–${w.to}`).join("；");
  }

  async function save(ev) {
    ev.preventDefault();
    S.clearErrors(form);
    const name = form.elements.name.value.trim();
    if (!name) {
      S.showError(form, Object.assign(new Error(S.t("请填写名称", "Give the name")), { field: "name" }));
      return;
    }
    await S.once($("profile-save"), async () => {
      try {
        const saved = await S.api(A.siteUrl(site, `profiles/${encodeURIComponent(name)}`),
                                  { method: "PUT", json: { windows: windows() } });
        S.toast(S.t(`已保存时段 ${saved.name}`, `Time profile ${saved.name} saved`));
        await load();
        if (window.AccCards) await window.AccCards.choices();
      } catch (err) {
        S.showError(form, err);
      }
    });
  }

  const draw = A.namedList({
    body: "profiles", path: "profiles", key: "profiles", attr: "data-profile", cols: 3,
    empty: ["没有时段", "No time profiles"],
    fill: (tr, p) => { S.cell(tr, p.name); S.cell(tr, windowsText(p.windows)); },
    onEdit: () => (canWrite ? edit : null),
  });
  const load = () => draw(site);

  function start(slug, perms) {
    site = slug;
    canWrite = perms.has("records.write");
    form.hidden = !canWrite;
    edit(null);
    return load();
  }

  $("profile-add").addEventListener("click", () => windowRow(null));
  $("profile-new").addEventListener("click", () => edit(null));
  form.addEventListener("submit", save);

  return { start };
})();
