/* 今日巡更 / the supervisor's day: GET …/patrol/rounds?date= (site-local date), grouped by
 * plan, each round a row: scheduled time, guard, status, on-time / late / missed counts and
 * every checkpoint as a chip (Pat.chip) with its visit time. A missed round or checkpoint is
 * red, late amber. Today's view refreshes every 15 s (another day's only when asked); the day
 * is kept in the address. */
"use strict";

(() => {
  const S = window.Shell;
  const P = window.Pat;
  const $ = (id) => document.getElementById(id);
  const form = $("day-form");
  const REFRESH_MS = 15000;
  let site = "";
  let timer = null;

  const tz = () => S.zone(site);

  function countCell(tr, n, cls) {
    const td = S.cell(tr, String(n), "num");
    if (n > 0 && cls) td.classList.add(cls);
  }

  function roundRow(raw) {
    const r = P.round(raw);
    const tr = S.el("tr", { class: `round ${r.status}`, "data-round": r.id, "data-status": r.status });
    S.cell(tr, P.clock(r.scheduled, tz()), "num");
    S.cell(tr, r.guard);
    const st = S.cell(tr, S.label("patrol_round_status", r.status));
    st.classList.add("status", r.status);
    countCell(tr, r.counts.on_time, null);
    countCell(tr, r.counts.late, "warn");
    countCell(tr, r.counts.missed, "bad");
    const td = S.cell(tr, "");
    td.replaceChildren(...r.checkpoints.map((c) => P.chip(c, tz())));
    return tr;
  }

  function planCard(code, name, rounds) {
    const body = S.el("tbody", {}, ...rounds.map(roundRow));
    const head = S.el("tr", {}, ...[["计划时间", "Scheduled"], ["保安", "Guard"], ["状态", "Status"],
      ["准时", "On time"], ["迟到", "Late"], ["漏检", "Missed"], ["巡更点", "Checkpoints"]]
      .map(([zh, en]) => S.el("th", { text: S.t(zh, en) })));
    return S.el("div", { class: "card plan", "data-plan": code },
                S.el("h2", { text: name }), S.el("table", {}, S.el("thead", {}, head), body));
  }

  async function load() {
    clearTimeout(timer);
    const day = $("day").value;
    S.clearErrors(form);
    try {
      const data = await S.api(P.siteUrl(site, `rounds?date=${encodeURIComponent(day)}`));
      const rounds = P.items(data, "rounds").slice().sort((a, b) => {
        const x = P.round(a).scheduled || ""; const y = P.round(b).scheduled || "";
        return x < y ? -1 : x > y ? 1 : 0;
      });
      const byPlan = new Map();
      for (const r of rounds) {
        const n = P.round(r);
        if (!byPlan.has(n.plan)) byPlan.set(n.plan, { code: n.plan, name: n.planName, rounds: [] });
        byPlan.get(n.plan).rounds.push(r);
      }
      $("plans").replaceChildren(...[...byPlan.values()].map((p) => planCard(p.code, p.name, p.rounds)));
      $("day-empty").hidden = rounds.length > 0;
      const count = (s) => rounds.filter((r) => r.status === s).length;
      $("day-sum").textContent = S.t(
        `共 ${rounds.length} 轮：完成 ${count("completed")}，进行中 ${count("started")}，未完成 ${count("incomplete")}，漏巡 ${count("missed")}`,
        `${rounds.length} rounds: ${count("completed")} completed, ${count("started")} in progress, ${count("incomplete")} incomplete, ${count("missed")} missed`);
      $("day-updated").textContent = S.t(`更新于 ${P.clock(new Date().toISOString(), tz())}`,
                                         `updated ${P.clock(new Date().toISOString(), tz())}`);
    } catch (err) {
      S.showError(form, Object.assign(err, { field: err.field || "date" }));
    }
    if (day === P.today(tz())) timer = setTimeout(load, REFRESH_MS);
  }

  function setDay(day) {
    $("day").value = day;
    const url = new URL(location.href);
    url.searchParams.set("date", day);
    history.replaceState(history.state, "", url);
    load();
  }

  $("day").addEventListener("change", () => { if ($("day").value) setDay($("day").value); });
  $("day-today").addEventListener("click", () => setDay(P.today(tz())));

  S.onSite((slug) => {
    site = slug;
    const wanted = new URLSearchParams(location.search).get("date");
    setDay(/^\d{4}-\d{2}-\d{2}$/.test(wanted || "") ? wanted : P.today(tz()));
  });
})();
