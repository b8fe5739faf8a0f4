/* 通行记录 / the access log: granted and denied entries, newest first
 * (GET …/access/log?door=&result=&holder=&from=&to=&before_id=), 更多 for the next page. Dates
 * are the site's days; the holder is the resident's name (masked for a role without personal
 * data), the denial's reason its label. */
"use strict";

window.AccLog = (() => {
  const S = window.Shell;
  const A = window.Acc;
  const $ = (id) => document.getElementById(id);
  const form = $("log-form");
  const body = $("log");
  const more = $("log-more");
  let site = "";
  let next = null;
  let query = "";

  function reason(e) {
    if (e.result !== "denied") return "";
    if (!e.reason) return S.t("未说明", "Not given");
    const known = ((window.CY_LABELS || {}).access_reason || {})[e.reason];
    return known ? S.label("access_reason", e.reason) : S.t("其他原因", "Other reason");
  }

  function credential(e) {
    if (e.credential === "remote") return S.t("远程开门", "Remote open");
    return e.credential || "";
  }

  function row(e) {
    const tr = S.el("tr", { "data-entry": String(e.id), class: e.result });
    S.cell(tr, S.time(e.ts, S.zone(site)));
    S.cell(tr, e.door);
    S.cell(tr, S.label("access_result", e.result), `result ${e.result}`);
    S.cell(tr, A.holderText(e));
    S.cell(tr, credential(e), "num");
    S.cell(tr, reason(e));
    return tr;
  }

  function params() {
    const f = form.elements;
    const tz = S.zone(site);
    const q = new URLSearchParams();
    if (f.door.value.trim()) q.set("door", f.door.value.trim());
    if (f.result.value) q.set("result", f.result.value);
    if (f.holder.value.trim()) q.set("holder", f.holder.value.trim());
    if (f.from.value) q.set("from", A.withOffset(f.from.value, tz));
    if (f.to.value) q.set("to", A.withOffset(A.nextDay(f.to.value), tz));
    return q;
  }

  async function page(append) {
    const q = new URLSearchParams(query);
    if (append && next) q.set("before_id", String(next));
    const data = await S.api(A.siteUrl(site, `log?${q}`));
    const rows = data.entries.map(row);
    if (append) body.append(...rows);
    else if (rows.length) body.replaceChildren(...rows);
    else S.empty(body, 6, "没有通行记录", "No entries");
    next = data.next_before_id;
    more.hidden = !next;
  }

  async function find(ev) {
    if (ev) ev.preventDefault();
    S.clearErrors(form);
    query = params().toString();
    await S.once($("log-find"), async () => {
      try {
        await page(false);
      } catch (err) {
        S.showError(form, err);
      }
    });
  }

  function start(slug) {
    site = slug;
    next = null;
    return find();
  }

  form.addEventListener("submit", find);
  more.addEventListener("click", () => S.once(more, async () => {
    try { await page(true); } catch (err) { S.toast(err.message, true); }
  }));

  return { start };
})();
