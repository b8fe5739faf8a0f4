/* 控制台外壳 / the console shell, loaded by every staff page before the page's own script.
 *
 * It wraps the page in one frame: the left menu of the login's role (from /api/me), the
 * breadcrumbs (<body data-crumbs="中文|English;…">), the 小区 switcher by name, the person and
 * logout, and the language switch (zh-CN by default; English for elements with data-en).
 * Pages use window.Shell:
 *   Shell.ready            Promise of /api/me (null on a public page when nobody is logged in)
 *   Shell.onSite(fn)       fn(slug) now and whenever the 小区 changes ("" = all, if allowed)
 *   Shell.api(path, opts)  fetch JSON with the CSRF token; throws Error(message in the
 *                          current language) with .status .field .code on a refusal
 *   Shell.label(t, code)   a stored code through the label table (/ui/labels.js)
 *   Shell.t(zh, en)        the text in the current language
 *   Shell.msg(text)        the current language's half of an API "中文 / English" message
 *   Shell.time(iso, tz?)   "2026-12-07 13:05" in the site's time zone
 *   Shell.toast(text, bad) a short note in the corner
 *   Shell.cell / empty / once / showError / clearErrors   table cells, buttons that act once,
 *                          refusals shown next to the field they name
 * <body data-site="none"> hides the switcher; data-site="all" offers 全部小区 too.
 */
