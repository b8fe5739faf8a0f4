/* 实时连接 / the cockpit's live feed (docs/cockpit.md, Live): one WebSocket to
 * /api/cockpit/ws?site=SLUG (no site: the company view). The server sends a snapshot first,
 * then panels / tick / company / ping. The page reconnects by itself with back-off
 * (1 s, 2 s, 4 s … 15 s) and starts again from a fresh snapshot; silence for 45 s counts as
 * a lost connection. Nothing grows with the number of messages: one socket at a time, its
 * handlers set once per socket, one watchdog interval, cleared by close().
 *
 *   const live = CockpitLive.connect({ site, onMessage(msg), onState(up), onRefused() });
 *   live.close();
 */
(function () {
  "use strict";
  const FIRST_DELAY = 1000;
  const MAX_DELAY = 15000;
  const SILENCE = 45000;

  function connect(opts) {
    const site = opts.site || "";
    let ws = null;
    let delay = FIRST_DELAY;
    let retry = null;
    let closed = false;
    let lastHeard = Date.now();
    let snapshots = 0;

    function url() {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const q = site ? `?site=${encodeURIComponent(site)}` : "";
      return `${scheme}://${location.host}/api/cockpit/ws${q}`;
    }

    function detach(sock) {
      sock.onopen = null;
      sock.onmessage = null;
      sock.onclose = null;
      sock.onerror = null;
    }

    function schedule() {
      if (closed || retry !== null) return;
      retry = setTimeout(() => { retry = null; open(); }, delay);
      delay = Math.min(delay * 2, MAX_DELAY);
    }

    function lost(sock, hadSnapshot) {
      if (sock !== ws) return;
      detach(sock);
      ws = null;
      if (closed) return;
      opts.onState(false);
      if (!hadSnapshot && opts.onRefused) opts.onRefused();
      schedule();
    }

    function open() {
      if (closed) return;
      let gotSnapshot = false;
      const sock = new WebSocket(url());
      ws = sock;
      lastHeard = Date.now();
      sock.onmessage = (ev) => {
        lastHeard = Date.now();
        let msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        if (!msg || typeof msg !== "object") return;
        if (msg.type === "snapshot") {
          gotSnapshot = true;
          snapshots += 1;
          delay = FIRST_DELAY;
          opts.onState(true);
        }
        if (msg.type !== "ping") opts.onMessage(msg);
      };
      sock.onclose = () => lost(sock, gotSnapshot);
      sock.onerror = () => { /* a close follows */ };
    }

    /* A socket the server stopped talking on (a dead link closes silently). */
    const watchdog = setInterval(() => {
      if (ws && Date.now() - lastHeard > SILENCE) {
        const sock = ws;
        lost(sock, true);
        try { sock.close(); } catch (e) { /* already closing */ }
      }
    }, 5000);

    open();
    return {
      close() {
        closed = true;
        clearInterval(watchdog);
        if (retry !== null) clearTimeout(retry);
        retry = null;
        if (ws) {
          const sock = ws;
          detach(sock);
          ws = null;
          try { sock.close(1000); } catch (e) { /* already closing */ }
        }
      },
      snapshots: () => snapshots,
    };
  }

  window.CockpitLive = { connect };
})();
