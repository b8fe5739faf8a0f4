/* 停车 / parking: occupancy per lot, today's income, and entries / exits per hour today
 * against yesterday (the site's hours) as a line chart. */
(function () {
  "use strict";
  const C = window.Cockpit;

  C.register("parking", (box, ctx) => {
    const row = C.el("div", { class: "ck-row" });
    const left = C.el("div", { class: "ck-col w38" });
    const kpis = C.el("div", { class: "ck-kpis" });
    const lots = C.el("ul", { class: "ck-list" });
    const chart = C.el("div", { class: "ck-chart" });
    left.append(kpis, lots);
    row.append(left, chart);
    box.append(row);
    const sum = (xs) => (xs || []).reduce((a, b) => a + Number(b || 0), 0);
    return {
      update(p) {
        const h = p.hourly || {};
        kpis.replaceChildren(C.kpi(C.money(p.income_today), "今日停车收入", "Income today", "sm"),
                             C.kpi(`${C.num(sum(h.today_entries))}/${C.num(sum(h.today_exits))}`,
                                   "今日进/出", "In/out today", "sm"));
        lots.replaceChildren(...(p.lots || []).map((l) => C.el("li", {},
          C.el("span", { class: "grow", text: l.name || l.lot }),
          C.el("span", { class: "num", text: l.capacity ? `${C.num(l.occupied)}/${C.num(l.capacity)}`
            : C.t(`在场 ${C.num(l.occupied)}`, `${C.num(l.occupied)} in`) }),
          l.capacity ? C.el("b", { class: l.occupied / l.capacity >= 0.9 ? "ck-warn" : null,
                                   text: `${Math.round((100 * l.occupied) / l.capacity)}%` }) : null)));
        C.fit(lots);
        const hours = (h.hours || []).map((x) => `${x}`);
        // Today's hours still to come have no figure yet (not a zero).
        const hour = Number(C.clock(ctx.now(), ctx.tz())[0].slice(0, 2));
        const sofar = (xs) => (xs || []).map((v, i) => ((h.hours || [])[i] > hour ? null : v));
        const line = (name, data, color, dashed) => ({
          name, type: "line", data: data || [], smooth: true, symbol: "none", color,
          lineStyle: { width: dashed ? 2 : 3, type: dashed ? "dashed" : "solid", color } });
        ctx.charts.set(chart, {
          legend: { top: 0, right: 0, textStyle: { color: "#c8d6e5", fontSize: 18 },
                    itemWidth: 22, itemHeight: 10 },
          grid: { left: 4, right: 12, top: 34, bottom: 2, containLabel: true },
          xAxis: { type: "category", data: hours, boundaryGap: false, ...C.axisStyle(),
                   axisLabel: { color: "#9fb3c8", fontSize: 16, interval: 3 } },
          yAxis: { type: "value", minInterval: 1, ...C.axisStyle() },
          series: [line(C.t("今日入场", "In today"), sofar(h.today_entries), "#3fa9f5", false),
                   line(C.t("今日出场", "Out today"), sofar(h.today_exits), "#33c48d", false),
                   line(C.t("昨日入场", "In yesterday"), h.yesterday_entries, "#3fa9f5", true),
                   line(C.t("昨日出场", "Out yesterday"), h.yesterday_exits, "#33c48d", true)],
        });
      },
    };
  });
})();
