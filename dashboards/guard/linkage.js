/* 保安看板：边缘网关的消防联动状态 / guard board: what each site's edge last said about linkage.
 *
 * Resolving the fire's alarms in the console changes nothing at the site: the edge keeps the
 * barriers open and the doors unlocked until a guard resets linkage on the edge box. So the
 * board shows, per site, the edge's own latest report (GET /api/alarms/linkage): active since
 * when and what it holds, or reset when and by whom; and, while active, exactly where the reset
 * is done (the console cannot send it yet: the command channel is a later issue).
 * window.GuardLinkage.refresh(site) reloads it; board.js calls it on every alarm change.
 */
"use strict";

window.GuardLinkage = (() => {
  const POLL_MS = 20000;
  const box = document.getElementById("linkage");
  let site = "";
  let timer = null;
  let pending = null;

  const S = () => window.Shell;
  const hhmm = (iso, tz) => S().time(iso, tz).slice(11);

  function actionText(a, tz) {
    const what = S().label("linkage_action", a.action);
    const result = S().label("linkage_result", a.result);
    return `${what} ${a.target || ""}：${result}（${hhmm(a.ts, tz)}）`;
  }

  function where() {
    return S().el("p", { class: "where", text: S().t(
      "复位联动、开闸须在边缘网关的操作页完成（控制台暂不能下发此指令）：在岗亭电脑或网关上用保安令牌"
      + "调用操作端口 9180 的 POST /linkage/reset（操作 reset_linkage，须在消防主机复位后），"
      + "见《运维手册》（docs/operations.md）“边缘监听端口”一节。",
      "Reset linkage and open barriers on the edge box's operator page (the console cannot send "
      + "this yet): from the guard-room PC or the box, with a guard's token, POST /linkage/reset "
      + "on operator port 9180 (action reset_linkage, after the fire panel was reset); see "
      + "docs/operations.md, Edge listeners.") });
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
      li.append(ul, where());
    } else {
      const undone = (s.undone || []).map((a) => actionText(a, tz)).join("；");
      li.append("✓ ", name, " ", S().t(
        `消防联动已于 ${hhmm(s.reset, tz)} 复位（${s.reset_by || "—"}）`,
        `Fire linkage reset at ${hhmm(s.reset, tz)} (${s.reset_by || "—"})`),
      undone ? S().el("span", { class: "undone", text: ` ${undone}` }) : "");
    }
    return li;
  }

  function show(sites) {
    const shown = sites.filter((s) => s.state === "active" || s.state === "reset");
    box.hidden = shown.length === 0;
    box.replaceChildren(S().el("h2", { text: S().t("边缘联动状态", "Linkage at the edge") }),
                        S().el("ul", {}, ...shown.map(line)));
  }

  async function load() {
    const query = site ? `?site=${encodeURIComponent(site)}` : "";
    try {
      const data = await S().api(`/api/alarms/linkage${query}`);
      show((data && data.sites) || []);
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
