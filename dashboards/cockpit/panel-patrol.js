/* 巡更 / patrol: today's round completion (the patrol report's rate) as a gauge, and the
 * rounds planned, completed, incomplete and missed. */
(function () {
  "use strict";
  const C = window.Cockpit;

  C.register("patrol", (box, ctx) => {
    const row = C.el("div", { class: "ck-row" });
    const chart = C.el("div", { class: "ck-chart w48" });
    const figures = C.el("div", { class: "ck-col grow mid" });
    row.append(chart, figures);
    box.append(row);
    return {
      update(p) {
        const d = p.today || {};
        const line = (zh, en, v, cls) => C.el("div", { class: "ck-line" }, C.t(zh, en),
                                             C.el("b", { class: cls || null, text: C.num(v) }));
        figures.replaceChildren(line("计划 ", "Planned ", d.planned),
                                line("完成 ", "Completed ", d.completed, "ck-ok"),
                                line("未完成 ", "Incomplete ", d.incomplete, d.incomplete ? "ck-warn" : null),
                                line("漏巡 ", "Missed ", d.missed, d.missed ? "ck-bad" : null));
        ctx.charts.set(chart, gauge(d.rate, C.t("完成率", "Completion")));
      },
    };
  });

  /* A 0–100 % gauge (also used by the finance panel). */
  function gauge(rate, name) {
    const v = rate === null || rate === undefined ? 0 : Number(rate);
    const color = rate === null || rate === undefined ? "#3a4250" : v >= 90 ? "#33c48d" : v >= 70 ? "#f5a623" : "#ff4d4f";
    return {
      series: [{
        type: "gauge", min: 0, max: 100, startAngle: 215, endAngle: -35, radius: "92%",
        center: ["50%", "56%"], progress: { show: true, width: 14, itemStyle: { color } },
        axisLine: { lineStyle: { width: 14, color: [[1, "#1d3550"]] } },
        axisTick: { show: false }, splitLine: { show: false }, axisLabel: { show: false },
        pointer: { show: false }, anchor: { show: false },
        title: { show: true, offsetCenter: [0, "38%"], color: "#9fb3c8", fontSize: 18 },
        detail: { valueAnimation: false, offsetCenter: [0, "-4%"], fontSize: 30, fontWeight: 700,
                  color: "#e8f1fa",
                  formatter: () => (rate === null || rate === undefined ? "—" : `${C.num(rate, 1)}%`) },
        data: [{ value: v, name }],
      }],
    };
  }
  C.gauge = gauge;
})();
