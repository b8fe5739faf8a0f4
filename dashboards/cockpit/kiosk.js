/* 大屏首页 / a wall screen's first page: the token in the address' fragment (#token=cy_…)
 * becomes the read-only kiosk cookie (POST /api/cockpit/kiosk with it as a Bearer token); the
 * token leaves the address at once (before the request), and the screen goes on to the
 * cockpit with the rotation asked for (?rotate=N&sites=a,b in the query or the fragment;
 * rotate defaults to 60 s). Without a token the screen goes on with the cookie it has. */
(function () {
  "use strict";
  const state = document.getElementById("ck-kiosk-state");
  const hash = new URLSearchParams(location.hash.replace(/^#/, ""));
  const query = new URLSearchParams(location.search);
  const token = hash.get("token") || "";
  // The token leaves the address (and the history entry) before anything else happens.
  history.replaceState(null, "", location.pathname + location.search);

  function pick(name) { return query.get(name) || hash.get(name) || ""; }

  function next() {
    const out = new URLSearchParams();
    const rotate = pick("rotate") || "60";
    if (/^\d+$/.test(rotate) && Number(rotate) > 0) out.set("rotate", rotate);
    const sites = pick("sites");
    if (sites) out.set("sites", sites);
    const q = out.toString();
    return `/cockpit${q ? `?${q}` : ""}`;
  }

  function say(zh, en) {
    state.replaceChildren(document.createTextNode(`${zh} `),
                          Object.assign(document.createElement("span"),
                                        { className: "ck-en", textContent: en }));
    state.classList.add("bad");
  }

  async function open() {
    if (!token) { location.replace(next()); return; }
    let resp;
    try {
      resp = await fetch("/api/cockpit/kiosk", {
        method: "POST", credentials: "same-origin", cache: "no-store",
        headers: { Authorization: `Bearer ${token}`, Accept: "application/json" } });
    } catch (e) {
      say("连不上控制台，稍后自动重试", "cannot reach the console: retrying shortly");
      setTimeout(open, 10000);
      return;
    }
    if (resp.ok) { location.replace(next()); return; }
    if (resp.status === 403) say("这个令牌不能用于大屏（需要“大屏”角色的令牌）",
                                 "this token is not a wall-screen token (role cockpit)");
    else if (resp.status === 401) say("令牌无效或已撤销，请管理员重新生成",
                                      "the token is invalid or revoked: ask an administrator for a new one");
    else say(`开启失败（HTTP ${resp.status}）`, `could not open (HTTP ${resp.status})`);
  }
  open();
})();
