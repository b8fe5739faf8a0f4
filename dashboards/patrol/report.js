/* 巡更报表 / the patrol report: GET …/patrol/report?from=&to=&by= (dates in site time, both
 * included), its completion rate as a bar chart (PatChart) and every figure in the table with
 * the totals; 导出 Excel links report.xlsx with the same parameters. The choice is kept in the
 * address so a reload (or a link sent to a colleague) shows the same report. A refusal (a bad
 * date, too long a period) is shown beside the field it names. */
"use strict";

(() => {
  const S = window.Shell;
  const P = window.Pat;
  const $ = (id) => document.getElementById(id);
  const form = $("report-form");
  const COLS = ["rounds_planned", "rounds_completed", "rounds_incomplete", "rounds_missed",
                "completion_rate", "checkpoints_due", "on_time", "late", "missed", "on_time_rate"];
  const GROUP = { guard: ["保安", "Guard"], route: ["路线", "Route"], day: ["日期", "Day"] };
  let site = "";

  function query() {
    const q = new URLSearchParams();
    for (const name of ["from", "to", "by"]) {
      if (form.elements[name].value) q.set(name, form.elements[name].value);
    }
    return q.toString();
  }

  function fill(tr, r) {
    S.cell(tr, S.msg(r.label));
    for (const c of COLS) {
      const v = r[c];
      const td = S.cell(tr, c.endsWith("_rate") ? (v === null ? "" : `${v}%`) : v, "num");
      if ((c === "missed" || c === "rounds_missed" || c === "rounds_incomplete") && v > 0) td.classList.add("bad");
      if (c === "late" && v > 0) td.classList.add("warn");
    }
    return tr;
  }

  async function show() {
    S.clearErrors(form);
    const q = query();
    const url = new URL(location.href);
    for (const name of ["from", "to", "by"]) url.searchParams.set(name, form.elements[name].value);
    history.replaceState(history.state, "", url);
    $("report-xlsx").href = P.siteUrl(site, `report.xlsx?${q}`);
    const by = form.elements.by.value;
    $("report-group").textContent = S.t(...GROUP[by]);
    const body = $("report");
    try {
      const data = await S.api(P.siteUrl(site, `report?${q}`));
      if (!data.rows.length) {
        S.empty(body, COLS.length + 1, "这段时间没有巡更轮次", "No rounds in this period");
        $("report-total").replaceChildren();
      } else {
        body.replaceChildren(...data.rows.map((r) => fill(S.el("tr", { "data-key": r.key }), r)));
        $("report-total").replaceChildren(fill(S.el("tr", { class: "total" }),
                                               { ...data.totals, label: S.t("合计", "Total") }));
      }
      $("chart").replaceChildren(window.PatChart.bars(
        data.rows.map((r) => ({ label: S.msg(r.label), value: r.completion_rate })),
        S.t("完成率", "Completion rate")));
    } catch (err) {
      S.showError(form, err);
      S.empty(body, COLS.length + 1, err.message, err.message);
      $("chart").replaceChildren();
    }
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    S.once($("report-show"), show);
  });

  S.onSite((slug) => {
    site = slug;
    const q = new URLSearchParams(location.search);
    const today = P.today(S.zone(slug));
    form.elements.to.value = q.get("to") || today;
    form.elements.from.value = q.get("from") || P.addDays(form.elements.to.value, -6);
    form.elements.by.value = ["guard", "route", "day"].includes(q.get("by")) ? q.get("by") : "guard";
    show();
  });
})();
