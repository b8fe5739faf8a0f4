/* 登录页 / the login page: POST /api/login, then back to where the user was going. */
(function () {
  "use strict";
  const form = document.getElementById("login");
  const error = document.getElementById("error");
  const submit = document.getElementById("submit");

  // Where to go next is the console's answer (only a path on this console, never another
  // site: the rule lives in one place, cloud/auth/login.py safe_next).
  const next = new URLSearchParams(window.location.search).get("next") || "/";

  function show(text) {
    error.hidden = !text;
    error.textContent = text || "";
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const username = form.username.value.trim();
    const password = form.password.value;
    if (!username || !password) {
      show("请输入用户名和密码 / enter your username and password");
      return;
    }
    submit.disabled = true;
    show("");
    try {
      const resp = await fetch("/api/login", {
        method: "POST", cache: "no-store", credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ username, password, next }),
      });
      if (resp.ok) {
        const me = await resp.json().catch(() => ({}));
        window.location.assign(typeof me.next === "string" ? me.next : "/");
        return;
      }
      const data = await resp.json().catch(() => ({}));
      show((data.error && data.error.message) || `登录失败 / login failed (HTTP ${resp.status})`);
      form.password.value = "";
      form.password.focus();
    } catch (e) {
      show("无法连接控制台，请重试 / cannot reach the console, try again");
    } finally {
      submit.disabled = false;
    }
  });
})();
