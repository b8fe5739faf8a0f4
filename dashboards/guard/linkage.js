/* 保安看板：边缘网关的消防联动状态 / guard board: what each site's edge last said about linkage.
 *
 * Resolving the fire's alarms in the console changes nothing at the site: the edge keeps the
 * barriers open and the doors unlocked until linkage is reset. So the board shows, per site, the
 * edge's own latest report (GET /api/alarms/linkage): active since when and what it holds, or
 * reset when and by whom. While active, the guard acts from here through the command channel
 * (POST /api/sites/{site}/commands): 复位联动 (linkage.reset) for the site, and per barrier
 * 落闸 (gate.close) when the linkage holds it open or 开闸 (gate.open) when raising it failed.
 * A button stays disabled while its command is on its way and shows the command's state
 * (GET …/commands/{id}, polled) until it ends. A console without a broker (the list says
 * channel.available false) gets the old text instead: where to act on the edge box.
 * window.GuardLinkage.refresh(site) reloads it; board.js calls it on every alarm change.
 */
"use strict";

window.GuardLinkage = (() => {
  const POLL_MS = 20000;
  const COMMAND_POLL_MS = 1000;
  const box = document.getElementById("linkage");
  let site = "";
  let timer = null;
  let pending = null;
  let shown = [];
  /** Whether the login may send the board's commands (all need alarms.act). */
  let canAct = false;
  /** site → whether the console can send it commands (from the command list). */
  const channel = new Map();
  /** "site|kind|target" → {cmd, error}: the latest command of each button, kept across draws. */
  const commands = new Map();

  const S = () => window.Shell;
  const hhmm = (iso, tz) => S().time(iso, tz).slice(11);
  const FINAL = new Set(["done", "refused", "expired", "failed"]);

  function actionText(a, tz) {
    const what = S().label("linkage_action", a.action);
    const result = S().label("linkage_result", a.result);
    return `${what} ${a.target || ""}：${result}（${hhmm(a.ts, tz)}）`;
  }

  function where() {
    return S().el("p", { class: "where", text: S().t(
      "复位联动、开闸须在边缘网关的操作页完成（控制台未连接消息代理，不能下发此指令）：在岗亭电脑或网关上用"
      + "保安令牌调用操作端口 9180 的 POST /linkage/reset（操作 reset_linkage，须在消防主机复位后），"
      + "见《运维手册》（docs/operations.md）“边缘监听端口”一节。",
      "Reset linkage and open barriers on the edge box's operator page (this console has no "
      + "broker to send the command through): from the guard-room PC or the box, with a guard's "
      + "token, POST /linkage/reset on operator port 9180 (action reset_linkage, after the fire "
      + "panel was reset); see docs/operations.md, Edge listeners.") });
  }

  const keyOf = (slug, kind, target) => `${slug}|${kind}|${target || ""}`;

  /** Follow a command until it ends, redrawing its button each time. */
  async function follow(key, slug, id) {
    try {
      const cmd = await S().api(`/api/sites/${encodeURIComponent(slug)}/commands/${id}`);
      commands.set(key, { cmd });
    } catch (e) { /* asked again below */ }
    draw();
    const now = commands.get(key);
    if (now && now.cmd && !FINAL.has(now.cmd.state)) {
      setTimeout(() => follow(key, slug, id), COMMAND_POLL_MS);
    }
  }

  async function send(button, slug, kind, args, key) {
    await S().once(button, async () => {
      try {
        const cmd = await S().api(`/api/sites/${encodeURIComponent(slug)}/commands`,
                                  { method: "POST", json: { kind, args } });
        commands.set(key, { cmd });
        draw();
        setTimeout(() => follow(key, slug, cmd.id), COMMAND_POLL_MS);
      } catch (e) {
        commands.set(key, { error: e.message || S().t("下发失败，请重试", "Not sent: try again") });
        draw();
      }
    });
  }

  /** A command button with its command's state beside it. */
  function commandButton(slug, kind, target, args, cls) {
    const key = keyOf(slug, kind, target);
    const last = commands.get(key) || {};
    const busy = !!(last.cmd && !FINAL.has(last.cmd.state));
    const name = S().label("command_kind", kind) + (target ? ` ${target}` : "");
    const button = S().el("button", { type: "button", class: `cmd ${cls || ""}`,
                                      "data-kind": kind, "data-target": target || null,
                                      disabled: busy, text: name });
    button.addEventListener("click", () => send(button, slug, kind, args, key));
    const out = S().el("span", { class: "cmd-item" }, button);
    const status = commandStatus(last);
    if (status) out.append(status);
    return out;
  }

  /** The state of a button's latest command (with the edge's reason when it did not run). */
  function commandStatus(last) {
    if (last.error) return S().el("span", { class: "cmd-error", role: "alert", text: last.error });
    if (!last.cmd) return null;
    const c = last.cmd;
    const why = c.detail && (c.state === "refused" || c.state === "failed")
      ? `（${S().msg(c.detail)}）` : "";
    return S().el("span", { class: `cmd-state cmd-${c.state}`, role: "status",
                            text: `${S().label("command_state", c.state)}${why}` });
  }

  function controls(s) {
    if (!channel.get(s.site)) return where();
    if (!canAct) return "";
    const row = S().el("div", { class: "linkage-commands" },
                       commandButton(s.site, "linkage.reset", "", {}, "reset"));
    for (const a of s.actions || []) {
      if (a.action !== "raise_gate" || !a.target) continue;
      const [kind, cls] = a.result === "ok" ? ["gate.close", "close"] : ["gate.open", "open"];
      row.append(commandButton(s.site, kind, a.target, { gate: a.target }, cls));
    }
    return row;
  }

  function line(s) {
    const tz = s.timezone || S().zone(s.site);
    const li = S().el("li", { class: `linkage-${s.state}`, "data-site": s.site });
    const name = S().el("b", { text: s.name || s.site });
    if (s.state === "active") {
      const held = (s.actions || []).filter((a) => a.result === "ok");
      const failed = (s.actions || []).filter((a) => a.result && a.result !== "ok");
      li.append("⚠ ", name, " ", S().t(
        `消防联动仍在进行：自 ${hhmm(s.since, tz)} 起由火警联动保持`,
        `Fire linkage still active: held by the fire linkage since ${hhmm(s.since, tz)}`));
      const ul = S().el("ul", { class: "linkage-actions" });
      for (const a of [...held, ...failed]) {
        ul.append(S().el("li", { class: a.result === "ok" ? "" : "failed",
                                 text: actionText(a, tz) }));
      }
      if (!held.length && !failed.length) {
        ul.append(S().el("li", { text: S().t("尚无动作结果", "no action result yet") }));
      }
      li.append(ul, controls(s));
    } else {
      const undone = (s.undone || []).map((a) => actionText(a, tz)).join("；");
      li.append("✓ ", name, " ", S().t(
        `消防联动已于 ${hhmm(s.reset, tz)} 复位（${s.reset_by || "—"}）`,
        `Fire linkage reset at ${hhmm(s.reset, tz)} (${s.reset_by || "—"})`),
      undone ? S().el("span", { class: "undone", text: ` ${undone}` }) : "");
      const last = commands.get(keyOf(s.site, "linkage.reset", ""));
      const status = last && last.cmd && commandStatus(last);
      if (status) li.append(" ", S().label("command_kind", "linkage.reset"), "：", status);
    }
    return li;
  }

  function draw() {
    box.hidden = shown.length === 0;
    box.replaceChildren(S().el("h2", { text: S().t("边缘联动状态", "Linkage at the edge") }),
                        S().el("ul", {}, ...shown.map(line)));
  }

  function show(sites) {
    shown = sites.filter((s) => s.state === "active" || s.state === "reset");
    draw();
  }

  /** Whether each active site's console can send it commands (asked once per load). */
  async function learnChannels(sites) {
    await Promise.all(sites.filter((s) => s.state === "active").map(async (s) => {
      try {
        const data = await S().api(`/api/sites/${encodeURIComponent(s.site)}/commands?limit=1`);
        channel.set(s.site, !!(data && data.channel && data.channel.available));
      } catch (e) {
        channel.set(s.site, false);
      }
    }));
  }

  async function load() {
    const query = site ? `?site=${encodeURIComponent(site)}` : "";
    try {
      const data = await S().api(`/api/alarms/linkage${query}`);
      const sites = (data && data.sites) || [];
      const me = await S().ready;
      canAct = !!(me && (me.permissions || []).includes("alarms.act"));
      await learnChannels(sites);
      show(sites);
    } catch (e) { /* shown again at the next poll */ }
  }

  /** Reload soon (several alarm changes in a burst make one request). */
  function refresh(slug) {
    if (slug !== undefined) site = slug;
    clearTimeout(pending);
    pending = setTimeout(load, 300);
    clearInterval(timer);
    timer = setInterval(load, POLL_MS);
  }

  return { refresh, show };
})();
