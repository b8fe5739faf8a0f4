/* 保安看板 / guard board, in the console shell.
 *
 * Live alarms from the console's WebSocket (/api/alarms/live): a snapshot of the alarms still
 * being handled, then every change. Alarms are shown one card per incident (the API's
 * "incident" key: one fire's detector, call point and panel reports are one card), newest
 * incident on top, colour and sound by severity, place first because that is where the guard
 * goes. The card lists each event with its time and count; 确认 / 开始处理 / 解除 / 误报 act on
 * the whole incident in one request (/api/incidents/{id}/{action}, naming the members shown).
 * Who acts is the login: the page sends no name. When the link drops a red banner says so and
 * the page reconnects with backoff; the snapshot it gets then replaces what it had. The 小区
 * switcher (Shell.onSite) filters one site or shows all. Server text goes in as textContent.
 */
"use strict";

(() => {
  const RETRY_MIN_MS = 500;
  const RETRY_MAX_MS = 15000;
  // The feed sends {"type": "ping"} every 25 s: a socket silent for longer is dead.
  const SILENT_LIMIT_MS = 60000;
  const REMIND_MS = 15000;        // open critical incidents sound again this often
  const STATE_RANK = { open: 0, acknowledged: 1, in_progress: 2, resolved: 3, false_alarm: 3 };
  const SEVERITY_RANK = { critical: 0, major: 1, minor: 2, info: 3 };
  const CLOSED = new Set(["resolved", "false_alarm"]);
  const ACTIONS = {
    open: ["acknowledge", "start", "resolve", "false-alarm"],
    acknowledged: ["start", "resolve", "false-alarm"],
    in_progress: ["resolve", "false-alarm"],
  };
  const SOURCES = {  // the states each action applies to (policy.TRANSITIONS)
    acknowledge: ["open"], start: ["open", "acknowledged"],
    resolve: ["open", "acknowledged", "in_progress"],
    "false-alarm": ["open", "acknowledged", "in_progress"],
  };
  const NOTE_REQUIRED = new Set(["false-alarm"]);
  const EVIDENCE_WORDS = ["description", "component_type_name", "system_type_name"];

  const $ = (id) => document.getElementById(id);
  const list = $("incidents");
  const template = $("incident-template");
  const banner = $("banner");
  const bannerDetail = $("banner-detail");
  const conn = $("conn");
  const soundButton = $("sound");
  const fullButton = $("fullscreen");

  const alarms = new Map();  // alarm id → alarm
  const cards = new Map();   // incident id → <li>
  let site = null;           // null until the shell says; "" = all sites
  let ws = null;
  let attempt = 0;
  let retryTimer = null;
  let countdownTimer = null;
  let downSince = null;
  let everSynced = false;    // the first snapshot of a connection plays no sound
  let muted = false;
  let lastMessageAt = 0;

  const S = () => window.Shell;
  const zoneOf = (slug) => S().zone(slug || site || undefined);
  const when = (iso, slug) => S().time(iso, zoneOf(slug));
  const words = (v) => (v && typeof v === "object" ? S().t(v.zh || v.en, v.en || v.zh) : v);

  // --- incidents -----------------------------------------------------------------------------

  function byIncident() {
    const out = new Map();
    for (const a of alarms.values()) {
      const key = String(a.incident ?? a.id);
      if (!out.has(key)) out.set(key, []);
      out.get(key).push(a);
    }
    for (const members of out.values()) {
      members.sort((x, y) => (x.first_ts < y.first_ts ? -1 : x.first_ts > y.first_ts ? 1
        : x.id - y.id));
    }
    return out;
  }

  function summary(members) {
    const lead = [...members].sort((x, y) => (SEVERITY_RANK[x.severity] ?? 9)
      - (SEVERITY_RANK[y.severity] ?? 9))[0];
    const state = members.map((a) => a.state)
      .sort((x, y) => STATE_RANK[x] - STATE_RANK[y])[0];
    const count = members.reduce((n, a) => n + (Number(a.count) || 1), 0);
    const opened = members.map((a) => a.opened_at || a.first_ts).sort()[0];
    const place = (members.find((a) => a.location_text) || {}).location_text || "";
    return { lead, state, count, opened, place, escalated: members.some((a) => a.escalated) };
  }

  function eventLine(a) {
    const ev = a.evidence || {};
    const what = EVIDENCE_WORDS.map((k) => words(ev[k])).find(Boolean) || words(a.title);
    const li = S().el("li", { "data-alarm": String(a.id), class: a.state },
      S().el("time", { text: when(a.first_ts, a.site) }),
      S().el("span", { class: "what", text: what }),
      a.location_text ? S().el("span", { class: "where", text: a.location_text }) : null,
      Number(a.count) > 1 ? S().el("b", { class: "n", text: `×${a.count}` }) : null,
      S().el("span", { class: "st", text: S().label("alarm_state", a.state) }));
    if (Number(a.count) > 1) {
      li.title = S().t(`最近一次 ${when(a.last_ts, a.site)}`, `latest ${when(a.last_ts, a.site)}`);
    }
    return li;
  }

  function fill(card, members) {
    const s = summary(members);
    const a = s.lead;
    card.dataset.state = s.state;
    card.dataset.severity = a.severity;
    card.dataset.members = members.map((m) => m.id).join(",");
    card.className = `incident ${a.severity} ${s.state}`;
    const q = (sel) => card.querySelector(sel);
    q(".sev").textContent = S().label("severity", a.severity);
    q(".title").textContent = words(a.title) || a.kind;
    const count = q(".count");
    count.hidden = s.count < 2;
    count.textContent = S().t(`${s.count} 次`, `×${s.count}`);
    const esc = q(".escalated");
    esc.hidden = !s.escalated;
    esc.textContent = S().t("已升级", "Escalated");
    q(".state").textContent = S().label("alarm_state", s.state);
    const loc = q(".loc");
    loc.textContent = s.place || "";
    if (!s.place) loc.append(S().el("span", { class: "none", text: S().t("位置未知", "Place unknown") }));
    q(".events").replaceChildren(...members.map(eventLine));
    const times = [S().t(`报警 ${when(s.opened, a.site)}`, `Alarm ${when(s.opened, a.site)}`)];
    const acked = members.find((m) => m.acknowledged_by);
    if (acked) {
      times.push(S().t(`确认：${acked.acknowledged_by} ${when(acked.acknowledged_at, a.site)}`,
                       `Acknowledged: ${acked.acknowledged_by} ${when(acked.acknowledged_at, a.site)}`));
    }
    const restored = members.filter((m) => m.restored_at).map((m) => m.restored_at).sort().pop();
    if (restored) times.push(S().t(`设备已恢复 ${when(restored, a.site)}`, `Device restored ${when(restored, a.site)}`));
    if (!site && a.site) times.push(S().t(`小区 ${siteName(a.site)}`, `Community ${siteName(a.site)}`));
    q(".times").textContent = times.join(" · ");
    const allowed = ACTIONS[s.state] || [];
    for (const btn of card.querySelectorAll("button[data-action]")) {
      btn.hidden = !members.some((m) => (SOURCES[btn.dataset.action] || []).includes(m.state))
        || !allowed.length;
    }
    q(".actions").hidden = allowed.length === 0;
  }

  function siteName(slug) {
    const me = S().me();
    const s = me && (me.site_list || []).find((x) => x.slug === slug);
    return (s && s.name) || slug;
  }

  function newCard(key) {
    const card = template.content.firstElementChild.cloneNode(true);
    card.dataset.incident = key;
    S().translate(card);
    card.addEventListener("animationend", () => card.classList.remove("fresh"));
    card.querySelector(".more").addEventListener("toggle", (ev) => {
      if (ev.target.open) loadDetail(card);
    });
    return card;
  }

  /** Draw every incident card from ``alarms``; flash and sound the ones in ``alerted``. */
  function draw(alerted) {
    const groups = byIncident();
    for (const [key, card] of cards) {
      if (!groups.has(key)) { card.remove(); cards.delete(key); }
    }
    const order = [...groups.entries()].map(([key, members]) => ({ key, members,
      s: summary(members) })).sort((x, y) => (x.s.opened < y.s.opened ? 1
      : x.s.opened > y.s.opened ? -1 : Number(y.key) - Number(x.key)));
    let loudest = null;
    order.forEach(({ key, members, s }, i) => {
      let card = cards.get(key);
      if (!card) { card = newCard(key); cards.set(key, card); }
      fill(card, members);
      if (list.children[i] !== card) list.insertBefore(card, list.children[i] || null);
      if (alerted && members.some((m) => alerted.has(m.id))) {
        flash(card);
        if (loudest === null || SEVERITY_RANK[s.lead.severity] < SEVERITY_RANK[loudest]) {
          loudest = s.lead.severity;
        }
      }
    });
    if (loudest !== null) sound(loudest);
    const counts = { open: 0, acknowledged: 0, in_progress: 0 };
    for (const { s } of order) if (s.state in counts) counts[s.state] += 1;
    for (const [state, n] of Object.entries(counts)) $(`n-${state}`).textContent = String(n);
    $("empty").hidden = order.length > 0;
    document.title = `${counts.open ? `(${counts.open}) ` : ""}${S().t("保安看板", "Guard board")} · Courtyard`;
  }

  function flash(card) {
    card.classList.remove("fresh");
    void card.offsetWidth;  // restart the animation
    card.classList.add("fresh");
  }

  /** Take one alarm's latest state; true when it is new or repeated since last seen. */
  function take(a) {
    if (!a || a.id === undefined || a.id === null) return false;
    if (site && a.site !== site) return false;
    const before = alarms.get(a.id);
    if (CLOSED.has(a.state)) { alarms.delete(a.id); return false; }
    alarms.set(a.id, a);
    return !before || (Number(a.count) || 1) > (Number(before.count) || 1);
  }

  function resync(snapshot) {
    const old = new Map(alarms);
    alarms.clear();
    const alerted = new Set();
    for (const a of snapshot) {
      if (site && a.site !== site) continue;
      const before = old.get(a.id);
      if (!CLOSED.has(a.state)) alarms.set(a.id, a);
      if (everSynced && (!before || (Number(a.count) || 1) > (Number(before.count) || 1))) {
        alerted.add(a.id);
      }
    }
    draw(alerted);
    everSynced = true;
  }

  // --- actions -------------------------------------------------------------------------------

  function showError(card, text) {
    const box = card.querySelector(".error");
    box.hidden = !text;
    box.textContent = text || "";
  }

  async function act(card, action) {
    const key = card.dataset.incident;
    const noteInput = card.querySelector(".note");
    const note = noteInput.value.trim();
    if (NOTE_REQUIRED.has(action) && !note) {
      noteInput.classList.add("missing");
      noteInput.focus();
      showError(card, S().t("标记误报须填写说明（为什么不是真的）",
                            "A false alarm needs a note (why it was not real)"));
      return;
    }
    showError(card, "");
    const members = card.dataset.members.split(",").map(Number)
      .filter((id) => alarms.has(id) && SOURCES[action].includes(alarms.get(id).state));
    const buttons = card.querySelectorAll("button[data-action]");
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const body = { alarms: members };
      if (note) body.note = note;
      const r = await S().api(`/api/incidents/${encodeURIComponent(key)}/${action}`,
                              { method: "POST", json: body });
      noteInput.value = "";
      for (const a of r.alarms || []) take(a);
    } catch (e) {
      showError(card, e.message || S().t("操作失败，请重试", "The action failed: try again"));
      if (e.field === "note") noteInput.classList.add("missing");
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
      draw(null);
    }
  }

  function historyLine(h, slug) {
    const what = h.action === "opened" ? S().t("报警", "Opened")
      : h.action === "restored" ? S().t("设备恢复", "Device restored")
        : h.action === "escalated" ? S().t("升级", "Escalated")
          : S().label("alarm_state", h.to) || h.action;
    return [when(h.at, slug), what, h.by, h.role && S().label("role", h.role), h.note]
      .filter(Boolean).join(" · ");
  }

  async function loadDetail(card) {
    const body = card.querySelector(".more-body");
    body.textContent = S().t("加载中…", "Loading…");
    const ids = card.dataset.members.split(",");
    const parts = [];
    try {
      for (const id of ids) parts.push(await S().api(`/api/alarms/${encodeURIComponent(id)}`));
    } catch (e) {
      body.textContent = e.message;
      return;
    }
    body.textContent = "";
    for (const d of parts) {
      const ev = d.evidence || {};
      body.append(S().el("h3", { text: `${words(ev.description) || words(d.title)} ${d.location_text || ""}` }));
      const ul = S().el("ul");
      for (const l of d.linkage || []) {
        const what = l.action ? S().label("linkage_action", l.action) : S().t("联动启动", "Linkage triggered");
        ul.append(S().el("li", { class: l.result && l.result !== "ok" ? "failed" : "",
          text: `${when(l.ts, d.site)} ${what} ${l.target || ""} ${l.result ? S().label("linkage_result", l.result) : ""}` }));
      }
      for (const h of d.history || []) ul.append(S().el("li", { text: historyLine(h, d.site) }));
      body.append(ul);
    }
  }

  list.addEventListener("click", (ev) => {
    const btn = ev.target.closest("button[data-action]");
    const card = btn && btn.closest(".incident");
    if (card && !btn.disabled) act(card, btn.dataset.action);
  });
  list.addEventListener("input", (ev) => {
    if (ev.target.classList.contains("note")) ev.target.classList.remove("missing");
  });

  // --- sound, full screen, clock -------------------------------------------------------------

  function showSound() {
    const on = window.GuardSounds.enabled && !muted;
    soundButton.classList.toggle("on", on);
    soundButton.classList.toggle("off", !on);
    soundButton.setAttribute("aria-pressed", String(on));
    soundButton.textContent = on ? S().t("♪ 声音已开启", "♪ Sound on")
      : muted ? S().t("已静音，点击恢复声音", "Muted: click for sound")
        : S().t("点击启用声音", "Click to enable sound");
  }
  soundButton.addEventListener("click", async () => {
    if (window.GuardSounds.enabled && !muted) muted = true;
    else { muted = false; await window.GuardSounds.enable(); }
    showSound();
  });
  function sound(severity) { if (!muted) window.GuardSounds.play(severity); }
  setInterval(() => {
    for (const a of alarms.values()) {
      if (a.state === "open" && a.severity === "critical") { sound("critical"); return; }
    }
  }, REMIND_MS);

  const board = $("board");
  function showFullscreen() {
    fullButton.textContent = document.fullscreenElement ? S().t("退出全屏", "Exit full screen")
      : S().t("全屏", "Full screen");
  }
  if (!board.requestFullscreen) fullButton.hidden = true;
  fullButton.addEventListener("click", async () => {
    try {
      if (document.fullscreenElement) await document.exitFullscreen();
      else await board.requestFullscreen();
    } catch (e) { /* refused by the browser */ }
  });
  document.addEventListener("fullscreenchange", showFullscreen);

  function tick() {
    const tz = zoneOf(site);
    const p = {};
    for (const x of new Intl.DateTimeFormat("en-GB", { timeZone: tz, hour: "2-digit",
      minute: "2-digit", second: "2-digit", hourCycle: "h23" }).formatToParts(new Date())) {
      p[x.type] = x.value;
    }
    $("clock").textContent = `${S().time(new Date().toISOString(), tz).slice(0, 10)} `
      + `${p.hour}:${p.minute}:${p.second}`;
    $("clock").title = tz;
  }

  // --- live connection -----------------------------------------------------------------------

  function showConnection(up) {
    document.body.dataset.connection = up ? "up" : "down";
    banner.hidden = up;
    conn.className = `gb-conn ${up ? "up" : "down"}`;
    conn.textContent = up ? S().t("● 已连接", "● Live") : S().t("● 连接中断", "● Disconnected");
  }

  function scheduleReconnect() {
    if (retryTimer !== null) return;
    const base = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** attempt);
    const delay = Math.round(base * (0.8 + 0.4 * Math.random()));
    attempt += 1;
    const due = Date.now() + delay;
    const since = downSince ? when(downSince.toISOString()) : "";
    const show = () => {
      const s = Math.max(0, Math.ceil((due - Date.now()) / 1000));
      bannerDetail.textContent = S().t(`自 ${since} 起 · ${s} 秒后重连`,
                                       `since ${since} · reconnecting in ${s} s`);
    };
    show();
    clearInterval(countdownTimer);
    countdownTimer = setInterval(show, 1000);
    retryTimer = setTimeout(() => {
      retryTimer = null;
      clearInterval(countdownTimer);
      bannerDetail.textContent = S().t("正在重连…", "Reconnecting…");
      connect();
    }, delay);
  }

  function lost() {
    if (downSince === null) downSince = new Date();
    showConnection(false);
    scheduleReconnect();
  }

  function abandon(sock) {
    sock.onopen = sock.onmessage = sock.onclose = sock.onerror = null;
    try { sock.close(); } catch (e) { /* already closed */ }
    if (ws === sock) ws = null;
  }

  function connect() {
    if (ws !== null) abandon(ws);
    const proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    const query = site ? `?site=${encodeURIComponent(site)}` : "";
    const sock = new WebSocket(`${proto}//${window.location.host}/api/alarms/live${query}`);
    ws = sock;
    sock.onopen = () => { lastMessageAt = Date.now(); };
    sock.onmessage = (ev) => {
      lastMessageAt = Date.now();
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.type === "snapshot") {
        resync(Array.isArray(msg.alarms) ? msg.alarms : []);
        attempt = 0;
        downSince = null;
        showConnection(true);
        window.GuardLinkage.refresh(site);
      } else if (msg.type === "alarm") {
        draw(take(msg.alarm) ? new Set([msg.alarm.id]) : null);
        window.GuardLinkage.refresh(site);
      }
    };
    sock.onclose = () => {
      if (ws !== sock) return;
      ws = null;
      lost();
    };
    sock.onerror = () => { /* a close event follows */ };
  }

  setInterval(() => {
    if (ws !== null && ws.readyState === WebSocket.OPEN
        && Date.now() - lastMessageAt > SILENT_LIMIT_MS) {
      abandon(ws);
      lost();
    }
  }, 5000);
  window.addEventListener("online", () => {
    if (ws === null && retryTimer !== null) {
      clearTimeout(retryTimer);
      retryTimer = null;
      connect();
    }
  });

  showSound();
  showFullscreen();
  S().onSite((slug) => {
    const changed = site !== null && slug !== site;
    site = slug || "";
    if (changed) { alarms.clear(); draw(null); everSynced = false; }
    tick();
    connect();
  });
  setInterval(tick, 1000);
})();
