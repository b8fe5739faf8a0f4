/* 巡更打卡 / the phone scan page (/m/patrol?t=<sticker token>).
 *
 * The sticker's claims are read here without checking them (the console verifies the
 * signature) only to show the site and the checkpoint before the guard taps 打卡. The scan
 * carries the phone's own time with its offset, and the position when the phone grants it.
 * A scan that cannot reach the console (no signal in a basement) is kept in localStorage
 * with its original phone time and sent again when the phone is back online: "待上传 N".
 */
(function () {
  "use strict";
  const S = window.Shell;
  const QUEUE_KEY = "cy.patrol.pending";
  const RETRY_MS = 20000;
  const FLAGS = {
    old_sticker: ["旧二维码（已重新打印），请告知主管", "an old sticker (it was reissued): tell your supervisor"],
    outside_window: ["不在巡更时段内", "outside every round's time window"],
    clock_skew: ["手机时间与服务器相差超过 5 分钟", "the phone's clock is more than 5 minutes off"],
  };
  const $ = (id) => document.getElementById(id);
  const button = $("pm-check");
  const token = new URLSearchParams(location.search).get("t") || "";
  let coords = null;
  let flushing = false;

  /* The sticker's claims {site, cp, n}, unverified; null when it is not a sticker token. */
  function claims(tok) {
    const parts = tok.split(".");
    if (parts.length !== 3 || parts[0] !== "cyq1") return null;
    try {
      const b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
      const c = JSON.parse(atob(b64 + "===".slice((b64.length + 3) % 4)));
      return c && typeof c.site === "string" && typeof c.cp === "string" ? c : null;
    } catch (e) {
      return null;
    }
  }

  /* ISO 8601 in the phone's own zone with its offset: 2026-12-07T22:05:03.120+08:00. */
  function phoneTime(d) {
    const pad = (n, w) => String(Math.abs(n)).padStart(w || 2, "0");
    const off = -d.getTimezoneOffset();
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
      `T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` +
      `.${pad(d.getMilliseconds(), 3)}${off >= 0 ? "+" : "-"}` +
      `${pad(Math.trunc(off / 60))}:${pad(off % 60)}`;
  }

  function queue() {
    try {
      const q = JSON.parse(localStorage.getItem(QUEUE_KEY) || "[]");
      return Array.isArray(q) ? q : [];
    } catch (e) {
      return [];
    }
  }

  function showPending() {
    const n = queue().length;
    const box = $("pm-pending");
    box.hidden = n === 0;
    box.textContent = S.t(`待上传 ${n} 条打卡（联网后自动补传）`,
                          `${n} scan(s) waiting to upload (sent once online)`);
  }

  function saveQueue(q) {
    try { localStorage.setItem(QUEUE_KEY, JSON.stringify(q)); } catch (e) { /* private mode */ }
    showPending();
  }

  /* Worth sending again: no answer at all, the console down, or the login gone stale. */
  function retriable(err) {
    return !err.status || err.status >= 500 || err.status === 401 || err.status === 429;
  }

  function post(item) {
    return S.api(`/api/sites/${encodeURIComponent(item.site)}/patrol/scans`,
                 { method: "POST", json: item.body });
  }

  function showDone(scan) {
    const box = $("pm-done");
    const flags = (scan.flags || []).map((f) => (FLAGS[f] ? S.t(FLAGS[f][0], FLAGS[f][1]) : f));
    box.replaceChildren(
      S.el("strong", { text: S.t("已打卡", "Checked in") }),
      S.el("span", { text: `${scan.checkpoint_name || scan.checkpoint} · ${S.time(scan.phone_time)}` }));
    if (flags.length) {
      box.append(S.el("ul", { class: "pm-flags" }, ...flags.map((f) => S.el("li", { text: f }))));
    }
    box.hidden = false;
  }

  function showError(text) {
    const line = $("pm-error");
    line.textContent = text;
    line.hidden = !text;
  }

  /* Send the kept scans, oldest first; stop at the first that still cannot get through. */
  async function flush() {
    if (flushing) return;
    flushing = true;
    try {
      for (;;) {
        const q = queue();
        if (!q.length) break;
        try {
          await post(q[0]);
        } catch (err) {
          if (retriable(err)) break;
          S.toast(S.t(`一条待上传的打卡被拒绝：${err.message}`, `A kept scan was refused: ${err.message}`), true);
        }
        saveQueue(queue().slice(1));
      }
    } finally {
      flushing = false;
      showPending();
    }
  }

  async function checkIn(c) {
    const body = { token, phone_time: phoneTime(new Date()) };
    if (coords) {
      body.lat = coords.latitude;
      body.lon = coords.longitude;
      body.accuracy_m = Math.round(coords.accuracy * 10) / 10;
    }
    const item = { site: c.site, body };
    showError("");
    await S.once(button, async () => {
      try {
        showDone(await post(item));
      } catch (err) {
        if (!retriable(err)) {
          showError(err.message);
          return;
        }
        saveQueue(queue().concat([item]));
        showError(S.t("网络不通：打卡已保存在手机上，联网后自动上传",
                      "No connection: the scan is kept on the phone and sent once online"));
      }
    });
  }

  function locate() {
    const line = $("pm-geo");
    if (!navigator.geolocation) {
      line.textContent = S.t("手机不提供位置，可直接打卡", "No location on this phone: check in anyway");
      return;
    }
    line.textContent = S.t("正在获取位置…（可不等待直接打卡）", "Getting the location… (no need to wait)");
    navigator.geolocation.getCurrentPosition((pos) => {
      coords = pos.coords;
      line.textContent = S.t(`已获取位置（精度约 ${Math.round(coords.accuracy)} 米）`,
                             `Location found (about ${Math.round(coords.accuracy)} m)`);
    }, () => {
      line.textContent = S.t("未获得位置，可直接打卡", "No location: check in anyway");
    }, { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 });
  }

  async function start() {
    showPending();
    const c = claims(token);
    if (!c) {
      $("pm-nocode").hidden = false;
      return;
    }
    $("pm-site").textContent = c.site;
    $("pm-cp").textContent = c.cp;
    const me = await S.ready;
    if (!me) return;
    const site = (me.site_list || []).find((s) => s.slug === c.site);
    if (site) $("pm-site").textContent = site.name;
    button.disabled = false;
    button.addEventListener("click", () => checkIn(c));
    locate();
    window.addEventListener("online", flush);
    setInterval(flush, RETRY_MS);
    flush();
    try {
      const data = await S.api(`/api/sites/${encodeURIComponent(c.site)}/patrol/checkpoints`);
      const cp = ((data && data.checkpoints) || []).find((x) => x.code === c.cp);
      if (cp && cp.name) $("pm-cp").textContent = `${cp.name}（${c.cp}）`;
    } catch (e) { /* the code alone will do */ }
  }

  start();
})();
