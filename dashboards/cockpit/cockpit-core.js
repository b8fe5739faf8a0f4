/* 驾驶舱公共部分 / what every cockpit view and panel shares (window.Cockpit):
 *   Cockpit.register(name, make)   a panel renderer: make(box, ctx) → {update(p), tick?(item),
 *                                  second?(), destroy?()}; a name with none is drawn as a
 *                                  plain key/value table (panel-table.js)
 *   Cockpit.renderer(name)         the renderer of a panel name (or the table's)
 *   Cockpit.el(tag, attrs, …kids)  a DOM node (no listeners: nothing is added per message)
 *   Cockpit.t / num / pct / money / age / clock   text in the current language, figures
 *   Cockpit.Charts()               a view's set of ECharts instances: made once per holder,
 *                                  updated with setOption, re-made only when the screen's
 *                                  scale changes (crisp at 2×), disposed with the view
 *   Cockpit.fit(list)              drop a list's last lines until it fits its box
 *   Cockpit.scale()                the stage's scale (1 at 1920×1080, 2 at 3840×2160)
 */
(function () {
  "use strict";
  const W = 1920;
  const H = 1080;
  const renderers = new Map();
  const lang = document.documentElement.dataset.lang === "en" ? "en" : "zh";
  let scale = 1;
  const scaleListeners = new Set();

  function t(zh, en) { return lang === "en" && en ? en : zh; }

  function el(tag, attrs, ...kids) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of kids) if (c !== null && c !== undefined && c !== false) node.append(c);
    return node;
  }

  /* A name/number pair "紧急 3"; ``cls`` colours it. */
  function kpi(value, zh, en, cls) {
    return el("div", { class: `ck-kpi ${cls || ""}` }, el("b", { text: value }),
              el("span", { text: t(zh, en) }));
  }

  function num(n, digits) {
    if (n === null || n === undefined || n === "") return "—";
    const x = Number(n);
    if (!Number.isFinite(x)) return String(n);
    return x.toLocaleString("zh-CN", { maximumFractionDigits: digits === undefined ? 0 : digits,
                                       minimumFractionDigits: 0 });
  }

  function pct(rate) { return rate === null || rate === undefined ? "—" : `${num(rate, 1)}%`; }

  /* Money arrives as a string of yuan ("1234.50"): shown as is, grouped, never through float
     arithmetic beyond the grouping of its whole part. */
  function money(s) {
    if (s === null || s === undefined || s === "") return "—";
    const m = /^(-?)(\d+)(\.\d+)?$/.exec(String(s));
    if (!m) return String(s);
    return `¥${m[1]}${m[2].replace(/\B(?=(\d{3})+(?!\d))/g, ",")}${m[3] || ""}`;
  }

  function age(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const s = Math.max(0, Math.round(Number(seconds)));
    if (s < 60) return t(`${s}秒`, `${s}s`);
    if (s < 3600) return t(`${Math.floor(s / 60)}分钟`, `${Math.floor(s / 60)} min`);
    if (s < 86400) return t(`${Math.floor(s / 3600)}小时`, `${Math.floor(s / 3600)} h`);
    return t(`${Math.floor(s / 86400)}天`, `${Math.floor(s / 86400)} d`);
  }

  const clockFormats = new Map();
  /* [HH:MM:SS, YYYY-MM-DD 周X] of ``ms`` in ``tz``. */
  function clock(ms, tz) {
    let f = clockFormats.get(tz);
    if (!f) {
      f = new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "zh-CN", {
        timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit", weekday: "short",
        hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
      clockFormats.set(tz, f);
    }
    const p = {};
    for (const part of f.formatToParts(new Date(ms))) p[part.type] = part.value;
    return [`${p.hour}:${p.minute}:${p.second}`, `${p.year}-${p.month}-${p.day} ${p.weekday}`];
  }

  /* Drop a list's last lines until it fits its own box (a ticker never overflows its panel). */
  function fit(list) {
    while (list.lastChild && list.scrollHeight > list.clientHeight + 1) list.lastChild.remove();
  }

  function register(name, make) { renderers.set(name, make); }
  function renderer(name) { return renderers.get(name) || renderers.get("*"); }

  /* ---- the stage: a 1920×1080 canvas scaled to the screen ---- */
  function layout() {
    const stage = document.getElementById("ck-stage");
    if (!stage) return;
    const vw = window.innerWidth;
    const vh = window.innerHeight;
    const s = Math.min(vw / W, vh / H);
    const x = Math.max(0, (vw - W * s) / 2);
    const y = Math.max(0, (vh - H * s) / 2);
    stage.style.transform = `translate(${x}px, ${y}px) scale(${s})`;
    if (Math.abs(s - scale) > 1e-6) {
      scale = s;
      for (const fn of scaleListeners) fn(s);
    }
  }

  /* ---- charts ---- */
  const chartStyle = {
    textStyle: { fontFamily: "Noto Sans CJK SC, Noto Sans SC, PingFang SC, Microsoft YaHei, sans-serif",
                 fontSize: 18, color: "#c8d6e5" },
    color: ["#3fa9f5", "#33c48d", "#f5a623", "#b37feb", "#ff7a45", "#5cdbd3"],
    animationDuration: 300, animationDurationUpdate: 300,
  };

  /* The ECharts instances of one view. ``set(holder, option)`` makes the holder's chart the
     first time and updates it with setOption afterwards; ``dispose()`` ends them all. */
  function Charts() {
    const charts = new Map();  // holder → {inst, option}
    const available = typeof window.echarts === "object" && window.echarts !== null;

    function make(holder) {
      return window.echarts.init(holder, null, {
        renderer: "canvas", devicePixelRatio: (window.devicePixelRatio || 1) * scale });
    }

    function set(holder, option) {
      if (!available) return;
      let c = charts.get(holder);
      if (!c) {
        c = { inst: make(holder), option: null, w: 0, h: 0 };
        c.inst.setOption(chartStyle);
        charts.set(holder, c);
      }
      c.option = option;
      if (holder.clientWidth !== c.w || holder.clientHeight !== c.h) {
        c.w = holder.clientWidth;
        c.h = holder.clientHeight;
        c.inst.resize();
      }
      c.inst.setOption(option, { lazyUpdate: true });
    }

    /* A new scale needs a new pixel ratio, which ECharts takes only at init. */
    function rescale() {
      for (const [holder, c] of charts) {
        c.inst.dispose();
        c.inst = make(holder);
        c.inst.setOption(chartStyle);
        c.w = holder.clientWidth;
        c.h = holder.clientHeight;
        if (c.option) c.inst.setOption(c.option);
      }
    }
    scaleListeners.add(rescale);

    function dispose() {
      scaleListeners.delete(rescale);
      for (const c of charts.values()) c.inst.dispose();
      charts.clear();
    }
    return { set, dispose, count: () => charts.size };
  }

  /* An axis and a grid sized for the wall (design pixels). */
  function axisStyle() {
    return {
      axisLabel: { color: "#9fb3c8", fontSize: 18 },
      axisLine: { lineStyle: { color: "#2c4a66" } },
      splitLine: { lineStyle: { color: "rgba(44, 74, 102, 0.5)" } },
    };
  }

  window.addEventListener("resize", layout);
  layout();

  window.Cockpit = {
    W, H, lang, t, el, kpi, num, pct, money, age, clock, fit, register, renderer, Charts,
    axisStyle, layout, scale: () => scale,
    charts_available: () => typeof window.echarts === "object" && window.echarts !== null,
  };
})();
