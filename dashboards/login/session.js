/* 会话 / the console session for pages: the CSRF token every POST must carry, and back to the
 * login page when the session has ended. Pages load it before their own scripts and use
 * CourtyardSession.fetch(url, init) instead of fetch for API calls. */
(function () {
  "use strict";
  let csrf = null;

  async function token() {
    if (csrf !== null) return csrf;
    const resp = await fetch("/api/me", { cache: "no-store", credentials: "same-origin",
                                          headers: { Accept: "application/json" } });
    if (resp.status === 401) { toLogin(); return ""; }
    const me = await resp.json().catch(() => ({}));
    csrf = me.csrf_token || "";
    return csrf;
  }

  function toLogin() {
    const here = window.location.pathname + window.location.search;
    window.location.assign(`/login?next=${encodeURIComponent(here)}`);
  }

  async function sessionFetch(url, init) {
    const opts = Object.assign({ credentials: "same-origin" }, init || {});
    const method = (opts.method || "GET").toUpperCase();
    if (method !== "GET" && method !== "HEAD") {
      opts.headers = Object.assign({}, opts.headers || {}, { "X-CSRF-Token": await token() });
    }
    const resp = await fetch(url, opts);
    if (resp.status === 401) toLogin();
    return resp;
  }

  window.CourtyardSession = { fetch: sessionFetch, csrf: token, toLogin };
})();
