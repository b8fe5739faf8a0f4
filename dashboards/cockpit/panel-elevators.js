/* 电梯 / elevators: a chip per car coloured by its live state (running green, fault amber,
 * trapped flashing red, maintenance blue, offline grey) with its floor. */
(function () {
  "use strict";
  const C = window.Cockpit;
  const STATE = { running: ["运行", "Running"], fault: ["故障", "Fault"], trapped: ["困人", "Trapped"],
                  maintenance: ["检修", "Maintenance"], offline: ["离线", "Offline"],
                  unknown: ["未知", "Unknown"] };

  C.register("elevators", (box) => {
    const summary = C.el("div", { class: "ck-line" });
    const cars = C.el("div", { class: "ck-cars" });
    box.append(summary, cars);
    return {
      update(p) {
        const list = p.cars || [];
        const count = (s) => list.filter((c) => c.state === s).length;
        summary.replaceChildren(C.t("运行 ", "Running "), C.el("b", { class: "ck-ok", text: C.num(count("running")) }),
                                C.t(" · 困人 ", " · trapped "), C.el("b", { class: count("trapped") ? "ck-bad" : null, text: C.num(count("trapped")) }),
                                C.t(" · 故障 ", " · fault "), C.el("b", { class: count("fault") ? "ck-warn" : null, text: C.num(count("fault")) }));
        cars.classList.toggle("many", list.length > 9);
        cars.replaceChildren(...list.map((c) => {
          const state = STATE[c.state] ? c.state : "unknown";
          const floor = c.floor === null || c.floor === undefined ? "" : ` ${c.floor}${C.t("层", "F")}`;
          return C.el("div", { class: `ck-car ${state}` }, C.el("b", { text: c.device }),
                      C.el("span", { text: `${C.t(...STATE[state])}${floor}` }));
        }));
        while (cars.lastChild && cars.scrollHeight > cars.clientHeight + 1) cars.lastChild.remove();
      },
    };
  });
})();
