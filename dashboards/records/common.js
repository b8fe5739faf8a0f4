/* 档案页面共用 / shared by the register pages: API calls with the CSRF token, site list. */
"use strict";

const REC = (() => {
  let csrf = null;

  async function token() {
    if (csrf !== null) return csrf;
    try {
      const r = await fetch("/api/me", { credentials: "same-origin" });
      csrf = r.ok ? ((await r.json()).csrf_token || "") : "";
    } catch (e) {
      csrf = "";
    }
    return csrf;
  }

  async function message(r) {
    try {
      const body = await r.json();
      return (body.error && body.error.message) || `HTTP ${r.status}`;
    } catch (e) {
      return `HTTP ${r.status}`;
    }
  }

  async function get(path) {
    const r = await fetch(path, { credentials: "same-origin" });
    if (!r.ok) throw new Error(await message(r));
    return r.json();
  }

  /** POST with X-CSRF-Token; resolves to {status, body} for 2xx and 422, throws otherwise. */
  async function post(path, body) {
    const headers = { "X-CSRF-Token": await token() };
    const r = await fetch(path, { method: "POST", body, headers, credentials: "same-origin" });
    if (!r.ok && r.status !== 422) throw new Error(await message(r));
    return { status: r.status, body: await r.json() };
  }

  function showError(err) {
    const box = document.getElementById("error");
    box.textContent = err ? String(err.message || err) : "";
    box.hidden = !err;
  }

  /** The sites this login serves, by name (/api/me: every role may read it; the device list
      at /api/sites needs devices.read, which a customer-service clerk does not hold). */
  async function fillSites(select) {
    const me = await get("/api/me");
    if (csrf === null) csrf = me.csrf_token || "";
    const wanted = new URLSearchParams(location.search).get("site");
    for (const [slug, name] of Object.entries(me.site_names || {})) {
      const opt = document.createElement("option");
      opt.value = slug;
      opt.textContent = name;
      if (slug === wanted) opt.selected = true;
      select.append(opt);
    }
  }

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    if (cls) td.className = cls;
    tr.append(td);
    return td;
  }

  return { get, post, showError, fillSites, cell };
})();
