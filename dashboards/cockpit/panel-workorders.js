/* 工单 / work orders: open, overdue, today's SLA compliance and each technician's open load
 * (a bar per technician). */
(function () {
  "use strict";
  const C = window.Cockpit;

  C.register("workorders", (box, ctx) => {
    const kpis = C.el("div", { class: "ck-kpis" });
    const chart = C.el("div", { class: "ck-chart" });
    box.append(kpis, chart);
    return {
      update(p) {
        const sla = p.sla_today || {};
        const rate = sla.rate;
        kpis.replaceChildren(
          C.kpi(C.num(p.open), "未完成", "Open"),
          C.kpi(C.num(p.overdue), "已超时", "Overdue", p.overdue > 0 ? "critical" : "ok"),
          C.kpi(C.pct(rate), C.t(`今日SLA ${C.num(sla.met)}/${C.num(sla.due)}`,
                                 `SLA today ${C.num(sla.met)}/${C.num(sla.due)}`), "",
                `sm ${rate === null || rate === undefined ? "" : rate >= 90 ? "ok" : "major"}`));
        const techs = (p.by_technician || []).slice(0, 6).reverse();
        ctx.charts.set(chart, {
          grid: { left: 8, right: 40, top: 4, bottom: 4, containLabel: true },
          xAxis: { type: "value", minInterval: 1, ...C.axisStyle(), axisLabel: { show: false } },
          yAxis: { type: "category", data: techs.map((x) => x.name), ...C.axisStyle() },
          series: [{ type: "bar", data: techs.map((x) => x.open), barMaxWidth: 22,
                     label: { show: true, position: "right", color: "#e8f1fa", fontSize: 18 },
                     itemStyle: { color: "#3fa9f5", borderRadius: [0, 4, 4, 0] } }],
        });
      },
    };
  });
})();
