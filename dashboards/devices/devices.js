/* 设备 / the device page: a site's devices grouped by family, each online / offline / never
 * reported with its last report in site time, filtered by family and state. A row opens the
 * device's panel: its recent events (labels, never codes) and the commands its family takes,
 * offered only when the login may issue them (the command list's may_issue, from the server).
 * Site-wide: 重新同步数据 (dataset.resync) and 复位联动 (linkage.reset). ?device= opens a panel. */
"use strict";

(() => {
  const S = window.Shell;
  const C = window.DevCommands;
  const $ = (id) => document.getElementById(id);
  const FAMILIES = ["meter", "camera", "gate", "access", "elevator", "fire", "other"];
  const DATASETS = ["parking", "access", "patrol"];
  const MODES = ["normally_open", "normally_closed", "controlled"];
  /** Offline first (what needs someone), then online, then what never reported. */
  const ORDER = { offline: 0, online: 1, never: 2 };
  const FOLD_AT = 12;
  let site = "";
  let tz = "";
  let devices = [];
  let mayIssue = new Set();
  let channel = { available: false };
  let chosen = null;
  let loadToken = 0;
  /** family → open, as the person folded or unfolded it (kept across refreshes). */
  const toggled = new Map();
  const REFRESH_MS = 30000;

  function stateOf(d) {
    if (!d.last_seen) return "never";
    return d.online ? "online" : "offline";
  }

  function stateTag(d) {
    const state = stateOf(d);
    const [zh, en, cls] = { online: ["在线", "Online", "on"], offline: ["离线", "Offline", "off"],
                            never: ["未上报", "Never reported", "never"] }[state];
    return S.el("span", { class: cls, text: S.t(zh, en) });
  }

  function lastTime(d) {
    const at = (d.meter && d.meter.last_reading_at) || d.last_seen;
    return at ? S.time(at, tz) : "—";
  }

  function about(d) {
    const parts = [];
    if (d.kind && (d.family === "access" || d.family === "other")) parts.push(S.label("device_kind", d.kind));
    if (d.unit) parts.push(S.t(`房号 ${d.unit}`, `unit ${d.unit}`));
    if (d.meter) {
      for (const [name, value] of Object.entries(d.meter.last_values || {})) {
        parts.push(`${S.label("reading", name)} ${value}`);
      }
    }
    return parts.join(" · ");
  }

  /** The edge's own health report (up/health): what it still holds for the console. */
  function drawEdge(edge) {
    const p = $("edge");
    p.hidden = !edge;
    if (!edge) return;
    const age = edge.oldest_age_s == null ? "" : Math.round(edge.oldest_age_s);
    const waiting = edge.outbox_depth
      ? S.t(`待上传 ${edge.outbox_depth} 条，最早 ${age} 秒前`, `${edge.outbox_depth} events waiting, oldest ${age} s`)
      : S.t("无待上传事件", "nothing waiting");
    const at = S.time(edge.reported_at, tz);
    p.textContent = S.t(`边缘网关：${waiting}（报告于 ${at}）`, `Edge: ${waiting} (reported ${at})`)
      + (edge.stale ? S.t(" · 报告已过期", " · report is stale") : "");
    p.classList.toggle("stale", Boolean(edge.stale));
  }

  function fillFamilies() {
    const sel = $("family");
    sel.replaceChildren(S.el("option", { value: "", text: S.t("全部", "All") }),
                        ...FAMILIES.map((f) => S.el("option", { value: f, text: S.label("device_family", f) })));
  }

  function draw() {
    const family = $("family").value;
    const state = $("state").value;
    const shown = devices.filter((d) => (!family || d.family === family)
                                        && (!state || stateOf(d) === state));
    const groups = [];
    for (const f of FAMILIES) {
      const mine = shown.filter((d) => (FAMILIES.includes(d.family) ? d.family : "other") === f)
        .sort((a, b) => ORDER[stateOf(a)] - ORDER[stateOf(b)] || a.key.localeCompare(b.key));
      if (!mine.length) continue;
      const on = mine.filter((d) => stateOf(d) === "online").length;
      const off = mine.filter((d) => stateOf(d) === "offline").length;
      const body = S.el("tbody");
      for (const d of mine) body.append(row(d));
      // A long group folds (its counts say enough) unless a filter or its open device asks.
      const open = toggled.has(f) ? toggled.get(f)
        : mine.length <= FOLD_AT || family || state || mine.some((d) => d.key === chosen);
      const box = S.el("details", { class: "family", "data-family": f, open: !!open });
      const summary = S.el("summary", {}, S.el("h2", {}, S.label("device_family", f), " ",
        S.el("small", { text: S.t(`${mine.length} 台，在线 ${on}，离线 ${off}`,
                                  `${mine.length}: ${on} online, ${off} offline`) })));
      summary.addEventListener("click", () => toggled.set(f, !box.open));  // before it toggles
      groups.push(box);
      box.append(summary,
        S.el("table", {}, S.el("thead", {}, S.el("tr", {},
          S.el("th", { text: S.t("设备", "Device") }), S.el("th", { text: S.t("状态", "State") }),
          S.el("th", { text: S.t("最近上报", "Last report") }),
          S.el("th", { text: S.t("说明", "About") }))), body));
    }
    if (!groups.length) {
      groups.push(S.el("p", { class: "note", text: devices.length
        ? S.t("没有符合条件的设备", "No device matches")
        : S.t("这个小区还没有设备上报：边缘网关上报后设备会出现在这里", "No device of this community has reported yet") }));
    }
    $("groups").replaceChildren(...groups);
    const off = devices.filter((d) => stateOf(d) === "offline").length;
    $("counts").textContent = S.t(`共 ${devices.length} 台，离线 ${off} 台`,
                                  `${devices.length} devices, ${off} offline`);
  }

  function row(d) {
    const tr = S.el("tr", { class: `device${chosen === d.key ? " chosen" : ""}`, "data-device": d.key,
                            tabindex: "0" });
    S.cell(tr, d.key);
    tr.append(S.el("td", {}, stateTag(d)));
    S.cell(tr, lastTime(d));
    S.cell(tr, about(d));
    tr.addEventListener("click", () => open(d.key));
    tr.addEventListener("keydown", (ev) => { if (ev.key === "Enter") open(d.key); });
    return tr;
  }

  function can(kind) { return mayIssue.has(kind); }

  function button(kind, args, text, target) {
    const name = target ? `${text} ${target}` : text;
    return C.button(site, kind, args, name, S.t(`确认${name}？`, `${name}: are you sure?`));
  }

  function siteCommands() {
    const box = $("site-commands");
    const items = [];
    if (can("dataset.resync")) {
      for (const ds of DATASETS) {
        items.push(button("dataset.resync", { dataset: ds },
                          `${S.label("command_kind", "dataset.resync")}：${S.label("dataset", ds)}`));
      }
    }
    if (can("linkage.reset")) items.push(button("linkage.reset", {}, S.label("command_kind", "linkage.reset")));
    box.replaceChildren(...items);
    box.hidden = !items.length;
    const notice = $("channel");
    notice.hidden = channel.available || !mayIssue.size;
    notice.textContent = S.t(
      "控制台未连接消息代理，命令无法从这里下发：请在边缘网关的操作页操作（见《运维手册》）。",
      "This console has no broker to send commands through: act on the edge box's operator page (docs/operations.md).");
  }

  /** The doors a controller's events name (data.door), or the device itself. */
  function doorsOf(d, events) {
    const doors = [];
    for (const e of events) {
      const door = e.data && e.data.door;
      if (typeof door === "string" && door && !doors.includes(door)) doors.push(door);
    }
    return doors.length ? doors : [d.key];
  }

  function deviceCommands(d, events) {
    const groups = [];
    const group = (title, ...buttons) => {
      const list = buttons.filter(Boolean);
      if (list.length) groups.push(S.el("div", { class: "group" }, S.el("b", { text: title }), ...list));
    };
    const kindText = (k) => S.label("command_kind", k);
    if (d.family === "gate") {
      group(S.t("道闸", "Barrier"),
            can("gate.open") && button("gate.open", { gate: d.key }, kindText("gate.open"), d.key),
            can("gate.close") && button("gate.close", { gate: d.key }, kindText("gate.close"), d.key));
    }
    if (d.family === "access") {
      for (const door of doorsOf(d, events)) {
        group(S.t(`门 ${door}`, `Door ${door}`),
              can("door.open") && button("door.open", { door }, kindText("door.open"), door),
              ...(can("door.mode") ? MODES.map((mode) => button(
                "door.mode", { door, mode }, S.label("door_mode", mode), door)) : []));
      }
    }
    if (d.family === "elevator") {
      group(S.t("电梯", "Elevator"),
            can("elevator.recall") && button("elevator.recall", { elevator: d.key }, kindText("elevator.recall"), d.key));
    }
    if (["meter", "gate", "elevator"].includes(d.family)) {
      group(S.t("连接", "Connection"),
            can("device.reconnect") && button("device.reconnect", { device: d.key }, kindText("device.reconnect"), d.key));
    }
    $("d-commands").replaceChildren(...groups);
  }

  function eventRow(e) {
    const tr = S.el("tr", { "data-kind": e.kind });
    S.cell(tr, S.time(e.ts, tz));
    S.cell(tr, S.label("event_kind", e.kind));
    const data = e.data || {};
    const bits = [];
    const said = typeof data.message === "string" ? S.msg(data.message) : "";
    if (said && said !== S.label("event_kind", e.kind)) bits.push(said);
    if (typeof data.door === "string" && !bits.join("").includes(data.door)) bits.push(S.t(`门 ${data.door}`, `door ${data.door}`));
    if (typeof data.plate === "string" && data.plate) bits.push(S.t(`车牌 ${data.plate}`, `plate ${data.plate}`));
    if (typeof data.by === "string" && data.by) bits.push(S.t(`操作人 ${data.by}`, `by ${data.by}`));
    S.cell(tr, bits.join(" · "));
    return tr;
  }

  async function open(key) {
    const d = devices.find((x) => x.key === key);
    if (!d) return;
    chosen = key;
    for (const tr of document.querySelectorAll("tr.device")) tr.classList.toggle("chosen", tr.dataset.device === key);
    const url = new URL(location.href);
    url.searchParams.set("device", key);
    history.replaceState(history.state, "", url);
    $("detail").hidden = false;
    document.querySelector("main.dev").classList.add("open");
    $("d-title").replaceChildren(d.key, " ", S.el("small", { text: S.label("device_family", d.family) }));
    $("d-facts").replaceChildren(stateTag(d), ` · ${S.t("最近上报", "Last report")} ${lastTime(d)}`,
                                 d.unit ? ` · ${S.t("房号", "Unit")} ${d.unit}` : "");
    $("d-commands").replaceChildren();
    S.empty($("d-events"), 3, "加载中…", "Loading…");
    const token = ++loadToken;
    let events = [];
    let failed = null;
    try {
      const page = await S.api(`/api/sites/${encodeURIComponent(site)}/devices/${encodeURIComponent(key)}/events?limit=20`);
      events = page.events;
    } catch (err) {
      failed = err;
    }
    if (token !== loadToken) return;
    deviceCommands(d, events);
    if (failed) {
      S.empty($("d-events"), 3, `读取事件失败：${failed.message}`, `Could not load events: ${failed.message}`);
    } else if (events.length) {
      $("d-events").replaceChildren(...events.map(eventRow));
    } else {
      S.empty($("d-events"), 3, "暂无事件", "No events yet");
    }
  }

  function close() {
    chosen = null;
    loadToken++;
    $("detail").hidden = true;
    document.querySelector("main.dev").classList.remove("open");
    for (const tr of document.querySelectorAll("tr.chosen")) tr.classList.remove("chosen");
    const url = new URL(location.href);
    url.searchParams.delete("device");
    history.replaceState(history.state, "", url);
  }

  async function load(slug) {
    site = slug;
    $("load-error").hidden = true;
    if (!site) { devices = []; drawEdge(null); draw(); return; }
    try {
      const [list, cmds] = await Promise.all([
        S.api(`/api/sites/${encodeURIComponent(site)}/devices`),
        S.api(`/api/sites/${encodeURIComponent(site)}/commands?limit=1`)]);
      if (slug !== site) return;
      tz = list.timezone;
      devices = list.devices;
      drawEdge(list.edge);
      mayIssue = new Set(cmds.may_issue || []);
      channel = cmds.channel || { available: false };
    } catch (err) {
      $("load-error").textContent = S.t(`读取设备失败：${err.message}`, `Could not load devices: ${err.message}`);
      $("load-error").hidden = false;
      return;
    }
    draw();
    siteCommands();
    const wanted = new URLSearchParams(location.search).get("device");
    if (wanted && devices.some((d) => d.key === wanted)) open(wanted);
  }

  /** The states again every REFRESH_MS (a page left open must not show yesterday's 在线). */
  async function refresh() {
    if (!site || document.hidden) return;
    const slug = site;
    try {
      const list = await S.api(`/api/sites/${encodeURIComponent(slug)}/devices`);
      if (slug !== site) return;
      devices = list.devices;
      drawEdge(list.edge);
      draw();
      $("load-error").hidden = true;
    } catch (err) {
      $("load-error").textContent = S.t(`刷新设备失败：${err.message}`, `Could not refresh devices: ${err.message}`);
      $("load-error").hidden = false;
    }
  }

  fillFamilies();
  setInterval(refresh, REFRESH_MS);
  $("family").addEventListener("change", draw);
  $("state").addEventListener("change", draw);
  $("d-close").addEventListener("click", close);
  let first = true;
  S.onSite((slug) => {
    if (!first) { close(); toggled.clear(); }  // another community: none of the last one's state
    first = false;
    load(slug);
  });
})();
