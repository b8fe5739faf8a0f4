/* 告警 / alarms: open by severity, today's count against the 7-day average, and a ticker of
 * the latest with place and age. Live alarm ticks join the top of the ticker at once; the
 * ticker keeps at most MAX items (the next panel update replaces them with the server's). */
(function () {
  "use strict";
  const C = window.Cockpit;
  const MAX = 20;
  const SEVERITIES = new Set(["critical", "major", "minor"]);
  const SEV = { critical: ["紧急", "Critical"], major: ["重要", "Major"], minor: ["一般", "Minor"],
                info: ["提示", "Info"] };

  C.register("alarms", (box, ctx) => {
    const kpis = C.el("div", { class: "ck-kpis" });
    const day = C.el("div", { class: "ck-line" });
    const list = C.el("ul", { class: "ck-list ck-ticker" });
    box.append(kpis, day, list);
    let items = [];

    function draw(fresh) {
      const now = ctx.now();
      list.replaceChildren(...items.map((a, i) => {
        const sev = SEV[a.severity] || SEV.info;
        return C.el("li", { class: i === 0 && fresh ? "fresh" : null, "data-ts": a.ts },
                    C.el("span", { class: `ck-sev ${a.severity || "info"}`, text: C.t(sev[0], sev[1]) }),
                    C.el("span", { class: "grow", text: `${a.place ? `${a.place} · ` : ""}${C.t(a.title_zh, a.title_en)}` }),
                    C.el("span", { class: "age", text: C.age((now - Date.parse(a.ts)) / 1000) }));
      }));
      C.fit(list);
    }

    return {
      update(p) {
        const o = p.open || {};
        kpis.replaceChildren(C.kpi(C.num(o.critical), "紧急", "Critical", "critical"),
                             C.kpi(C.num(o.major), "重要", "Major", "major"),
                             C.kpi(C.num(o.minor), "一般", "Minor", "minor"));
        day.replaceChildren(C.t("今日 ", "Today "), C.el("b", { text: C.num(p.today) }),
                            C.t(" 起 · 近7日日均 ", " · 7-day average "),
                            C.el("b", { text: C.num(p.avg_7d, 1) }));
        items = (p.latest || []).slice(0, MAX);
        draw(false);
      },
      tick(item) {
        if (!SEVERITIES.has(item.severity)) return;
        items.unshift(item);
        if (items.length > MAX) items.length = MAX;
        draw(true);
      },
      second() {
        const now = ctx.now();
        for (const li of list.children) {
          li.lastChild.textContent = C.age((now - Date.parse(li.dataset.ts)) / 1000);
        }
      },
    };
  });
})();
