/* 导入页 / the import page: dry run first, then the import, polling the job for progress. */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const PHASE = { checking: "检查 checking", applying: "导入 applying" };
  let checked = null;  // the file and kind the last clean dry run was for

  function templates() {
    const kind = $("kind").value;
    $("tpl-csv").href = `/api/imports/templates/${kind}.csv`;
    $("tpl-xlsx").href = `/api/imports/templates/${kind}.xlsx`;
    $("apply").disabled = true;
  }

  function progress(job) {
    $("progress-box").hidden = false;
    const pct = job.rows_total ? Math.floor((job.rows_done * 100) / job.rows_total) : 0;
    $("progress").value = pct;
    $("progress-text").textContent =
      `${PHASE[job.phase] || job.phase} ${pct}% ${job.rows_done.toLocaleString()}/${job.rows_total.toLocaleString()}`;
  }

  function show(result) {
    const body = $("errors").querySelector("tbody");
    body.textContent = "";
    for (const e of result.errors) {
      const tr = document.createElement("tr");
      REC.cell(tr, e.row);
      REC.cell(tr, e.column);
      REC.cell(tr, `${e.zh} / ${e.en}`, "bad");
      body.append(tr);
    }
    $("errors").hidden = result.errors.length === 0;
    const what = result.dry_run ? "试运行 / dry run" : (result.applied ? "已导入 / imported" : "未导入 / nothing imported");
    $("summary").className = result.errors.length ? "bad" : "ok";
    $("summary").textContent = `${what}: ${result.rows_total} 行 rows — 新建 created ${result.created}, ` +
      `更新 updated ${result.updated}, 未变 unchanged ${result.unchanged}, 错误 errors ${result.error_count}`;
  }

  async function wait(url) {
    for (;;) {
      const job = await REC.get(url);
      progress(job);
      if (job.state !== "running") {
        if (job.state === "failed" || !job.result) throw new Error("导入任务失败 / the import job failed");
        return job.result;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  async function send(dryRun) {
    REC.showError(null);
    const file = $("file").files[0];
    if (!file) { REC.showError(new Error("请选择文件 / choose a file")); return; }
    const form = new FormData();
    form.append("file", file, file.name);
    const p = new URLSearchParams({ site: $("site").value, dry_run: String(dryRun) });
    $("check").disabled = true;
    $("apply").disabled = true;
    $("progress-box").hidden = true;
    try {
      const { status, body } = await REC.post(`/api/imports/${$("kind").value}?${p}`, form);
      const result = status === 202 ? await wait(body.url) : body;
      show(result);
      checked = dryRun && result.errors.length === 0 ? `${$("kind").value}:${file.name}:${file.size}` : null;
    } catch (err) {
      REC.showError(err);
    } finally {
      $("check").disabled = false;
      $("apply").disabled = checked === null;
    }
  }

  $("kind").addEventListener("change", templates);
  $("file").addEventListener("change", () => { checked = null; $("apply").disabled = true; });
  $("check").addEventListener("click", () => send(true));
  $("apply").addEventListener("click", () => send(false));
  REC.fillSites($("site")).catch(REC.showError);
})();
