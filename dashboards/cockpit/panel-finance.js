/* 收费 / finance: this month's collection rate (a gauge), billed and collected, and the
 * arrears of each building (bars, the largest first). */
(function () {
  "use strict";
  const C = window.Cockpit;

  C.register("finance", (box, ctx) => {
    const row = C.el("div", { class: "ck-row" });
    const gauge = C.el("div", { class: "ck-chart w44" });
    const right = C.el("div", { class: "ck-col grow" });
    const period = C.el("div", { class: "ck-line" });
    const billed = C.el("div", { class: "ck-line" });
    const collected = C.el("div", { class: "ck-line" });
    const bars = C.el("div", { class: "ck-chart" });
    const none = C.el("div", { class: "ck-line", text: C.t("各楼栋暂无欠费", "No arrears by building") });
    right.append(period, billed, collected, bars, none);
    row.append(gauge, right);
    box.append(row);
    return {
      update(p) {
        period.replaceChildren(C.t("账期 ", "Period "), C.el("b", { text: p.period || "—" }));
        billed.replaceChildren(C.t("应收 ", "Billed "), C.el("b", { text: C.money(p.billed) }));
        collected.replaceChildren(C.t("实收 ", "Collected "), C.el("b", { text: C.money(p.collected) }));
        ctx.charts.set(gauge, C.gauge(p.collection_rate, C.t("收缴率", "Collection")));
        const rows = (p.arrears_by_building || []).slice()
          .sort((a, b) => Number(b.arrears) - Number(a.arrears)).slice(0, 5).reverse();
        bars.hidden = !rows.length;
        none.hidden = !!rows.length;
        if (!rows.length) return;
        ctx.charts.set(bars, {
          grid: { left: 4, right: 8, top: 4, bottom: 0, containLabel: true },
          xAxis: { type: "value", show: false },
          yAxis: { type: "category", data: rows.map((r) => r.name || r.building), ...C.axisStyle(),
                   axisLabel: { color: "#9fb3c8", fontSize: 16 } },
          series: [{ type: "bar", data: rows.map((r) => Number(r.arrears)), barMaxWidth: 16,
                     itemStyle: { color: "#ff7a45", borderRadius: [0, 4, 4, 0] } }],
          tooltip: { show: false },
        });
      },
    };
  });
})();
