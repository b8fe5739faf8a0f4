/* 安防值班看板 / guard board.
 *
 * Live alarms from the console's WebSocket (/api/alarms/live): a snapshot of the alarms still
 * being handled, then every change. Newest at the top, colour and sound by severity, location
 * first because that is where the guard has to go. Actions are POSTs on /api/alarms/{id}/….
 * When the link drops a red banner says so and the page reconnects with backoff; the snapshot
 * it gets on reconnecting replaces whatever it had, so nothing missed while down stays missed.
 * All text from the server goes in through textContent, never as HTML.
 */
"use strict";

(() => {
  const params = new URLSearchParams(window.location.search);
  const SITE = (params.get("site") || "").trim();
  const TZ_OVERRIDE = (params.get("tz") || "").trim();
  const metaTz = document.querySelector('meta[name="courtyard-default-tz"]');
  const DEFAULT_TZ = metaTz && !metaTz.content.startsWith("__") ? metaTz.content
    : "Asia/Shanghai";
  const GUARD_KEY = "courtyard.guard.name";

  const RETRY_MIN_MS = 500;
  const RETRY_MAX_MS = 15000;
  // The feed sends {"type": "ping"} every 25 s: a socket silent for longer than this is dead
  // even if the browser has not noticed (a pulled cable closes nothing).
  const SILENT_LIMIT_MS = 60000;
  const REMIND_MS = 15000;        // open critical alarms sound again this often
  const REQUEST_TIMEOUT_MS = 10000;

  const SEVERITY = {
    critical: ["紧急", "Critical"], major: ["重要", "Major"], minor: ["一般", "Minor"],
    info: ["提示", "Info"],
  };
  const STATE = {
    open: ["未确认", "Open"], acknowledged: ["已确认", "Acknowledged"],
    in_progress: ["处理中", "In progress"], resolved: ["已解决", "Resolved"],
    false_alarm: ["误报", "False alarm"],
  };
  const STATE_RANK = { open: 0, acknowledged: 1, in_progress: 2, resolved: 3, false_alarm: 3 };
  const CLOSED = new Set(["resolved", "false_alarm"]);
  const ACTIONS = {
    open: ["acknowledge", "start", "resolve", "false-alarm"],
    acknowledged: ["start", "resolve", "false-alarm"],
    in_progress: ["resolve", "false-alarm"],
  };
  const NOTE_REQUIRED = new Set(["resolve", "false-alarm"]);
  const KIND = {
    "fire.alarm": ["火警", "Fire alarm"],
    "fire.fault": ["消防设备故障", "Fire system fault"],
    "fire.supervisory": ["监管报警", "Supervisory alarm"],
    "fire.shielded": ["部件屏蔽", "Component shielded"],
    "fire.feedback": ["联动反馈", "Linkage feedback"],
    "uitd.power_fault": ["传输装置电源故障", "UITD power fault"],
    "elevator.trapped": ["电梯困人", "Passenger trapped"],
    "elevator.fault": ["电梯故障", "Elevator fault"],
  };
  // Evidence shown beside the place, in this order: the first present key of each entry (a
  // readable name before its code). Keys listed nowhere are shown after these, by raw name.
  const EVIDENCE = [
    [["description", "desc"], "描述", "Description"],
    [["device"], "设备", "Device"],
    [["floor"], "楼层", "Floor"],
    [["component_type_name", "component_type"], "部件类型", "Component type"],
    [["component_name", "component"], "部件", "Component"],
    [["system_type_name", "system_name", "system_type", "system"], "系统", "System"],
    [["system_addr"], "系统地址", "System address"],
    [["zone"], "区", "Zone"],
    [["position"], "位号", "Position"],
    [["component_addr"], "部件地址", "Component address"],
    [["uitd"], "传输装置", "UITD"],
    [["elevator"], "电梯", "Elevator"],
    [["fault_name", "reason_text", "reason", "fault", "code"], "原因", "Reason"],
    [["door_state", "door"], "门", "Door"],
    [["direction"], "方向", "Direction"],
    [["people"], "轿厢有人", "People in car"],
    [["in_door_zone"], "平层区", "In door zone"],
    [["lane"], "车道", "Lane"],
    [["gate"], "道闸", "Gate"],
    [["camera"], "摄像机", "Camera"],
    [["status"], "状态", "Status"],
    [["test_mode"], "测试模式", "Test mode"],
    [["detail"], "详情", "Detail"],
  ];
  // Already on the card (the place) or not for people (raw bits, references, versions).
  const EVIDENCE_HIDDEN = new Set(["v", "building", "area", "severity", "status_bits", "mode",
    "snapshot", "snapshots", "snapshot_ref", "snapshot_url", "image_ref", "video_ref"]);
  const EVIDENCE_MAX_ROWS = 8;

  const $ = (id) => document.getElementById(id);
  const list = $("alarms");
  const template = $("alarm-template");
  const guardInput = $("guard-name");
  const banner = $("banner");
  const bannerDetail = $("banner-detail");
  const conn = $("conn");
  const soundButton = $("sound");
  const fullButton = $("fullscreen");

  const alarms = new Map();  // id → alarm
  const cards = new Map();   // id → <li>
  const siteZones = new Map();
  let ws = null;
  let attempt = 0;
  let retryTimer = null;
  let countdownTimer = null;
  let downSince = null;
  let everSynced = false;    // the first snapshot of this page load plays no sound
  let muted = false;
  let lastMessageAt = 0;

  // --- text helpers ------------------------------------------------------------------------

  const bi = (pair) => `${pair[0]} / ${pair[1]}`;
  const bilingual = (value) => {
    if (value === null || value === undefined) return "";
    if (typeof value === "object" && ("zh" in value || "en" in value)) {
      return [value.zh, value.en].filter(Boolean).join(" ");
    }
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  };
  const zoneFor = (site) => TZ_OVERRIDE || siteZones.get(site) || DEFAULT_TZ;

  const formatters = new Map();
  function formatter(tz) {
    if (!formatters.has(tz)) {
      let f;
      try {
        f = new Intl.DateTimeFormat("zh-CN", {
          timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
          hour: "2-digit", minute: "2-digit", second: "2-digit", weekday: "short",
        });
      } catch (e) {  // an unknown zone name: fall back to the console default
        f = tz === DEFAULT_TZ ? new Intl.DateTimeFormat("zh-CN", { hourCycle: "h23" })
          : formatter(DEFAULT_TZ);
      }
      formatters.set(tz, f);
    }
    return formatters.get(tz);
  }
  function parts(date, tz) {
    const out = {};
    for (const p of formatter(tz).formatToParts(date)) out[p.type] = p.value;
    return out;
  }
  /** "14:03:07" today, "03-01 14:03:07" on another day, in the site's time zone. */
  function timeText(iso, tz) {
    if (!iso) return "—";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    const p = parts(d, tz);
    const now = parts(new Date(), tz);
    const hms = `${p.hour}:${p.minute}:${p.second}`;
    const sameDay = p.year === now.year && p.month === now.month && p.day === now.day;
    return sameDay ? hms : `${p.month}-${p.day} ${hms}`;
  }

  function locationText(a) {
    if (a.location_text) return a.location_text;
    const loc = a.location || {};
    return [loc.building, loc.floor, loc.area].filter((x) => x !== null && x !== undefined
      && x !== "").map(String).join(" · ");
  }

  function titleText(a) {
    const t = bilingual(a.title);
    if (t) return t;
    const k = KIND[a.kind];
    return k ? `${k[0]} ${k[1]}` : a.kind || "报警 Alarm";
  }

  // --- cards -------------------------------------------------------------------------------

  function valueText(value) {
    if (value === true) return "是 yes";
    if (value === false) return "否 no";
    if (value && typeof value === "object" && !Array.isArray(value)
        && !("zh" in value || "en" in value)) {
      if (value.name) return bilingual(value.name);
      return Object.entries(value).filter(([, v]) => v !== null && typeof v !== "object")
        .map(([k, v]) => `${k} ${v}`).join(", ");
    }
    return bilingual(value);
  }

  function evidenceRows(a) {
    const ev = a.evidence && typeof a.evidence === "object" ? { ...a.evidence } : {};
    if (a.device) ev.device = a.device;
    if (a.location && a.location.floor !== undefined && a.location.floor !== null) {
      ev.floor = a.location.floor;
    }
    if (/^-?\d+$/.test(String(ev.floor ?? ""))) ev.floor = `${ev.floor}层`;
    const rows = [];
    const used = new Set(EVIDENCE_HIDDEN);
    const add = (label, value) => {
      const text = valueText(value);
      if (text && rows.length < EVIDENCE_MAX_ROWS) rows.push([label, text.slice(0, 200)]);
    };
    if (typeof ev.status === "number") delete ev.status;  // raw status bits
    if (ev.test_mode === false) delete ev.test_mode;
    for (const [keys, zh, en] of EVIDENCE) {
      const key = keys.find((k) => ev[k] !== undefined && ev[k] !== null && ev[k] !== "");
      keys.forEach((k) => used.add(k));
      if (key !== undefined) add(`${zh} ${en}`, ev[key]);
    }
    for (const [key, value] of Object.entries(ev)) {
      if (!used.has(key)) add(key, value);
    }
    return rows;
  }

  function setText(el, text) { if (el.textContent !== text) el.textContent = text; }

  function fill(card, a) {
    const sev = SEVERITY[a.severity] ? a.severity : "info";
    const fresh = card.classList.contains("fresh");
    card.className = `alarm ${sev} ${a.state}${fresh ? " fresh" : ""}`;
    card.dataset.alarmId = a.id;
    card.dataset.state = a.state;
    card.dataset.severity = sev;
    const q = (sel) => card.querySelector(sel);
    setText(q(".sev"), `${SEVERITY[sev][0]} ${SEVERITY[sev][1]}`);
    setText(q(".title"), titleText(a));
    const count = q(".count");
    const n = Number(a.count) || 1;
    count.hidden = n <= 1;
    setText(count, `×${n}`);
    count.title = `重复 ${n} 次 / repeated ${n} times`;
    const esc = q(".escalated");
    esc.hidden = !a.escalated;
    const level = Number(a.escalation_level) || 0;
    setText(esc, `⬆ 已升级 Escalated${level >= 1 ? ` L${level}` : ""}`);
    setText(q(".state"), STATE[a.state] ? bi(STATE[a.state]) : String(a.state));

    const loc = q(".loc");
    const where = locationText(a);
    if (where) {
      setText(loc, `📍 ${where}`);
    } else if (!loc.querySelector(".none")) {
      loc.textContent = "";
      const none = document.createElement("span");
      none.className = "none";
      none.textContent = "位置未知 / location unknown";
      loc.append(none);
    }

    const dl = q(".evidence");
    dl.textContent = "";
    for (const [label, value] of evidenceRows(a)) {
      const row = document.createElement("div");
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      dd.textContent = value;
      row.append(dt, dd);
      dl.append(row);
    }

    const tz = zoneFor(a.site);
    const times = q(".times");
    times.textContent = "";
    const stamp = (label, value) => {
      const span = document.createElement("span");
      span.append(`${label} `);
      const b = document.createElement("b");
      b.textContent = value;
      span.append(b);
      if (times.childNodes.length) times.append("  ·  ");
      times.append(span);
    };
    stamp("首次 First", timeText(a.first_ts || a.opened_at, tz));
    if (n > 1 || (a.last_ts && a.last_ts !== a.first_ts)) stamp("最近 Last", timeText(a.last_ts, tz));
    if (a.acknowledged_at) {
      stamp("确认 Acknowledged", `${a.acknowledged_by || "—"} ${timeText(a.acknowledged_at, tz)}`);
    }
    if (a.restored_at) stamp("已恢复 Restored", timeText(a.restored_at, tz));
    if (!SITE && a.site) stamp("站点 Site", a.site);
    times.title = tz;

    const allowed = ACTIONS[a.state] || [];
    for (const btn of card.querySelectorAll("button[data-action]")) {
      btn.hidden = !allowed.includes(btn.dataset.action);
    }
    q(".actions").hidden = allowed.length === 0;
  }

  function newCard(a) {
    const card = template.content.firstElementChild.cloneNode(true);
    card.addEventListener("animationend", () => card.classList.remove("fresh"));
    card.querySelector(".more").addEventListener("toggle", (ev) => {
      if (ev.target.open) loadDetail(card);
    });
    fill(card, a);
    return card;
  }

  function openedKey(a) { return a.opened_at || a.first_ts || ""; }
  function newerFirst(x, y) {
    const kx = openedKey(x);
    const ky = openedKey(y);
    if (kx !== ky) return kx < ky ? 1 : -1;
    return String(y.id).localeCompare(String(x.id), undefined, { numeric: true });
  }

  /** Put cards in order, moving only those out of place (a moved node loses focus). */
  function place() {
    const order = [...alarms.values()].sort(newerFirst);
    order.forEach((a, i) => {
      const card = cards.get(a.id);
      if (list.children[i] !== card) list.insertBefore(card, list.children[i] || null);
    });
    const counts = { open: 0, acknowledged: 0, in_progress: 0 };
    for (const a of alarms.values()) if (a.state in counts) counts[a.state] += 1;
    for (const [state, n] of Object.entries(counts)) setText($(`n-${state}`), String(n));
    $("empty").hidden = alarms.size > 0;
    document.title = `${counts.open ? `(${counts.open}) ` : ""}安防值班看板 Guard board · Courtyard`;
  }

  function flash(card) {
    card.classList.remove("fresh");
    void card.offsetWidth;  // restart the animation
    card.classList.add("fresh");
  }

  function drop(id) {
    const card = cards.get(id);
    if (card) card.remove();
    cards.delete(id);
    alarms.delete(id);
  }

  /** Show one alarm's latest state; ``alert`` when it is new or repeated since last seen. */
  function apply(a, { alert = true } = {}) {
    if (!a || a.id === undefined || a.id === null) return;
    if (CLOSED.has(a.state)) { drop(a.id); return; }
    const before = alarms.get(a.id);
    alarms.set(a.id, a);
    let card = cards.get(a.id);
    if (!card) {
      card = newCard(a);
      cards.set(a.id, card);
    } else {
      fill(card, a);
    }
    const repeated = before && (Number(a.count) || 1) > (Number(before.count) || 1);
    if (alert && (!before || repeated)) {
      flash(card);
      sound(a.severity);
    }
  }

  function resync(snapshot) {
    const keep = new Set(snapshot.map((a) => a.id));
    for (const id of [...alarms.keys()]) if (!keep.has(id)) drop(id);
    const newest = [...snapshot].sort(newerFirst);
    let loudest = null;
    for (const a of newest) {
      const before = alarms.get(a.id);
      const news = !before || (Number(a.count) || 1) > (Number(before.count) || 1);
      apply(a, { alert: false });
      if (everSynced && news) {
        flash(cards.get(a.id));
        if (loudest === null || severityRank(a.severity) < severityRank(loudest)) {
          loudest = a.severity;
        }
      }
    }
    if (loudest !== null) sound(loudest);
    everSynced = true;
  }

  function severityRank(sev) { return ["critical", "major", "minor", "info"].indexOf(sev) >>> 0; }

  // --- actions -----------------------------------------------------------------------------

  async function request(method, url, body) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), REQUEST_TIMEOUT_MS);
    try {
      const resp = await window.CourtyardSession.fetch(url, {
        method, signal: ctl.signal, cache: "no-store",
        headers: body ? { "Content-Type": "application/json" } : {},
        body: body ? JSON.stringify(body) : undefined,
      });
      let data = null;
      try { data = await resp.json(); } catch (e) { data = null; }
      return { ok: resp.ok, status: resp.status, data };
    } finally {
      clearTimeout(timer);
    }
  }

  function showError(card, text) {
    const box = card.querySelector(".error");
    box.hidden = !text;
    box.textContent = text || "";
  }

  async function act(card, action) {
    const id = card.dataset.alarmId;
    const by = guardInput.value.trim();
    const noteInput = card.querySelector(".note");
    const note = noteInput.value.trim();
    if (!by) {
      guardInput.classList.add("missing");
      guardInput.focus();
      showError(card, "请先填写值班员姓名 / enter the guard's name first (top right)");
      return;
    }
    if (NOTE_REQUIRED.has(action) && !note) {
      noteInput.classList.add("missing");
      noteInput.focus();
      showError(card, "请填写处理备注 / a note is required");
      return;
    }
    showError(card, "");
    const buttons = card.querySelectorAll("button[data-action]");
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const body = note ? { by, note } : { by };
      const r = await request("POST", `/api/alarms/${encodeURIComponent(id)}/${action}`, body);
      if (r.ok && r.data && r.data.id !== undefined) {
        noteInput.value = "";
        const current = alarms.get(r.data.id);
        // The WebSocket may already have brought a later state: never step back.
        if (!current || STATE_RANK[r.data.state] >= STATE_RANK[current.state]) {
          apply(r.data, { alert: false });
          place();
        }
      } else {
        const msg = r.data && r.data.error && r.data.error.message;
        showError(card, msg || `操作失败 / action failed (HTTP ${r.status})`);
        if (r.status === 409 || r.status === 404) refresh(id);
      }
    } catch (e) {
      showError(card, "无法连接控制台，请重试 / cannot reach the console, try again");
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  async function refresh(id) {
    try {
      const r = await request("GET", `/api/alarms/${encodeURIComponent(id)}`);
      if (r.ok && r.data) { apply(r.data, { alert: false }); place(); }
      else if (r.status === 404) { drop(id); place(); }
    } catch (e) { /* the live feed will bring it */ }
  }

  const ACTION_LABELS = {
    open: ["报警", "Opened"], repeat: ["重复", "Repeated"], acknowledge: ["确认", "Acknowledged"],
    start: ["开始处理", "Started"], resolve: ["处理完毕", "Resolved"],
    false_alarm: ["误报", "False alarm"], "false-alarm": ["误报", "False alarm"],
    escalate: ["升级", "Escalated"], restore: ["设备恢复", "Restored"],
  };

  function historyLine(h, tz) {
    const at = timeText(h.at || h.ts, tz);
    const what = h.action || h.to || "";
    const label = ACTION_LABELS[what] ? bi(ACTION_LABELS[what])
      : STATE[what] ? bi(STATE[what]) : what;
    const by = h.by ? ` · ${h.by}` : "";
    const role = h.role ? ` · ${h.role}` : "";
    const note = h.note ? ` · ${h.note}` : "";
    return `${at} ${label}${by}${role}${note}`;
  }

  async function loadDetail(card) {
    const id = card.dataset.alarmId;
    const body = card.querySelector(".more-body");
    body.textContent = "加载中… / loading…";
    let r;
    try {
      r = await request("GET", `/api/alarms/${encodeURIComponent(id)}`);
    } catch (e) {
      body.textContent = "无法加载 / cannot load";
      return;
    }
    if (!r.ok || !r.data) { body.textContent = "无法加载 / cannot load"; return; }
    const tz = zoneFor(r.data.site);
    body.textContent = "";
    const section = (title, items, line) => {
      const h = document.createElement("div");
      h.textContent = title;
      const ul = document.createElement("ul");
      for (const item of items) {
        const li = document.createElement("li");
        li.textContent = line(item);
        if (item.result && !["ok", "success", "done"].includes(String(item.result))) {
          li.className = "failed";
        }
        ul.append(li);
      }
      if (!items.length) {
        const li = document.createElement("li");
        li.textContent = "无 / none";
        ul.append(li);
      }
      body.append(h, ul);
    };
    section("联动动作 Linkage", r.data.linkage || [], (l) =>
      `${timeText(l.ts || l.at, tz)} ${l.action || l.kind || ""} ${l.target || ""}`
      + ` → ${l.result || "?"}`
      + `${l.detail ? ` (${bilingual(l.detail)})` : ""}`);
    section("处理记录 History", r.data.history || [], (h) => historyLine(h, tz));
  }

  list.addEventListener("click", (ev) => {
    const btn = ev.target.closest("button[data-action]");
    if (!btn) return;
    const card = btn.closest(".alarm");
    if (card) act(card, btn.dataset.action);
  });
  list.addEventListener("input", (ev) => {
    if (ev.target.classList.contains("note")) ev.target.classList.remove("missing");
  });
  list.addEventListener("keydown", (ev) => {
    // Enter in a note field confirms the alarm if it is still open, otherwise resolves it.
    if (ev.key !== "Enter" || !ev.target.classList.contains("note")) return;
    const card = ev.target.closest(".alarm");
    act(card, card.dataset.state === "open" ? "acknowledge" : "resolve");
  });

  // --- guard name, sound, full screen ------------------------------------------------------

  try { guardInput.value = window.localStorage.getItem(GUARD_KEY) || ""; } catch (e) { /* */ }
  guardInput.addEventListener("input", () => {
    guardInput.classList.remove("missing");
    try { window.localStorage.setItem(GUARD_KEY, guardInput.value.trim()); } catch (e) { /* */ }
  });

  function showSound() {
    const on = window.GuardSounds.enabled && !muted;
    soundButton.classList.toggle("on", on);
    soundButton.classList.toggle("off", !on);
    soundButton.setAttribute("aria-pressed", String(on));
    soundButton.textContent = on ? "🔊 声音已开启 / sound on"
      : muted ? "🔈 已静音，点击恢复 / muted, click for sound"
        : "🔇 点击启用声音 / click to enable sound";
  }
  soundButton.addEventListener("click", async () => {
    if (window.GuardSounds.enabled && !muted) {
      muted = true;
    } else {
      muted = false;
      await window.GuardSounds.enable();
    }
    showSound();
  });
  function sound(severity) {
    if (!muted) window.GuardSounds.play(severity);
  }
  setInterval(() => {
    for (const a of alarms.values()) {
      if (a.state === "open" && a.severity === "critical") { sound("critical"); return; }
    }
  }, REMIND_MS);

  function showFullscreen() {
    fullButton.textContent = document.fullscreenElement ? "🗗 退出全屏 / Exit full screen"
      : "⛶ 全屏 / Full screen";
  }
  if (!document.documentElement.requestFullscreen) fullButton.hidden = true;
  fullButton.addEventListener("click", async () => {
    try {
      if (document.fullscreenElement) await document.exitFullscreen();
      else await document.documentElement.requestFullscreen();
    } catch (e) { /* refused by the browser: nothing to do */ }
  });
  document.addEventListener("fullscreenchange", showFullscreen);

  // --- clock and site zones ----------------------------------------------------------------

  function tick() {
    const tz = TZ_OVERRIDE || (SITE && siteZones.get(SITE)) || DEFAULT_TZ;
    const p = parts(new Date(), tz);
    $("clock").textContent = `${p.year}-${p.month}-${p.day} ${p.weekday} `
      + `${p.hour}:${p.minute}:${p.second}`;
    $("clock").title = tz;
  }
  async function loadSites() {
    try {
      const r = await request("GET", "/api/sites");
      if (!r.ok || !r.data) return;
      for (const s of r.data.sites || []) {
        siteZones.set(s.slug, s.timezone);
        if (s.slug === SITE) setText($("site-name"), `${s.name || s.slug} · ${s.timezone}`);
      }
      for (const [id, card] of cards) fill(card, alarms.get(id));
    } catch (e) { /* times stay in the default zone */ }
  }
  setText($("site-name"), SITE ? SITE : "全部站点 / all sites");

  // --- live connection ---------------------------------------------------------------------

  function showConnection(up) {
    document.body.dataset.connection = up ? "up" : "down";
    banner.hidden = up;
    conn.className = `conn ${up ? "up" : "down"}`;
    conn.textContent = up ? "● 已连接 / live" : "● 连接中断 / disconnected";
  }

  function scheduleReconnect() {
    if (retryTimer !== null) return;
    const base = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** attempt);
    const delay = Math.round(base * (0.8 + 0.4 * Math.random()));
    attempt += 1;
    const due = Date.now() + delay;
    const since = downSince ? timeText(downSince.toISOString(), zoneFor(SITE)) : "";
    const show = () => {
      const s = Math.max(0, Math.ceil((due - Date.now()) / 1000));
      bannerDetail.textContent = `${since ? `自 ${since} 起 / since ${since} · ` : ""}`
        + `${s} 秒后重连 / reconnecting in ${s} s`;
    };
    show();
    clearInterval(countdownTimer);
    countdownTimer = setInterval(show, 1000);
    retryTimer = setTimeout(() => {
      retryTimer = null;
      clearInterval(countdownTimer);
      bannerDetail.textContent = "正在重连… / reconnecting…";
      connect();
    }, delay);
  }

  function lost() {
    if (downSince === null) downSince = new Date();
    showConnection(false);
    scheduleReconnect();
  }

  /** Forget a socket that may be dead without the browser having noticed. */
  function abandon(sock) {
    sock.onopen = sock.onmessage = sock.onclose = sock.onerror = null;
    try { sock.close(); } catch (e) { /* already closed */ }
    if (ws === sock) ws = null;
  }

  function connect() {
    if (ws !== null) abandon(ws);
    const proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    const query = SITE ? `?site=${encodeURIComponent(SITE)}` : "";
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
      } else if (msg.type === "alarm") {
        apply(msg.alarm, { alert: true });
      } else {
        return;
      }
      place();
    };
    sock.onclose = () => {
      if (ws !== sock) return;
      ws = null;
      lost();
    };
    sock.onerror = () => { /* a close event follows */ };
    loadSites();
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
  tick();
  setInterval(tick, 1000);
  place();
  conn.textContent = "连接中… / connecting…";
  connect();
})();
