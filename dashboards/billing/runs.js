// 出账页面 / bill-run page: starts runs, polls progress, releases held bills via the API.
"use strict";
(function () {
  const site = document.body.dataset.site;
  const err = document.getElementById("error");
  function show(message) { err.textContent = message; err.hidden = !message; }
  // The console refuses a state change without the session's CSRF token (from /api/me).
  let csrf = null;
  async function token() {
    if (csrf === null) {
      const me = await fetch("/api/me", { credentials: "same-origin" });
      csrf = me.ok ? ((await me.json()).csrf_token || "") : "";
    }
    return csrf;
  }
  async function call(method, path, body) {
    const headers = { "Content-Type": "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = await token();
    const resp = await fetch(path, {
      method, credentials: "same-origin", headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) { throw new Error((data.error && data.error.message) || resp.statusText); }
    return data;
  }
  document.getElementById("site").addEventListener("change", (e) => {
    location.search = "?site=" + encodeURIComponent(e.target.value);
  });
  async function poll(id) {
    for (;;) {
      const run = await call("GET", "/api/bill-runs/" + id);
      show("");
      const row = document.querySelector('tr[data-run="' + id + '"]');
      if (row) {
        row.querySelector(".state").textContent = run.state;
        const bar = row.querySelector("progress");
        bar.max = Math.max(run.units_total, 1); bar.value = run.units_done;
      }
      if (run.state !== "running") { location.reload(); return; }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  document.getElementById("start").addEventListener("click", async () => {
    try {
      const run = await call("POST", "/api/bill-runs", {
        site, cycle: document.getElementById("cycle").value,
        period: document.getElementById("period").value.trim() });
      if (!document.querySelector('tr[data-run="' + run.id + '"]')) { location.reload(); return; }
      await poll(run.id);
    } catch (e) { show(e.message); }
  });
  document.querySelectorAll("button.release").forEach((btn) => {
    btn.addEventListener("click", async () => {
      const row = btn.closest("tr");
      const note = row.querySelector(".note").value.trim();
      try {
        await call("POST", "/api/bills/" + row.dataset.bill + "/release", { note });
        row.remove();
      } catch (e) { show(e.message); }
    });
  });
  document.querySelectorAll("tr[data-run]").forEach((row) => {
    if (row.querySelector(".state").textContent.includes("running")) { poll(row.dataset.run); }
  });
})();
