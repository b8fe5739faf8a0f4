/* 门禁 / access: door events per hour today, forced and held-open doors today, the latest of
 * them. */
(function () {
  "use strict";
  const C = window.Cockpit;
  const KIND = { "door.forced": ["强行开门", "Forced"], "door.held_open": ["开门超时", "Held open"] };

  C.register("access", (box, ctx) => {
    const kpis = C.el("div", { class: "ck-kpis" });
    const chart = C.el("div", { class: "ck-chart" });
    const list = C.el("ul", { class: "ck-list ck-short" });
    box.append(kpis, chart, list);
    return {
      update(p) {
        const hourly = p.hourly_today || [];
        kpis.replaceChildren(
          C.kpi(C.num(hourly.reduce((a, b) => a + Number(b || 0), 0)), "门禁事件", "Door events", "sm"),
          C.kpi(C.num(p.forced_today), "强行开门", "Forced", `sm ${p.forced_today ? "critical" : "ok"}`),
          C.kpi(C.num(p.held_today), "开门超时", "Held open", `sm ${p.held_today ? "major" : "ok"}`));
        ctx.charts.set(chart, {
          grid: { left: 4, right: 4, top: 8, bottom: 0, containLabel: true },
          xAxis: { type: "category", data: hourly.map((_, i) => `${i}`), ...C.axisStyle(),
                   axisLabel: { color: "#9fb3c8", fontSize: 16, interval: 5 } },
          yAxis: { type: "value", minInterval: 1, ...C.axisStyle(), axisLabel: { show: false },
                   splitNumber: 2 },
          series: [{ type: "bar", data: hourly, itemStyle: { color: "#5cdbd3" }, barMaxWidth: 10 }],
        });
        const now = ctx.now();
        list.replaceChildren(...(p.latest || []).slice(0, 2).map((d) => C.el("li", {},
          C.el("span", { class: "ck-sev critical", text: C.t(...(KIND[d.kind] || ["门禁异常", "Door alarm"])) }),
          C.el("span", { class: "grow", text: d.door }),
          C.el("span", { class: "age", text: C.age((now - Date.parse(d.ts)) / 1000) }))));
        C.fit(list);
      },
    };
  });
})();
