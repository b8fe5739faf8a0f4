/* 门禁卡 / cards: the site's cards (GET …/access/cards), issuing one to a resident found by
 * name or unit (GET /api/search, as the desk) or to a staff member by name
 * (POST …/access/cards) with doors, access groups (门禁组) or both and a time profile (时段),
 * and revoking one with a reason (POST …/cards/{id}/revoke). The issuer is the login; a
 * refusal is shown beside the field it names and nothing typed is lost. */
"use strict";

window.AccCards = (() => {
  const S = window.Shell;
  const A = window.Acc;
  const $ = (id) => document.getElementById(id);
  const form = $("card-form");
  let site = "";
  let canWrite = false;
  let chosen = null;  // {id, name, unit}

  function kind() {
    return form.querySelector("input[name=holder-kind]:checked").value;
  }

  function choose(person) {
    chosen = person;
    S.clearErrors(form);
    $("card-chosen").textContent = person
      ? S.t(`已选：${person.name}（${person.unit}）`, `Chosen: ${person.name} (${person.unit})`)
      : "";
    for (const b of $("card-people").querySelectorAll("button")) {
      b.classList.toggle("picked", !!person && b.dataset.resident === String(person.id));
    }
  }

  async function find() {
    const q = $("card-q").value.trim();
    S.clearErrors(form);
    if (!q) return;
    await S.once($("card-find"), async () => {
      try {
        const data = await S.api(`/api/search?site=${encodeURIComponent(site)}&q=${encodeURIComponent(q)}`);
        const people = [];
        for (const r of data.results) {
          for (const p of r.residents) people.push({ id: p.id, name: p.name, role: p.role, unit: r.unit });
        }
        $("card-people").replaceChildren(...people.map((p) => {
          const b = S.el("button", { type: "button", class: "person", "data-resident": String(p.id),
                                     text: `${p.name} · ${S.label("resident_role", p.role)} · ${p.unit}` });
          b.addEventListener("click", () => choose(p));
          return S.el("li", {}, b);
        }));
        if (!people.length) {
          $("card-people").replaceChildren(S.el("li", { class: "note", text: S.t(
            "没有找到住户：请检查输入，或改用房号查找。", "No resident found: check the spelling or try the unit.") }));
        }
        if (people.length === 1) choose(people[0]);
      } catch (err) {
        S.showError(form, Object.assign(err, { field: "resident_id" }));
      }
    });
  }

  function fail(field, zh, en) {
    S.showError(form, Object.assign(new Error(S.t(zh, en)), { field }));
  }

  async function issue(ev) {
    ev.preventDefault();
    S.clearErrors(form);
    const body = { number: form.elements.number.value.trim(),
                   doors: A.parseDoors($("card-all-doors").checked, form.elements.doors.value) };
    const groups = [...$("card-groups").querySelectorAll("input:checked")].map((b) => b.value);
    if (groups.length) body.groups = groups;
    if (groups.length && !body.doors.length) delete body.doors;  // the groups' doors only
    if (form.elements.profile.value) body.profile = form.elements.profile.value;
    if (kind() === "resident") {
      if (!chosen) {
        fail("resident_id", "请先查找并选择住户", "Find and choose the resident first");
        return;
      }
      body.resident_id = chosen.id;
    } else {
      body.staff_name = form.elements.staff_name.value.trim();
    }
    if (body.doors && !body.doors.length) { fail("doors", "请填写门，或勾选全部门", "Name the doors or tick All doors"); return; }
    if (form.elements.valid_from.value) body.valid_from = form.elements.valid_from.value;
    if (form.elements.valid_to.value) body.valid_to = form.elements.valid_to.value;
    await S.once($("card-issue"), async () => {
      try {
        const card = await S.api(A.siteUrl(site, "cards"), { method: "POST", json: body });
        S.toast(S.t(`已发卡 ${card.number}`, `Card ${card.number} issued`));
        form.elements.number.value = "";
        for (const b of $("card-groups").querySelectorAll("input:checked")) b.checked = false;
        choose(null);
        $("card-people").replaceChildren();
        await load();
      } catch (err) {
        S.showError(form, err);
      }
    });
  }

  function validity(c) {
    const from = c.valid_from_local ? c.valid_from_local.slice(0, 10) : "";
    const to = c.valid_to_local ? c.valid_to_local.slice(0, 10) : "";
    if (!from && !to) return S.t("长期", "No end");
    return `${from || "…"} ~ ${to || "…"}`;
  }

  /* 注销: a reason, then the request; a refusal stays beside the reason. */
  function revokeForm(c, td) {
    A.revokeForm(td, A.siteUrl(site, `cards/${c.id}/revoke`),
                 S.t(`已注销卡 ${c.number}`, `Card ${c.number} revoked`), load);
  }

  function row(c) {
    const tr = S.el("tr", { "data-card": c.number, class: c.state });
    S.cell(tr, c.number, "num");
    S.cell(tr, A.holderText(c));
    const groups = (c.groups || []).length ? `${S.t("门禁组", "Groups")}：${c.groups.join("、")}` : "";
    S.cell(tr, [c.doors.length ? A.doorsText(c.doors) : "", groups].filter(Boolean).join("；"));
    S.cell(tr, validity(c));
    const st = S.cell(tr, S.label("credential_state", c.state));
    if (c.state === "revoked" && c.revoked_reason) st.title = c.revoked_reason;
    const td = S.cell(tr, "");
    if (canWrite && c.state === "active") {
      const b = S.el("button", { type: "button", class: "revoke-start", text: S.t("注销", "Revoke") });
      b.addEventListener("click", () => revokeForm(c, td));
      td.replaceChildren(b);
    }
    return tr;
  }

  async function load() {
    const body = $("cards");
    const state = $("card-state").value;
    try {
      const data = await S.api(A.siteUrl(site, `cards${state ? `?state=${state}` : ""}`));
      if (!data.cards.length) { S.empty(body, 6, "没有门禁卡", "No cards"); return; }
      body.replaceChildren(...data.cards.map(row));
    } catch (err) {
      S.empty(body, 6, err.message, err.message);
    }
  }

  /* The form's choices: the site's time profiles and access groups (kept when still there). */
  async function choices() {
    if (!site || !canWrite) return;
    try {
      const [profiles, groups] = await Promise.all([S.api(A.siteUrl(site, "profiles")),
                                                    S.api(A.siteUrl(site, "groups"))]);
      const select = $("card-profile");
      const was = select.value;
      select.replaceChildren(select.options[0],
                             ...profiles.profiles.map((p) => S.el("option", { value: p.name, text: p.name })));
      select.value = profiles.profiles.some((p) => p.name === was) ? was : "";
      const box = $("card-groups");
      const ticked = new Set([...box.querySelectorAll("input:checked")].map((b) => b.value));
      box.replaceChildren(...groups.groups.map((g) => {
        const tick = S.el("input", { type: "checkbox", name: "group", value: g.name });
        tick.checked = ticked.has(g.name);
        tick.addEventListener("change", () => {  // a group names the doors: untick 全部门
          if (tick.checked && $("card-all-doors").checked) {
            $("card-all-doors").checked = false;
            form.elements.doors.disabled = false;
          }
        });
        return S.el("label", { class: "inline" }, tick,
                    S.el("span", { text: g.zh ? `${g.zh}（${g.name}）` : g.name }));
      }));
      $("card-groups-row").hidden = !groups.groups.length;
    } catch (err) {
      S.showError(form, err);
    }
  }

  function start(slug, perms) {
    site = slug;
    canWrite = perms.has("records.write");
    form.hidden = !canWrite;
    choose(null);
    $("card-people").replaceChildren();
    return Promise.all([load(), choices()]);
  }

  function switchKind() {
    const resident = kind() === "resident";
    $("card-resident").hidden = !resident;
    $("card-people").hidden = !resident;
    $("card-chosen").hidden = !resident;
    $("card-staff").hidden = resident;
    S.clearErrors(form);
  }

  for (const r of form.querySelectorAll("input[name=holder-kind]")) r.addEventListener("change", switchKind);
  $("card-all-doors").addEventListener("change", () => {
    form.elements.doors.disabled = $("card-all-doors").checked;
  });
  $("card-find").addEventListener("click", find);
  $("card-q").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") { ev.preventDefault(); find(); }
  });
  form.addEventListener("submit", issue);
  $("card-state").addEventListener("change", () => load());

  return { start, choices };
})();
