/* 通用面板 / a panel the page has no renderer for: its fields as a plain key/value table, so
 * a feature that registers a new panel on the server shows up without a change here. */
(function () {
  "use strict";
  const C = window.Cockpit;
  const SKIP = new Set(["title_zh", "title_en", "empty", "error"]);

  function text(v) {
    if (v === null || v === undefined || v === "") return "—";
    if (Array.isArray(v)) return C.t(`${v.length} 项`, `${v.length} items`);
    if (typeof v === "object") {
      return Object.entries(v).slice(0, 4).map(([k, x]) => `${k}: ${text(x)}`).join("，");
    }
    if (typeof v === "number") return C.num(v, 2);
    return String(v);
  }

  C.register("*", (box) => {
    const table = C.el("table", { class: "ck-kv" });
    const body = C.el("tbody");
    table.append(body);
    box.append(table);
    return {
      update(p) {
        body.replaceChildren(...Object.entries(p).filter(([k]) => !SKIP.has(k)).map(([k, v]) =>
          C.el("tr", {}, C.el("th", { text: k.replace(/_/g, " ") }), C.el("td", { text: text(v) }))));
        while (body.lastChild && box.scrollHeight > box.clientHeight + 1) body.lastChild.remove();
      },
    };
  });
})();
