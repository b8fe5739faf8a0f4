/* 批量导入 / the import page: dry run first, then the import, polling the job for progress. */
"use strict";

(() => {
  const S = window.Shell;
  const R = window.Rec;
  const $ = (id) => document.getElementById(id);
  const PHASE = { checking: ["检查中", "Checking"], applying: ["导入中", "Importing"] };
  let site = "";
  let checked = null;  // the file and kind the last clean dry run was for

  function templates() {
    const kind = $("kind").value;
    $("tpl-csv").href = `/api/imports/templates/${kind}.csv`;
    $("tpl-xlsx").href = `/api/imports/templates/${kind}.xlsx`;
    checked = null;
    $("apply").disabled = true;
  }

  function progress(job) {
    $("progress-box").hidden = false;
    const pct = job.rows_total ? Math.floor((job.rows_done * 100) / job.rows_total) : 0;
    $("progress").value = pct;
    const phase = PHASE[job.phase] || [job.phase, job.phase];
    $("progress-text").textContent =
      `${S.t(phase[0], phase[1])} ${pct}% ${job.rows_done.toLocaleString()}/${job.rows_total.toLocaleString()}`;
  }

  function show(result) {
    const body = $("errors").querySelector("tbody");
    body.replaceChildren();
    for (const e of result.errors) {
      const tr = S.el("tr");
      R.cell(tr, e.row); R.cell(tr, e.column); R.cell(tr, S.t(e.zh, e.en), "bad");
      body.append(tr);
    }
    $("errors").hidden = result.errors.length === 0;
    const what = result.dry_run ? S.t("校验", "Check")
      : (result.applied ? S.t("已导入", "Imported") : S.t("未导入", "Nothing imported"));
    $("summary").className = result.errors.length ? "bad" : "ok";
    $("summary").textContent = S.t(
      `${what}：共 ${result.rows_total} 行，新建 ${result.created}，更新 ${result.updated}，未变 ${result.unchanged}，错误 ${result.error_count}`,
      `${what}: ${result.rows_total} rows, created ${result.created}, updated ${result.updated}, unchanged ${result.unchanged}, errors ${result.error_count}`);
  }

  async function wait(url) {
    for (;;) {
      const job = await S.api(url);
      progress(job);
      if (job.state !== "running") {
        if (job.state === "failed" || !job.result) throw new Error(S.msg(job.error || "") || S.t("导入任务失败", "The import job failed"));
        return job.result;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  async function send(dryRun) {
    const form = $("form");
    R.clearErrors(form);
    const file = $("file").files[0];
    if (!file) { R.showError(form, Object.assign(new Error(S.t("请选择文件", "Choose a file")), { field: "file" })); return; }
    const body = new FormData();
    body.append("file", file, file.name);
    const p = new URLSearchParams({ site, dry_run: String(dryRun) });
    $("check").disabled = true;
    $("apply").disabled = true;
    $("progress-box").hidden = true;
    try {
      let result;
      try {
        const answer = await S.api(`/api/imports/${$("kind").value}?${p}`, { method: "POST", body });
        result = answer && answer.url && answer.job ? await wait(answer.url) : answer;
      } catch (err) {
        if (err.status !== 422 || !err.body) throw err;
        result = err.body;  // a refused import answers with its rows' errors
      }
      show(result);
      checked = dryRun && result.errors.length === 0 ? `${$("kind").value}:${file.name}:${file.size}` : null;
    } catch (err) {
      R.showError(form, err);
    } finally {
      $("check").disabled = false;
      $("apply").disabled = checked === null;
    }
  }

  $("kind").addEventListener("change", templates);
  $("file").addEventListener("change", () => { checked = null; $("apply").disabled = true; });
  $("check").addEventListener("click", () => send(true));
  $("apply").addEventListener("click", () => send(false));
  S.onSite((slug) => { site = slug; templates(); });
})();
