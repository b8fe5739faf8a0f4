/* 门禁状态 / the guard's door view: GET …/access/doors every few seconds (the board's way of
 * staying live when a feed is not pushed): each door's last state (被强行打开 and 长时间未关
 * highlighted, as are doors with open alarms), 常开/常闭 when the edge set the door so (until
 * when), the last person through and when. 开门 sends
 * door.open through the command channel (POST /api/sites/{site}/commands) and shows the
 * command's state until it ends (GET …/commands/{id}): 已下发 → 已执行, or 被拒绝 with the
 * edge's reason; a console without a broker answers no_channel and the page says so beside
 * the button. 签发访客证 opens the visitor-pass form (passes.js). */
"use strict";

(() => {
  const S = window.Shell;
  const A = window.Acc;
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 5000;
  const COMMAND_POLL_MS = 1000;
  const FINAL = new Set(["done", "refused", "expired", "failed"]);
  const ALERT = new Set(["forced", "held_open"]);
  const list = $("doors");
  const commands = new Map();  // door → {cmd} | {error}
  const sending = new Set();   // doors whose 开门 request has not been answered yet
  let site = "";
  let doors = [];
  let canOpen = false;
  let timer = null;
  let passes = null;

  function status(last) {
    if (!last) return null;
    if (last.error) return S.el("span", { class: "cmd-error", role: "alert", text: last.error });
    const c = last.cmd;
    const why = c.detail && (c.state === "refused" || c.state === "failed") ? `（${S.msg(c.detail)}）` : "";
    return S.el("span", { class: `cmd-state cmd-${c.state}`, role: "status",
                          text: `${S.label("command_state", c.state)}${why}` });
  }

  async function follow(door, id) {
    try {
      const cmd = await S.api(`/api/sites/${encodeURIComponent(site)}/commands/${id}`);
      commands.set(door, { cmd });
    } catch (e) { /* asked again below */ }
    draw();
    const now = commands.get(door);
    if (now && now.cmd && !FINAL.has(now.cmd.state)) setTimeout(() => follow(door, id), COMMAND_POLL_MS);
  }

  async function open(button, door) {
    if (sending.has(door)) return;
    sending.add(door);
    await S.once(button, async () => {
      try {
        const cmd = await S.api(`/api/sites/${encodeURIComponent(site)}/commands`, {
          method: "POST", json: { kind: "door.open", args: { door } } });
        commands.set(door, { cmd });
        setTimeout(() => follow(door, cmd.id), COMMAND_POLL_MS);
      } catch (err) {
        commands.set(door, { error: err.message || S.t("下发失败，请重试", "Not sent: try again") });
      }
    });
    sending.delete(door);
    draw();
  }

  function card(d) {
    const tz = S.zone(site);
    const alert = ALERT.has(d.state) || d.open_alarms > 0;
    const li = S.el("li", { class: `door${alert ? " alert" : ""} state-${d.state || "unknown"}`,
                            "data-door": d.door });
    li.append(S.el("h2", {}, S.el("span", { class: "door-name", text: d.door }),
                   d.building ? S.el("span", { class: "note", text: ` ${d.building}` }) : null));
    li.append(S.el("p", { class: "door-state" },
      S.el("b", { text: d.state ? S.label("door_state", d.state) : S.t("状态未知", "State unknown") }),
      d.state_at ? ` ${S.t("自", "since")} ${S.time(d.state_at, tz).slice(11)}` : ""));
    const m = d.mode;
    if (m && m.mode && m.mode !== "controlled") {  // 受控 is the usual: only say otherwise
      const until = m.until ? S.t(`，至 ${S.time(m.until, tz).slice(11)}`, `, until ${S.time(m.until, tz).slice(11)}`) : "";
      li.append(S.el("p", { class: `door-mode mode-${m.mode}`,
                            text: `${S.label("door_mode", m.mode)}${until}` }));
    }
    const p = d.last_person;
    li.append(S.el("p", { class: "door-last" }, S.t("最近通行：", "Last through: "),
      p ? `${A.holderText(p) || S.t("未知持卡人", "Unknown holder")} ${S.time(p.ts, tz).slice(11)}`
        : S.t("无", "nobody yet")));
    if (d.open_alarms > 0) {
      li.append(S.el("p", { class: "door-alarms", text: S.t(`未处理报警 ${d.open_alarms}`,
                                                             `Open alarms ${d.open_alarms}`) }));
    }
    if (canOpen) {
      const last = commands.get(d.door);
      const busy = sending.has(d.door) || !!(last && last.cmd && !FINAL.has(last.cmd.state));
      const b = S.el("button", { type: "button", class: "cmd open-door", disabled: busy,
                                 text: S.label("command_kind", "door.open") });
      b.addEventListener("click", () => open(b, d.door));
      li.append(S.el("div", { class: "cmd-item" }, b, " ", status(last)));
    }
    return li;
  }

  function draw() {
    list.replaceChildren(...doors.map(card));
    $("doors-empty").hidden = doors.length > 0;
  }

  async function load() {
    try {
      const data = await S.api(A.siteUrl(site, "doors"));
      doors = data.doors;
      $("doors-error").hidden = true;
      $("doors-updated").textContent = S.t(`更新于 ${S.time(new Date().toISOString(), S.zone(site)).slice(11)}（每 5 秒刷新）`,
                                          `Updated ${S.time(new Date().toISOString(), S.zone(site)).slice(11)} (every 5 s)`);
      draw();
    } catch (err) {
      $("doors-error").textContent = err.message;
      $("doors-error").hidden = false;
    }
  }

  $("pass-toggle").addEventListener("click", () => {
    const panel = $("pass-panel");
    panel.hidden = !panel.hidden;
    $("pass-toggle").setAttribute("aria-expanded", String(!panel.hidden));
    if (!panel.hidden) passes.start(site);
  });

  S.onSite(async (slug) => {
    const perms = await A.permissions();
    canOpen = perms.has("alarms.act");
    if (perms.has("access.passes") && !passes) passes = window.AccPasses.mount($("pass-panel"), { list: false });
    $("pass-toggle").hidden = !passes;
    site = slug;
    commands.clear();
    clearInterval(timer);
    await load();
    timer = setInterval(load, POLL_MS);
  });
})();
