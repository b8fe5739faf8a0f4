/* 登录页 / the login page: POST /api/login, then back to where the user was going. */
(function () {
  "use strict";
  const form = document.getElementById("login");
  const error = document.getElementById("error");
  const submit = document.getElementById("submit");

  // The language the shell uses (zh-CN unless switched): English texts sit in data-en.
  let lang = "zh";
  try { lang = localStorage.getItem("cy.lang") === "en" ? "en" : "zh"; } catch (e) { /* private */ }
  document.documentElement.dataset.lang = lang;
  if (lang === "en") {
    document.documentElement.lang = "en";
    for (const node of document.querySelectorAll("[data-en]")) node.textContent = node.dataset.en;
    document.title = "Log in · Courtyard console";
  }
  const langButton = document.getElementById("lang");
  langButton.textContent = lang === "en" ? "中文" : "English";
  langButton.addEventListener("click", () => {
    try { localStorage.setItem("cy.lang", lang === "en" ? "zh" : "en"); } catch (e) { /* private */ }
    location.reload();
  });
  const t = (zh, en) => (lang === "en" ? en : zh);
  const half = (text) => {
    const at = text.indexOf(" / ");
    if (at < 0) return text;
    return lang === "en" ? text.slice(at + 3) : text.slice(0, at);
  };

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
      show(t("请输入用户名和密码", "Enter your username and password"));
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
      show(data.error && data.error.message ? half(data.error.message)
        : t(`登录失败（HTTP ${resp.status}）`, `Login failed (HTTP ${resp.status})`));
      form.password.value = "";
      form.password.focus();
    } catch (e) {
      show(t("无法连接控制台，请重试", "Cannot reach the console, try again"));
    } finally {
      submit.disabled = false;
    }
  });
})();
