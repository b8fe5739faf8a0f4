/* 设备在线 / devices online by family (online / total) and the edge's buffer: depth and the
 * oldest buffered event's age; a stale or offline edge is shown in amber/red. */
(function () {
  "use strict";
  const C = window.Cockpit;

  C.register("devices", (box) => {
    const fams = C.el("div", { class: "ck-fams" });
    const edge = C.el("div", { class: "ck-line" });
    const buffer = C.el("div", { class: "ck-line" });
    box.append(fams, edge, buffer);
    return {
      update(p) {
        fams.replaceChildren(...(p.families || []).map((f) => C.el(
          "div", { class: `ck-fam${f.total > 0 && f.online < f.total ? " down" : ""}` },
          C.el("span", { text: C.t(f.label_zh, f.label_en) }),
          C.el("b", { text: `${C.num(f.online)}/${C.num(f.total)}` }))));
        const e = p.edge || {};
        const up = e.online && !e.stale;
        edge.replaceChildren(C.t("边缘网关 ", "Edge "), C.el("b", {
          class: up ? "ck-ok" : "ck-bad",
          text: up ? C.t("在线", "online") : e.online ? C.t("上报延迟", "report late")
            : C.t("离线", "offline") }));
        buffer.replaceChildren(C.t("缓存 ", "Buffered "), C.el("b", { text: C.num(e.outbox_depth) }),
                               C.t(" 条 · 最早 ", " · oldest "),
                               C.el("b", { class: e.oldest_age_s > 300 ? "ck-warn" : null,
                                           text: C.age(e.oldest_age_s) }));
      },
    };
  });
})();
