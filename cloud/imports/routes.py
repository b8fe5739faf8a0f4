"""Spreadsheet imports over HTTP: ``/api/imports/templates/{file}``, ``POST /api/imports/{kind}``
(dry run or apply; large sheets run as a job) and ``/api/imports/jobs/{id}``."""

from __future__ import annotations

import asyncio

from aiohttp import BodyPartReader, web

from cloud.auth.audit import actor_of
from cloud.auth.guard import requires
from cloud.imports.jobs import Job, Jobs, new_id, row_json
from cloud.imports.reader import MAX_BYTES, SheetError, TooLarge, read_sheet
from cloud.imports.register import JOB_THRESHOLD, ImportResult, import_sheet
from cloud.imports.tables import ImportJob
from cloud.imports.templates import template
from cloud.parking.tables import PARKING_DATASET
from cloud.records import service as svc
from cloud.records.http import guarded
from cloud.records.import_kinds import IMPORT_KINDS
from cloud.web.errors import ApiError
from cloud.web.keys import CLOCK, DEFAULT_TZ, SESSIONS, SYNC
from cloud.web.params import flag_param, text_param
from cloud.web.respond import json_ok
from cloud.web.tabular import CONTENT_TYPES, attachment

JOBS = web.AppKey("records_import_jobs", Jobs)
READ_CHUNK = 64 * 1024


@requires("imports.run")
async def get_template(request: web.Request) -> web.Response:
    """The import template of a kind: ``units.csv`` or ``units.xlsx``."""
    name, _, fmt = request.match_info["file"].rpartition(".")
    if name not in IMPORT_KINDS or fmt not in CONTENT_TYPES:
        raise ApiError(404, "not_found", f"没有这个模板：{request.match_info['file'][:40]}",
                       f"no such template: {request.match_info['file'][:40]}; use "
                       f"KIND.csv or KIND.xlsx, KIND one of {', '.join(IMPORT_KINDS)}",
                       field="file")
    return attachment(template(name, fmt), fmt, f"{name}-template.{fmt}")  # type: ignore[arg-type]


def _too_large() -> ApiError:
    mib = MAX_BYTES // (1024 * 1024)
    return ApiError(413, "too_large", f"文件过大：最多 {mib} MiB，请拆分后分批导入",
                    f"file too large: at most {mib} MiB; split it into several imports",
                    field="file")


async def _upload(request: web.Request) -> tuple[bytes, str]:
    """The uploaded file (multipart ``file`` part or the raw body) and its name."""
    if request.content_length is not None and request.content_length > MAX_BYTES + 64 * 1024:
        raise _too_large()
    buf = bytearray()
    name = ""
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader) or (part.name != "file"
                                                             and not part.filename):
                continue
            name = part.filename or ""
            while chunk := await part.read_chunk(READ_CHUNK):
                buf += chunk
                if len(buf) > MAX_BYTES:
                    raise _too_large()
            break
        if not buf and not name:
            raise ApiError(400, "invalid_body", "表单中没有名为 file 的文件",
                           "the form has no file part named file", field="file")
    else:
        while chunk := await request.content.read(READ_CHUNK):
            buf += chunk
            if len(buf) > MAX_BYTES:
                raise _too_large()
    return bytes(buf), name


@requires("imports.run")
@guarded
async def run_import(request: web.Request) -> web.Response:
    """Check (``dry_run=true``) or apply a sheet; large sheets answer 202 with a job."""
    kind_name = request.match_info["kind"]
    if kind_name not in IMPORT_KINDS:
        raise ApiError(404, "not_found", f"没有这种导入：{kind_name[:40]}",
                       f"no such import kind: {kind_name[:40]}; one of "
                       f"{', '.join(IMPORT_KINDS)}", field="kind")
    dry_run = bool(flag_param(request, "dry_run"))
    slug = text_param(request, "site", 63)
    actor = actor_of(request)
    async with request.app[SESSIONS]() as session:
        site = await svc.visible_site(session, actor, slug)
    data, filename = await _upload(request)
    try:
        sheet = await asyncio.to_thread(read_sheet, data)  # bounded: see reader.MAX_ROWS
    except TooLarge as err:
        raise ApiError(413, "too_large", err.zh, err.en, field="file", limit=err.limit,
                       count=err.count) from None
    except SheetError as err:
        raise ApiError(400, "invalid_file", err.zh, err.en, field="file") from None
    sessions, now = request.app[SESSIONS], request.app[CLOCK].now()
    default_tz = request.app[DEFAULT_TZ]

    async def work(job: Job | None = None) -> ImportResult:
        return await import_sheet(
            sessions, kind_name, site.slug, sheet, actor=actor, now=now,
            default_tz=default_tz, dry_run=dry_run, source=filename,
            progress=job.progress if job is not None else lambda *_: None)

    def announce(result: ImportResult) -> None:
        publisher = request.app.get(SYNC)
        if result.version is not None and publisher is not None:
            publisher.notify(site.slug, PARKING_DATASET, result.version)

    if len(sheet.rows) > JOB_THRESHOLD:
        jobs = request.app[JOBS]

        async def job_work(job: Job) -> ImportResult:
            result = await work(job)
            announce(result)
            return result
        job = await jobs.start(sessions, request.app[CLOCK],
                               Job(new_id(), kind_name, site.slug, actor.ref, dry_run,
                                   len(sheet.rows)), job_work)
        return json_ok({"job": job.json(), "url": f"/api/imports/jobs/{job.id}"},
                       status=202)
    result = await work()
    announce(result)
    status = 422 if result.errors and not dry_run else 200
    return json_ok(result.json(), status=status)


@requires("imports.run")
async def get_job(request: web.Request) -> web.Response:
    """An import job's progress and, once done, its result."""
    async with request.app[SESSIONS]() as session:  # any process may have started it
        job = await session.get(ImportJob, request.match_info["id"][:32])
    if job is None or job.actor != actor_of(request).ref:
        raise ApiError(404, "not_found", "导入任务不存在（或已过期）",
                       "no such import job (or it has expired)", field="id")
    return json_ok(row_json(job, request.app[CLOCK].now()))


async def _close_jobs(app: web.Application) -> None:
    await app[JOBS].close()


def add_import_routes(app: web.Application) -> None:
    """Templates, imports (dry run or apply) and import jobs."""
    app[JOBS] = Jobs()
    app.on_cleanup.append(_close_jobs)
    r = app.router
    r.add_get("/api/imports/templates/{file}", get_template, name="records_template")
    r.add_post("/api/imports/{kind}", run_import, name="records_import")
    r.add_get("/api/imports/jobs/{id}", get_job, name="records_import_job")
