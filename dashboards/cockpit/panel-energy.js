/* 能耗 / energy and water: today's consumption per building, the site's last 30 days (kWh and
 * m³, a line each), the top consumers today and the meters with anomalies. */
(function () {
  "use strict";
  const C = window.Cockpit;

  C.register("energy", (box, ctx) => {
    const row = C.el("div", { class: "ck-row" });
    const left = C.el("div", { class: "ck-col w30" });
    const buildings = C.el("ul", { class: "ck-list" });
    left.append(C.el("div", { class: "ck-line", text: C.t("今日各楼栋 kWh / m³", "Today per building kWh / m³") }),
                buildings);
    const chart = C.el("div", { class: "ck-chart" });
    const right = C.el("div", { class: "ck-col w27" });
    const top = C.el("ul", { class: "ck-list" });
    const anomalies = C.el("div", { class: "ck-line" });
    right.append(C.el("div", { class: "ck-line", text: C.t("今日用电前五", "Top consumers today") }),
                 top, anomalies);
    row.append(left, chart, right);
    box.append(row);
    return {
      update(p) {
        buildings.replaceChildren(...(p.buildings || []).map((b) => C.el("li", {},
          C.el("span", { class: "grow", text: b.name || b.building }),
          C.el("span", { class: "num", text: `${C.num(b.today_kwh, 1)} / ${C.num(b.today_m3, 1)}` }))));
        C.fit(buildings);
        top.replaceChildren(...(p.top || []).map((d) => C.el("li", {},
          C.el("span", { class: "grow", text: d.device }),
          C.el("span", { class: "num", text: C.num(d.today_kwh, 1) }))));
        const bad = p.anomalies || [];
        anomalies.replaceChildren(C.t("异常表计 ", "Anomalous meters "),
                                  C.el("b", { class: bad.length ? "ck-warn" : "ck-ok", text: C.num(bad.length) }),
                                  bad.length ? ` · ${bad.slice(0, 2).map((a) => a.device).join("、")}` : "");
        C.fit(top);
        const tr = p.trend || {};
        ctx.charts.set(chart, {
          legend: { top: 0, right: 0, textStyle: { color: "#c8d6e5", fontSize: 18 },
                    itemWidth: 22, itemHeight: 10 },
          grid: { left: 4, right: 4, top: 34, bottom: 2, containLabel: true },
          xAxis: { type: "category", data: (tr.days || []).map((d) => String(d).slice(5)),
                   ...C.axisStyle(), axisLabel: { color: "#9fb3c8", fontSize: 16, interval: 6 } },
          yAxis: [{ type: "value", ...C.axisStyle(), axisLabel: { color: "#9fb3c8", fontSize: 16 } },
                  { type: "value", ...C.axisStyle(), splitLine: { show: false },
                    axisLabel: { color: "#9fb3c8", fontSize: 16 } }],
          series: [{ name: C.t("用电 kWh", "Power kWh"), type: "line", data: (tr.kwh || []).map(Number),
                     smooth: true, symbol: "none", areaStyle: { opacity: 0.15 }, color: "#f5a623" },
                   { name: C.t("用水 m³", "Water m³"), type: "line", yAxisIndex: 1, smooth: true,
                     data: (tr.m3 || []).map(Number), symbol: "none", color: "#3fa9f5" }],
        });
      },
    };
  });
})();
