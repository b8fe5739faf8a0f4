/* 计划任务 / schedules: each task of the shell's 小区 (bill run, reminders, late fees, purge),
 * its time in the community's local time, an edit form, and the recent jobs with their state,
 * progress and error — all through /api/schedules and /api/jobs. */
"use strict";

(() => {
  const S = window.Shell;
  const $ = (id) => document.getElementById(id);
  const KINDS = {
    bill_run: ["出账", "Bill run"], reminders: ["缴费提醒", "Payment reminders"],
    late_fees: ["滞纳金计算", "Late fees"], purge: ["过期数据清理", "Purge expired data"],
  };
  const CYCLES = { monthly: ["每月", "Monthly"], quarterly: ["每季度", "Quarterly"],
    yearly: ["每年", "Yearly"] };
  const STATES = { queued: ["排队中", "Queued"], running: ["执行中", "Running"],
    done: ["已完成", "Done"], failed: ["失败", "Failed"] };
  let site = "";
  let editing = null;

  const word = (table, code) => (table[code] ? S.t(...table[code]) : code);

  function when(s) {
    const time = s.spec.time;
    if (s.kind !== "bill_run") return S.t(`每天 ${time}`, `Daily at ${time}`);
    const d = s.spec.day_of_month;
    return `${word(CYCLES, s.spec.cycle)} ${S.t(`${d} 日 ${time}`, `day ${d} at ${time}`)}`;
  }

  function scheduleRow(s) {
    const tr = S.el("tr", { "data-schedule": s.id, "data-kind": s.kind });
    S.cell(tr, word(KINDS, s.kind));
    S.cell(tr, when(s), "when");
    S.cell(tr, s.enabled ? S.t("是", "Yes") : S.t("否", "No"), "enabled");
    S.cell(tr, s.next_due ? S.time(s.next_due, s.timezone) : "—", "next");
    S.cell(tr, s.last_slot ? S.time(s.last_slot, s.timezone) : "—");
    const edit = S.el("button", { type: "button", class: "edit", text: S.t("修改", "Edit"),
      onclick: () => openEdit(s) });
    S.cell(tr, "").append(edit);
    return tr;
  }

  function openEdit(s) {
    editing = s;
    const form = $("edit-form");
    S.clearErrors(form);
    $("edit-title").textContent = `${S.t("修改计划", "Change the schedule")}：${word(KINDS, s.kind)}`;
    $("edit-time").value = s.spec.time;
    $("edit-enabled").checked = s.enabled;
    for (const n of form.querySelectorAll(".bill-only")) n.hidden = s.kind !== "bill_run";
    if (s.kind === "bill_run") {
      $("edit-day").value = s.spec.day_of_month;
      $("edit-cycle").value = s.spec.cycle;
    }
    $("edit-card").hidden = false;
    $("edit-time").focus();
  }

  async function save(ev) {
    ev.preventDefault();
    const form = $("edit-form");
    if (!editing) return;
    await S.once($("save"), async () => {
      S.clearErrors(form);
      const spec = { time: $("edit-time").value.trim() };
      if (editing.kind === "bill_run") {
        const day = $("edit-day").value.trim();
        spec.day_of_month = /^\d+$/.test(day) ? Number(day) : day;
        spec.cycle = $("edit-cycle").value;
      }
      try {
        const saved = await S.api(`/api/schedules/${editing.id}`, { method: "PUT",
          json: { enabled: $("edit-enabled").checked, spec } });
        const row = document.querySelector(`tr[data-schedule="${saved.id}"]`);
        if (row) row.replaceWith(scheduleRow(saved));
        editing = null;
        $("edit-card").hidden = true;
        S.toast(S.t("已保存", "Saved"));
      } catch (e) {
        S.showError(form, e);
      }
    });
  }

  async function add(ev) {
    ev.preventDefault();
    const form = $("add-form");
    await S.once($("add"), async () => {
      S.clearErrors(form);
      try {
        await S.api("/api/schedules", { method: "POST", json: { site, kind: $("add-kind").value } });
        await loadSchedules();
      } catch (e) {
        S.showError(form, e);
      }
    });
  }

  async function loadSchedules() {
    const data = await S.api(`/api/schedules?site=${encodeURIComponent(site)}`);
    const body = $("schedules");
    if (!data.schedules.length) S.empty(body, 6, "尚无计划任务", "No schedules yet");
    else body.replaceChildren(...data.schedules.map(scheduleRow));
  }

  function progress(j) {
    const p = j.progress || {};
    if (p.units_total) return S.t(`${p.units_done || 0}/${p.units_total} 户`,
      `${p.units_done || 0}/${p.units_total} units`);
    if (p.skipped) return S.t(`${p.period} 已出账，跳过`, `${p.period} already billed, skipped`);
    if (p.bills_changed !== undefined) return S.t(`${p.bills_changed} 张账单更新`,
      `${p.bills_changed} bills updated`);
    if (p.scheduled !== undefined) return S.t(`新提醒 ${p.scheduled}，已发送 ${p.sent}`,
      `${p.scheduled} new reminders, ${p.sent} sent`);
    return "";
  }

  function jobRow(j) {
    const tr = S.el("tr", { "data-job": j.id });
    S.cell(tr, word(KINDS, j.kind));
    S.cell(tr, word(STATES, j.state), `state state-${j.state}`);
    S.cell(tr, j.attempts, "num");
    S.cell(tr, progress(j));
    S.cell(tr, S.time(j.created_at));
    S.cell(tr, j.finished_at ? S.time(j.finished_at) : "—");
    S.cell(tr, j.error ? S.msg(j.error) : "");
    return tr;
  }

  async function loadJobs() {
    const data = await S.api(`/api/jobs?site=${encodeURIComponent(site)}&limit=30`);
    const body = $("jobs");
    if (!data.jobs.length) S.empty(body, 7, "尚无任务记录", "No jobs yet");
    else body.replaceChildren(...data.jobs.map(jobRow));
  }

  function refresh() {
    Promise.all([loadSchedules(), loadJobs()]).catch((e) => S.toast(e.message, true));
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("add-kind").replaceChildren(...Object.keys(KINDS).map((k) =>
      S.el("option", { value: k, text: word(KINDS, k) })));
    $("edit-cycle").replaceChildren(...Object.keys(CYCLES).map((k) =>
      S.el("option", { value: k, text: word(CYCLES, k) })));
    $("edit-form").addEventListener("submit", save);
    $("add-form").addEventListener("submit", add);
    $("cancel").addEventListener("click", () => { editing = null; $("edit-card").hidden = true; });
    S.onSite((slug) => {
      site = slug;
      editing = null;
      $("edit-card").hidden = true;
      refresh();
    });
    setInterval(() => { if (site && !document.hidden) loadJobs().catch(() => {}); }, 5000);
  });
})();
