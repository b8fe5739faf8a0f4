/* 新建工单 / the board's form for a new order: category and priority from the label table, the
   小区 from the shell, location and what is wrong. One request id per filled form, kept across
   a double-click or a retry (the console refuses a second order with it), new after a filing
   or an edit. A refusal is shown under the form, naming the field; nothing typed is lost.
   Announces a filed order with the "wo:filed" event (the board refreshes). */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const form = $("create");
  const FIELD_INPUT = { title: "f-location", description: "f-description",
                        category: "f-category", priority: "f-priority" };
  let site = "";
  let requestId = null;

  function newId() {
    return (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`)
      .replace(/-/g, "").slice(0, 32);
  }

  function fill() {
    const cats = Object.keys(WO.table.categories);
    $("f-category").replaceChildren(...cats.map((c) => Object.assign(
      WO.el("option", "", Shell.label("category", c)), { value: c })));
    $("f-category").value = cats.includes("plumbing") ? "plumbing" : cats[0];
    $("f-priority").replaceChildren(...WO.table.priorities.map((p) => Object.assign(
      WO.el("option", "", Shell.label("priority", p)), { value: p })));
    $("f-priority").value = "normal";
  }

  /** The 小区 an order is filed for: the shell's, or the only one the login serves. */
  function target() {
    if (site) return site;
    const list = (Shell.me() && Shell.me().site_list) || [];
    return list.length === 1 ? list[0].slug : "";
  }

  function showSite() {
    const slug = target();
    $("f-site").textContent = slug ? WO.siteName(slug)
      : Shell.t("请先在上方选择小区", "choose the community at the top first");
    $("f-site").classList.toggle("missing", !slug);
  }

  function fail(msg, field) {
    for (const id of Object.values(FIELD_INPUT)) $(id).removeAttribute("aria-invalid");
    $("create-error").textContent = msg;
    $("create-error").hidden = !msg;
    const input = field && $(FIELD_INPUT[field]);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  }

  async function submit(ev) {
    ev.preventDefault();
    const button = $("f-submit");
    if (button.disabled) return;
    const slug = target();
    const location = $("f-location").value.trim();
    const description = $("f-description").value.trim();
    if (!slug) return fail(Shell.t("请先在上方选择小区", "Choose the community at the top first"));
    if (!location) {
      return fail(Shell.t("请填写位置或房号", "Say where: a location or unit"), "title");
    }
    if (!description) {
      return fail(Shell.t("请描述问题", "Say what is wrong"), "description");
    }
    const summary = description.split("\n")[0].slice(0, 100);
    requestId = requestId || newId();
    button.disabled = true;
    fail("");
    try {
      // Who files it is the login: the console records it (requested_by defaults to it).
      const order = await Shell.api("/api/workorders", { method: "POST", json: {
        site: slug, category: $("f-category").value, priority: $("f-priority").value,
        title: `${location} ${summary}`.slice(0, 200), description, request_id: requestId } });
      requestId = null;
      $("f-location").value = "";
      $("f-description").value = "";
      document.dispatchEvent(new CustomEvent("wo:filed", { detail: order }));
    } catch (err) {
      if (err.code === "duplicate_request") {
        requestId = null;  // already filed: the board shows it
        document.dispatchEvent(new CustomEvent("wo:filed", { detail: null }));
      } else {
        fail(err.message, err.field);
      }
    } finally {
      button.disabled = false;
    }
  }

  function toggle(open) {
    form.hidden = !open;
    $("new-order").setAttribute("aria-expanded", String(open));
    if (open) $("f-location").focus();
  }

  form.addEventListener("submit", submit);
  form.addEventListener("input", () => { requestId = null; });
  $("new-order").addEventListener("click", () => toggle(form.hidden));
  $("f-cancel").addEventListener("click", () => toggle(false));
  fill();
  Shell.onSite((slug) => { site = slug; showSite(); });
})();
