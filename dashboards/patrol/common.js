/* 巡更页面共用 / shared by the patrol pages: the API's address, the login's permissions,
 * weekday names, minutes typed by staff ↔ the API's seconds, refusals made on the page, and
 * dates in the site's zone. Needs the shell. */
"use strict";

window.Pat = (() => {
  const S = window.Shell;
  const DAYS = [["一", "Mon"], ["二", "Tue"], ["三", "Wed"], ["四", "Thu"], ["五", "Fri"],
                ["六", "Sat"], ["日", "Sun"]];

  const siteUrl = (site, rest) => `/api/sites/${encodeURIComponent(site)}/patrol/${rest}`;

  async function permissions() {
    const me = await S.ready;
    return new Set((me && me.permissions) || []);
  }

  /* The API counts seconds; staff type minutes. Empty stays empty (the API's default). */
  function toSeconds(minutes) {
    const text = String(minutes ?? "").trim();
    if (text === "") return undefined;
    const n = Number(text);
    return Number.isFinite(n) ? Math.round(n * 60) : text;  // not a number: the API refuses it
  }
  function toMinutes(seconds) {
    if (seconds === null || seconds === undefined) return "";
    return String(Math.round((Number(seconds) / 60) * 100) / 100);
  }

  /* A refusal found on the page, shown like the API's (beside ``field``). */
  function fail(form, field, zh, en) {
    S.showError(form, Object.assign(new Error(S.t(zh, en)), { field }));
  }

  function daysText(days) {
    const list = days || [];
    if (list.length === 7) return S.t("每天", "Every day");
    return list.map((d) => S.t(`周${DAYS[d - 1][0]}`, DAYS[d - 1][1])).join("、");
  }

  /* "2026-12-07" today in the site's zone. */
  function today(tz) {
    const p = {};
    for (const x of new Intl.DateTimeFormat("en-GB", { timeZone: tz, year: "numeric",
      month: "2-digit", day: "2-digit" }).formatToParts(new Date())) p[x.type] = x.value;
    return `${p.year}-${p.month}-${p.day}`;
  }

  /* A date ``n`` days from ``date`` ("2026-12-07", -6 → "2026-12-01"). */
  function addDays(date, n) {
    const d = new Date(`${date}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }

  /* "13:05" of an instant in the zone. */
  function clock(iso, tz) {
    return iso ? S.time(iso, tz).slice(11) : "";
  }

  /* The list in the API's answer under ``key`` ({"checkpoints": […]}, {"rounds": […]}). */
  function items(data, key) {
    return (data && Array.isArray(data[key])) ? data[key] : [];
  }

  return { DAYS, siteUrl, permissions, toSeconds, toMinutes, fail, daysText, today, addDays,
           clock, items };
})();

/* One round of GET …/patrol/rounds or rounds/live in the names the pages use; its
 * checkpoints carry their state (pending, on_time, late, missed, out_of_order), due and visit
 * times. ``guard_name`` (a display name) is used when the API gives one, else the login. */
window.Pat.round = (r) => {
  const out = {
    id: r.round, plan: r.plan, planName: r.plan_name || r.plan, status: r.status,
    scheduled: r.scheduled_at, started: r.started_at, ended: r.ended_at,
    guard: r.guard_name || r.guard || "",
    counts: { on_time: r.on_time || 0, late: r.late || 0, missed: r.missed || 0 },
    checkpoints: (r.checkpoints || []).map((c) => ({
      code: c.checkpoint, name: c.name || c.checkpoint, state: c.state || "pending",
      due: c.due, at: c.visited_at || null, source: c.source || null })),
  };
  if (out.status === "started" || out.status === "scheduled") {
    /* The edge sends the counts when the round ends; until then they are the chips'. */
    const n = (st) => out.checkpoints.filter((c) => c.state === st).length;
    out.counts = { on_time: n("on_time"), late: n("late"), missed: n("missed") };
  }
  return out;
};

/* A checkpoint as a coloured chip: its name, state and visit (or due) time. */
window.Pat.chip = (c, tz) => {
  const S = window.Shell;
  const time = c.at ? window.Pat.clock(c.at, tz) : (c.due ? `${S.t("应到", "due")} ${window.Pat.clock(c.due, tz)}` : "");
  const parts = [c.name, S.label("patrol_checkpoint_state", c.state), time];
  if (c.source) parts.push(S.label("patrol_source", c.source));
  return S.el("span", { class: `chip ${c.state}`, "data-checkpoint": c.code,
                        "data-state": c.state, text: parts.filter(Boolean).join(" ") });
};
