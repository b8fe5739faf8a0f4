/* 门禁组 / access groups: the site's groups (GET …/access/groups) and, for records.write,
 * creating or editing one (PUT …/access/groups/{name}: doors, an optional Chinese label). A
 * card issued with a group opens its doors; an edit reaches every such card at the next
 * dataset version. Refusals are shown beside the field they name. */
"use strict";

window.AccGroups = (() => {
  const S = window.Shell;
  const A = window.Acc;
  const $ = (id) => document.getElementById(id);
  const form = $("group-form");
  let site = "";
  let canWrite = false;

  function edit(g) {
    S.clearErrors(form);
    form.elements.name.value = g ? g.name : "";
    form.elements.zh.value = (g && g.zh) || "";
    form.elements.doors.value = g ? g.doors.join(", ") : "";
    form.elements.name.focus();
  }

  async function save(ev) {
    ev.preventDefault();
    S.clearErrors(form);
    const name = form.elements.name.value.trim();
    if (!name) {
      S.showError(form, Object.assign(new Error(S.t("请填写名称", "Give the name")), { field: "name" }));
      return;
    }
    const body = { doors: A.parseDoors(false, form.elements.doors.value) };
    const zh = form.elements.zh.value.trim();
    if (zh) body.zh = zh;
    await S.once($("group-save"), async () => {
      try {
        const saved = await S.api(A.siteUrl(site, `groups/${encodeURIComponent(name)}`),
                                  { method: "PUT", json: body });
        S.toast(S.t(`已保存门禁组 ${saved.name}`, `Access group ${saved.name} saved`));
        edit(null);
        await load();
        if (window.AccCards) await window.AccCards.choices();
      } catch (err) {
        S.showError(form, err);
      }
    });
  }

  const draw = A.namedList({
    body: "groups", path: "groups", key: "groups", attr: "data-group", cols: 4,
    empty: ["没有门禁组", "No access groups"],
    fill: (tr, g) => { S.cell(tr, g.name); S.cell(tr, g.zh || ""); S.cell(tr, A.doorsText(g.doors)); },
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

  form.addEventListener("submit", save);

  return { start };
})();
