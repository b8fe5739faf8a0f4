"""OpenAPI: import templates, imports (dry run or apply) and import jobs. The register's
schemas (``ImportResult``, ``ImportJob``) are declared by ``cloud.records.openapi``."""

from __future__ import annotations

from cloud.imports.reader import MAX_BYTES, MAX_COLUMNS, MAX_ROWS, MAX_UNZIPPED
from cloud.imports.register import JOB_THRESHOLD
from cloud.records.import_kinds import IMPORT_KINDS
from cloud.web.openapi import PATHS, _err, _ok, _p, _q, _ref

PATHS.update({
    "/api/imports/templates/{file}": {"get": {
        "summary": "导入模板下载（KIND.csv 或 KIND.xlsx）/ an import template (KIND.csv or "
                   "KIND.xlsx)",
        "description": "表头为中文加列名（如“房号 unit_code”），第 2、3 行为以 # 开头的说明"
                       "与示例（导入时忽略）。/ Headers are Chinese plus the column key "
                       "(e.g. \"房号 unit_code\"); rows 2 and 3 are notes and an example "
                       "starting with # (ignored on import). Permission imports.run. "
                       f"Kinds: {', '.join(IMPORT_KINDS)}.",
        "parameters": [_p("file", "例如 units.csv / e.g. units.csv")],
        "responses": {"200": {"description": "CSV or .xlsx", "content": {
            "text/csv": {}, "application/vnd.openxmlformats-officedocument."
                            "spreadsheetml.sheet": {}}},
            "404": _err("没有这个模板 / no such template")}}},
    "/api/imports/{kind}": {"post": {
        "summary": "导入表格（可先校验）/ import a sheet (dry run first)",
        "description": "请求体为 multipart 的 file 字段或文件原始内容；.xlsx 或 CSV（UTF-8"
                       "，可带 BOM；或 GB18030）。校验列出每个错误行（行号、列、原因）且"
                       "不做修改；正式导入全部成功或全部不做。按自然键重复导入无变化。"
                       f"超过 {JOB_THRESHOLD} 行时返回 202 与任务。/ The body is a "
                       "multipart form with a file part, or the file itself; .xlsx or CSV "
                       "(UTF-8 with or without BOM, or GB18030). A dry run lists every "
                       "bad row (row, column, reason) and changes nothing; an import "
                       "applies all rows or none. Re-importing is idempotent by natural "
                       f"key. Over {JOB_THRESHOLD} rows the answer is 202 with a job. "
                       f"At most {MAX_BYTES // (1024 * 1024)} MiB, {MAX_ROWS:,} rows below "
                       f"the header and {MAX_COLUMNS} columns; an .xlsx at most "
                       f"{MAX_UNZIPPED // (1024 * 1024)} MiB unpacked (413 with limit and "
                       "count otherwise). Permission imports.run.",
        "parameters": [_p("kind", f"导入类型 / kind: {', '.join(IMPORT_KINDS)}"),
                       _q("site", {"type": "string", "maxLength": 63},
                          "小区标识（必填）/ site slug (required)"),
                       _q("dry_run", {"type": "string",
                                      "enum": ["true", "false", "1", "0"],
                                      "default": "false"}, "只检查不导入 / check only")],
        "requestBody": {"required": True, "content": {
            "multipart/form-data": {"schema": {"type": "object", "properties": {
                "file": {"type": "string", "format": "binary"}}}},
            "text/csv": {"schema": {"type": "string"}},
            "application/octet-stream": {"schema": {"type": "string",
                                                    "format": "binary"}}}},
        "responses": {
            "200": _ok("ImportResult", "校验结果或导入完成 / dry-run result or import "
                                       "done"),
            "202": {"description": "大文件：后台任务 / large file: a job", "content": {
                "application/json": {"schema": {"type": "object", "properties": {
                    "job": _ref("ImportJob"), "url": {"type": "string"}}}}}},
            "400": _err("文件无法读取 / unreadable file"),
            "404": _err("类型或小区不存在 / unknown kind or site"),
            "413": _err("文件过大：字节、行、列或解压后大小超限 / file too large: bytes, "
                        "rows, columns or unpacked size over the limit"),
            "422": _ok("ImportResult", "有错误行，未导入任何行 / bad rows; nothing "
                                       "imported")}}},
    "/api/imports/jobs/{id}": {"get": {
        "summary": "导入任务进度与结果 / an import job's progress and result",
        "parameters": [_p("id", "任务 id / job id")],
        "responses": {"200": _ok("ImportJob", "job"),
                      "404": _err("任务不存在或已过期 / unknown or expired job")}}},
})
