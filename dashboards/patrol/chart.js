/* 柱状图 / a bar chart as inline SVG, drawn here because the console loads nothing from
 * outside (no chart library, no CDN): one bar per row, 0–100 %, the value above each bar and
 * the row's name below. Bars under 60 % are red, under 90 % amber. */
"use strict";

window.PatChart = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const H = 260;         // plot height
  const TOP = 24;        // room for the values
  const BOTTOM = 56;     // room for the names
  const LEFT = 36;       // the axis' numbers

  function svg(tag, attrs, text) {
    const n = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, String(v));
    if (text !== undefined) n.textContent = text;
    return n;
  }

  /* ``bars``: [{label, value (0–100 or null)}]; ``title`` the chart's accessible name. */
  function bars(list, title) {
    const slot = Math.max(48, Math.min(120, 900 / Math.max(1, list.length)));
    const width = LEFT + slot * list.length + 12;
    const root = svg("svg", { viewBox: `0 0 ${width} ${TOP + H + BOTTOM}`, role: "img",
                              "aria-label": title, class: "bars" });
    for (const pct of [0, 50, 100]) {
      const y = TOP + H - (H * pct) / 100;
      root.append(svg("line", { x1: LEFT, x2: width - 4, y1: y, y2: y, class: "axis" }),
                  svg("text", { x: LEFT - 6, y: y + 4, "text-anchor": "end" }, `${pct}`));
    }
    list.forEach((b, i) => {
      const v = b.value === null || b.value === undefined ? null : Math.max(0, Math.min(100, Number(b.value)));
      const h = v === null ? 0 : (H * v) / 100;
      const x = LEFT + i * slot + slot * 0.15;
      const w = slot * 0.7;
      const level = v === null ? "" : v < 60 ? " low" : v < 90 ? " mid" : "";
      const bar = svg("rect", { x, y: TOP + H - h, width: w, height: Math.max(h, 0.5),
                                class: `bar${level}`, "data-label": b.label });
      bar.append(svg("title", {}, `${b.label}: ${v === null ? "—" : `${b.value}%`}`));
      root.append(bar,
                  svg("text", { x: x + w / 2, y: TOP + H - h - 6, "text-anchor": "middle", class: "value" },
                      v === null ? "—" : `${b.value}%`),
                  svg("text", { x: x + w / 2, y: TOP + H + 18, "text-anchor": "middle" },
                      b.label.length > 12 ? `${b.label.slice(0, 11)}…` : b.label));
    });
    return root;
  }

  return { bars };
})();