(function () {
  "use strict";
  const LANG_KEY = "cy.lang";
  const SITE_KEY = "cy.site";
  const lang = (() => {
    try { return localStorage.getItem(LANG_KEY) === "en" ? "en" : "zh"; } catch (e) { return "zh"; }
  })();
  document.documentElement.dataset.lang = lang;
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";

  let me = null;
  let site = null;
  const siteListeners = [];

  function t(zh, en) { return lang === "en" && en ? en : zh; }

  function label(table, code) {
    if (code === null || code === undefined || code === "") return "";
    const pair = ((window.CY_LABELS || {})[table] || {})[code];
    return pair ? t(pair[0], pair[1]) : String(code);
  }

  function msg(text) {
    if (typeof text !== "string") return "";
    const at = text.indexOf(" / ");
    if (at < 0) return text;
    return lang === "en" ? text.slice(at + 3) : text.slice(0, at);
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  function siteZone(slug) {
    const s = me && (me.site_list || []).find((x) => x.slug === (slug || site));
    return (s && s.timezone) || (me && me.timezone) || "Asia/Shanghai";
  }

  function time(iso, tz) {
    if (!iso) return "";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    const parts = {};
    for (const p of new Intl.DateTimeFormat("en-GB", {
      timeZone: tz || siteZone(), year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(d)) {
      parts[p.type] = p.value;
    }
    return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
  }

  function toLogin() {
    const here = location.pathname + location.search;
    location.assign(`/login?next=${encodeURIComponent(here)}`);
  }

  async function api(path, opts) {
    const o = opts || {};
    const method = (o.method || "GET").toUpperCase();
    const headers = Object.assign({ Accept: "application/json" }, o.headers || {});
    const init = { method, headers, credentials: "same-origin", cache: "no-store" };
    if (o.json !== undefined) {
      init.body = JSON.stringify(o.json);
      headers["Content-Type"] = "application/json";
    } else if (o.body !== undefined) {
      init.body = o.body;
    }
    if (method !== "GET" && method !== "HEAD") {
      const who = me || await ready;
      headers["X-CSRF-Token"] = (who && who.csrf_token) || "";
    }
    const resp = await fetch(path, init);
    if (resp.status === 401 && !document.body.hasAttribute("data-public")) toLogin();
    const data = await resp.json().catch(() => null);
    if (!resp.ok) {
      const e = (data && data.error) || {};
      const err = new Error(msg(e.message) || `HTTP ${resp.status}`);
      err.status = resp.status;
      err.field = e.field || null;
      err.code = e.code || null;
      err.body = data;
      throw err;
    }
    return data;
  }

  let toastTimer = null;
  function toast(text, bad) {
    let box = document.querySelector(".cy-toast");
    if (!box) {
      box = el("div", { class: "cy-toast", role: "status", "aria-live": "polite" });
      document.body.append(box);
    }
    box.textContent = text;
    box.classList.toggle("bad", !!bad);
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, 6000);
  }

  /* ---- building blocks the pages share ---- */

  /* A table cell; nothing to show reads "—". */
  function cell(row, text, cls) {
    const empty = text === null || text === undefined || text === "";
    const td = el("td", { class: cls || null, text: empty ? "—" : String(text) });
    row.append(td);
    return td;
  }

  /* A table body that says it has nothing. */
  function emptyRow(body, cols, zh, en) {
    const tr = el("tr", { class: "empty" });
    cell(tr, t(zh, en)).colSpan = cols;
    body.replaceChildren(tr);
  }

  /* Run fn with the button disabled until the answer: a double-click acts once. */
  async function once(button, fn) {
    if (button.disabled) return undefined;
    button.disabled = true;
    try {
      return await fn();
    } finally {
      button.disabled = false;
    }
  }

  function clearErrors(form) {
    for (const n of form.querySelectorAll(".field-error")) n.remove();
    for (const n of form.querySelectorAll(".has-error")) n.classList.remove("has-error");
    const line = form.querySelector(".form-error");
    if (line) { line.textContent = ""; line.hidden = true; }
  }

  /* An API refusal next to the field it names (an element with data-field, or an input whose
     name is the field), else on the form's .form-error line. Nothing typed is lost. */
  function showError(form, err) {
    clearErrors(form);
    const text = err && err.message ? err.message : String(err);
    const field = err && err.field;
    const spot = field && (form.querySelector(`[data-field="${CSS.escape(field)}"]`)
      || form.querySelector(`[name="${CSS.escape(field)}"]`));
    if (spot) {
      const holder = spot.closest("label") || spot;
      holder.classList.add("has-error");
      holder.after(el("span", { class: "field-error", role: "alert", text }));
      return;
    }
    const line = form.querySelector(".form-error");
    if (line) { line.textContent = text; line.hidden = false; } else toast(text, true);
  }

  /* English: elements say their English in data-en (text) and data-en-placeholder /
     data-en-title / data-en-aria-label (attributes). */
  function translate(root) {
    if (lang !== "en") return;
    for (const node of root.querySelectorAll("[data-en]")) node.textContent = node.dataset.en;
    for (const attr of ["placeholder", "title", "aria-label"]) {
      for (const node of root.querySelectorAll(`[data-en-${attr}]`)) {
        node.setAttribute(attr, node.getAttribute(`data-en-${attr}`));
      }
    }
    const title = document.querySelector("meta[name=courtyard-title-en]");
    if (title) document.title = `${title.content} · Courtyard`;
  }

  /* ---- the frame ---- */
  const body = document.body;
  const siteMode = body.dataset.site || "one";
  const crumbs = el("ol", { class: "cy-crumbs", "aria-label": t("位置", "You are here") });
  const siteSelect = el("select", { id: "cy-site", "aria-label": t("小区", "Community") });
  const siteBox = el("label", { class: "cy-site", hidden: siteMode === "none" },
                     el("span", { text: t("小区", "Community") }), siteSelect);
  const who = el("span", { class: "cy-who" });
  const logout = el("button", { type: "button", id: "cy-logout", hidden: true,
                                text: t("退出登录", "Log out") });
  const langButton = el("button", { type: "button", id: "cy-lang", lang: lang === "en" ? "zh-CN" : "en",
                                    text: lang === "en" ? "中文" : "English" });
  const menuToggle = el("button", { type: "button", class: "cy-menu-toggle",
                                    "aria-expanded": "false", text: t("☰ 菜单", "☰ Menu") });
  const menu = el("ul", { class: "cy-menu" });
  const menuClose = el("button", { type: "button", class: "cy-menu-close",
                                   text: t("✕ 收起菜单", "✕ Close menu") });
  const nav = el("nav", { class: "cy-nav", "aria-label": t("主菜单", "Main menu") },
                 el("a", { class: "cy-brand", href: "/", text: t("智慧社区控制台", "Courtyard console") }),
                 menuClose, menu);
  const page = el("div", { class: "cy-page" });
  while (body.firstChild) page.append(body.firstChild);
  const bar = el("header", { class: "cy-bar" }, menuToggle, crumbs, siteBox, langButton, who,
                 logout);
  const app = el("div", { class: "cy-app" }, nav, el("div", { class: "cy-body" }, bar, page));
  body.prepend(app);

  function openMenu(open) {
    app.classList.toggle("cy-nav-open", open);
    menuToggle.setAttribute("aria-expanded", String(open));
  }
  menuToggle.addEventListener("click", () => openMenu(!app.classList.contains("cy-nav-open")));
  menuClose.addEventListener("click", () => openMenu(false));
  document.addEventListener("keydown", (ev) => { if (ev.key === "Escape") openMenu(false); });
  langButton.addEventListener("click", () => {
    try { localStorage.setItem(LANG_KEY, lang === "en" ? "zh" : "en"); } catch (e) { /* private mode */ }
    location.reload();
  });
  logout.addEventListener("click", async () => {
    logout.disabled = true;
    try { await api("/api/logout", { method: "POST" }); } catch (e) { /* gone already */ }
    location.assign("/login");
  });

  function drawCrumbs(home) {
    crumbs.replaceChildren(el("li", {}, el("a", { href: home || "/", text: t("首页", "Home") })));
    for (const part of (body.dataset.crumbs || "").split(";").filter(Boolean)) {
      const [zh, en, href] = part.split("|");
      const text = t(zh, en);
      crumbs.append(el("li", {}, href ? el("a", { href, text }) : text));
    }
  }

  function drawMenu(items) {
    const here = location.pathname.replace(/\/+$/, "") || "/";
    let best = null;
    for (const item of items) {
      if (here === item.path || (item.path !== "/" && here.startsWith(`${item.path}/`))) {
        if (!best || item.path.length > best.path.length) best = item;
      }
    }
    menu.replaceChildren(...items.map((item) => el("li", {}, el("a", {
      href: item.path, text: t(item.zh, item.en),
      "aria-current": item === best ? "page" : null }))));
  }

  function drawSites() {
    const list = (me && me.site_list) || [];
    const wanted = new URLSearchParams(location.search).get("site");
    let stored = null;
    try { stored = localStorage.getItem(SITE_KEY); } catch (e) { /* private mode */ }
    const options = [];
    if (siteMode === "all") options.push(el("option", { value: "", text: t("全部小区", "All communities") }));
    for (const s of list) options.push(el("option", { value: s.slug, text: s.name }));
    siteSelect.replaceChildren(...options);
    const slugs = list.map((s) => s.slug);
    const allowed = (v) => v !== null && (slugs.includes(v) || (v === "" && siteMode === "all"));
    site = [wanted, stored].find(allowed);
    if (site === undefined) site = siteMode === "all" ? "" : (slugs[0] || "");
    siteSelect.value = site;
    siteSelect.disabled = options.length < 2;
  }

  function setSite(slug, remember) {
    site = slug;
    if (remember) {
      try { localStorage.setItem(SITE_KEY, slug); } catch (e) { /* private mode */ }
    }
    const url = new URL(location.href);
    if (slug) url.searchParams.set("site", slug); else url.searchParams.delete("site");
    history.replaceState(history.state, "", url);
    for (const fn of siteListeners) fn(site);
  }
  siteSelect.addEventListener("change", () => setSite(siteSelect.value, true));

  drawCrumbs("/");
  translate(document);

  const ready = (async () => {
    let resp;
    try {
      resp = await fetch("/api/me", { credentials: "same-origin", cache: "no-store",
                                      headers: { Accept: "application/json" } });
    } catch (e) {
      toast(t("连不上控制台，请检查网络后刷新", "Cannot reach the console: check the network and reload"), true);
      return null;
    }
    if (resp.status === 401) {
      if (!body.hasAttribute("data-public") && !document.querySelector(".cy-error")) toLogin();
      nav.hidden = true;
      return null;
    }
    me = await resp.json();
    drawMenu(me.nav || []);
    drawCrumbs(me.home);
    drawSites();
    who.replaceChildren(el("b", { text: me.name || me.username || "" }), " ",
                        el("span", { class: "cy-role", text: label("role", me.role) }));
    logout.hidden = me.kind !== "user";
    return me;
  })();

  function onSite(fn) {
    siteListeners.push(fn);
    ready.then((who) => { if (who) fn(site); });
  }

  window.Shell = {
    ready, onSite, api, label, t, msg, time, toast, el, translate, lang,
    cell, empty: emptyRow, once, showError, clearErrors,
    site: () => site, zone: siteZone, me: () => me, toLogin,
  };
})();
