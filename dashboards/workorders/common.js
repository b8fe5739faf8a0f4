/* 工单页面共用 / shared by the work-order pages: the API, the transition table, SLA times.
   No libraries, no build step; the console writes the table into <meta name="courtyard-table">. */
"use strict";

const WO = (() => {
  const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
  const table = JSON.parse(meta("courtyard-table"));
  const PRIORITY = {
    urgent: "紧急 Urgent", high: "高 High", normal: "普通 Normal", low: "低 Low",
  };
  const STATE_EN = {
    pool: "Pool", assigned: "Assigned", accepted: "Accepted", in_progress: "In progress",
    paused: "Paused", completed: "Completed", closed: "Closed", cancelled: "Cancelled",
  };

  /** Actions the table allows from `state`, in table order. */
  function allowed(state) {
    return Object.keys(table.actions).filter((a) => table.actions[a].sources.includes(state));
  }

  function actionLabel(action) {
    const en = action.replace(/_/g, " ");
    return `${table.actions[action].zh} / ${en[0].toUpperCase()}${en.slice(1)}`;
  }

  function stateLabel(state) {
    return `${table.states[state] || state} / ${STATE_EN[state] || state}`;
  }

  function categoryLabel(name) {
    return `${table.categories[name] || name} ${name}`;
  }

  /** The deadline that is running: response until someone answers, then resolution. */
  function due(order) {
    if (order.state === "completed" || order.state === "closed" || order.state === "cancelled") {
      return null;
    }
    return order.responded_at
      ? { at: order.resolve_due, local: order.resolve_due_local, zh: "完成", en: "resolve" }
      : { at: order.response_due, local: order.response_due_local, zh: "响应", en: "respond" };
  }

  function overdue(order, now) {
    const d = due(order);
    return Boolean(d && Date.parse(d.at) <= now);
  }

  function span(ms) {
    const m = Math.floor(Math.abs(ms) / 60000);
    const d = Math.floor(m / 1440);
    const h = Math.floor((m % 1440) / 60);
    const mm = String(m % 60).padStart(2, "0");
    return d ? { zh: `${d}天${h}小时`, en: `${d}d ${h}h` } : { zh: `${h}小时${mm}分`, en: `${h}h ${mm}m` };
  }

  /** "响应剩余 1小时05分 / 1h 05m left to respond · 截止 11-23 12:00" in the site's time. */
  function slaText(order, now) {
    const d = due(order);
    if (!d) return "";
    const left = Date.parse(d.at) - now;
    const s = span(left);
    const local = (d.local || "").slice(5, 16).replace("T", " ");
    const head = left > 0
      ? `${d.zh}剩余 ${s.zh} / ${s.en} left to ${d.en}`
      : `${d.zh}已超时 ${s.zh} / ${d.en} overdue by ${s.en}`;
    return `${head} · 截止 due ${local}`;
  }

  async function api(method, path, body) {
    const init = { method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const resp = await window.CourtyardSession.fetch(path, init);
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      const msg = (data.error && data.error.message) || `HTTP ${resp.status}`;
      throw new Error(msg);
    }
    return data;
  }

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  return {
    table, PRIORITY, allowed, actionLabel, stateLabel, categoryLabel, due, overdue, slaText,
    api, el, REFRESH_MS: 10000,
  };
})();
