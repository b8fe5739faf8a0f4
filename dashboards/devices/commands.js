/* 设备命令 / the device page's command buttons: ask, confirm, send, follow.
 *
 * A button names what it does (开闸 gate-in-1); a click asks 确认…? with 确认 / 取消 beside it,
 * and only 确认 sends POST /api/sites/{site}/commands {kind, args}. The command's state shows
 * beside the button (排队中 → 已下发 → 已执行 | 被拒绝（the edge's reason）| 已过期 | 执行失败),
 * polled from GET …/commands/{id} until it is final; the button stays disabled meanwhile. A
 * refusal of the console (409 no_channel: no broker; 403) shows its message there too.
 * Which kinds a login may issue comes from the server (the command list's may_issue): this
 * file never decides permissions. window.DevCommands.button(...) makes one button.
 */
"use strict";

window.DevCommands = (() => {
  const POLL_MS = 1000;
  const FINAL = new Set(["done", "refused", "expired", "failed"]);
  const S = () => window.Shell;
  /** "site|kind|json(args)" → {cmd, error}: each button's latest command, kept across draws. */
  const latest = new Map();
  /** key → the element (cmd-item) showing it now, so a poll redraws it in place. */
  const shown = new Map();

  const keyOf = (site, kind, args) => `${site}|${kind}|${JSON.stringify(args)}`;

  function status(last) {
    if (last.error) return S().el("span", { class: "cmd-error", role: "alert", text: last.error });
    if (!last.cmd) return null;
    const c = last.cmd;
    const why = c.detail && (c.state === "refused" || c.state === "failed" || c.state === "expired")
      ? `（${S().msg(c.detail)}）` : "";
    return S().el("span", { class: `cmd-state cmd-${c.state}`, role: "status",
                            text: `${S().label("command_state", c.state)}${why}` });
  }

  function redraw(key) {
    const item = shown.get(key);
    if (item && item.isConnected) item.replaceWith(item.make());
  }

  async function follow(key, site, id) {
    try {
      const cmd = await S().api(`/api/sites/${encodeURIComponent(site)}/commands/${id}`);
      latest.set(key, { cmd });
    } catch (e) { /* asked again below */ }
    redraw(key);
    const now = latest.get(key);
    if (now && now.cmd && !FINAL.has(now.cmd.state)) {
      setTimeout(() => follow(key, site, id), POLL_MS);
    }
  }

  async function send(site, kind, args, key) {
    try {
      const cmd = await S().api(`/api/sites/${encodeURIComponent(site)}/commands`,
                                { method: "POST", json: { kind, args } });
      latest.set(key, { cmd });
      redraw(key);
      if (!FINAL.has(cmd.state)) setTimeout(() => follow(key, site, cmd.id), POLL_MS);
    } catch (e) {
      latest.set(key, { error: e.message || S().t("下发失败，请重试", "Not sent: try again") });
      redraw(key);
    }
  }

  /** A command button: ``text`` its name, ``ask`` the confirmation question. */
  function button(site, kind, args, text, ask) {
    const key = keyOf(site, kind, args);
    const make = () => {
      const last = latest.get(key) || {};
      const busy = !!(last.cmd && !FINAL.has(last.cmd.state));
      const item = S().el("span", { class: "cmd-item", "data-kind": kind });
      const go = S().el("button", { type: "button", class: "cmd", disabled: busy, text });
      go.addEventListener("click", () => {
        const yes = S().el("button", { type: "button", class: "primary", text: S().t("确认", "Confirm") });
        const no = S().el("button", { type: "button", text: S().t("取消", "Cancel") });
        const box = S().el("span", { class: "confirm", role: "group" },
                           S().el("span", { text: ask }), yes, no);
        go.replaceWith(box);
        no.addEventListener("click", () => redraw(key));
        yes.addEventListener("click", async () => {
          yes.disabled = true;
          no.disabled = true;
          await send(site, kind, args, key);
        }, { once: true });
        yes.focus();
      });
      item.append(go);
      const st = status(last);
      if (st) item.append(st);
      item.make = make;
      shown.set(key, item);
      return item;
    };
    return make();
  }

  return { button, keyOf };
})();
