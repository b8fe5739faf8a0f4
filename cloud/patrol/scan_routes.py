"""``POST /api/sites/{site}/patrol/scans`` (``patrol.scan``) and ``GET …/scans?date=``
(``patrol.read``).

The guard is the login: a body naming one (``guard``) is refused by name. The token must be a
genuine sticker of this site (``contract.patrol.verify_sticker``; refusals name ``token`` with
the ``reason``) of an active checkpoint. The scan is stored with its flags (``cloud.patrol.scan``)
and audited in one transaction; after the commit it goes to the site's edge as a
``patrol.scan`` command through the command link, as ``cloud.commands.routes`` does. Without a
link (a console run without a broker) the scan is stored with ``forwarded`` false: never an
error for the guard. A scan of an old sticker is stored but not forwarded (it counts for no
round).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

import structlog
from aiohttp import web
from sqlalchemy import select

from cloud.auth.audit import actor_of, record
from cloud.auth.guard import PUBLIC, requires
from cloud.commands.link import COMMAND_LINK, CommandLink
from cloud.commands.service import InvalidCommand, issue
from cloud.commands.states import MAX_TTL_S
from cloud.patrol import scan as sc
from cloud.patrol.sticker import site_secret
from cloud.patrol.tables import PatrolCheckpoint, PatrolScan
from cloud.web.body import json_object
from cloud.web.errors import ApiError, bad_param
from cloud.web.keys import CLOCK, SESSIONS
from cloud.web.pages import PageSet
from cloud.web.present import site_zone, times, utc_iso
from cloud.web.queries import site_by_slug
from cloud.web.respond import json_ok
from contract.commands import CommandKind
from contract.patrol import StickerRefused, verify_sticker

log = structlog.get_logger(__name__)

PATH: Final = "/api/sites/{site}/patrol/scans"
AUDITED: Final = ("checkpoint", "guard", "phone_time", "sticker_n", "flags", "lat", "lon",
                  "accuracy_m")
MAX_LIST: Final = 1000
PAGE: Final = "/m/patrol"
MOBILE = PageSet("patrol_mobile", "页面文件缺失 / patrol scan page files are missing")


def command_link(app: web.Application) -> CommandLink | None:
    """The link ``cloud.serve`` wired (``configure_commands``), or None."""
    return app.get(COMMAND_LINK)


def scan_json(s: PatrolScan, tz: Any, names: dict[str, str], cp_names: dict[str, str]
              ) -> dict[str, Any]:
    return {"id": s.id, "checkpoint": s.checkpoint, "checkpoint_name": cp_names.get(
                s.checkpoint, s.checkpoint),
            "guard": s.guard, "guard_name": names.get(s.guard, s.guard),
            **times("phone_time", s.phone_time, tz), **times("server_time", s.server_time, tz),
            "lat": s.lat, "lon": s.lon, "accuracy_m": s.accuracy_m, "sticker_n": s.sticker_n,
            "flags": list(s.flags or []), "forwarded": s.forwarded, "command_id": s.command_id}


def _refused(err: StickerRefused) -> ApiError:
    return ApiError(400, "invalid_token", err.zh, err.en, field="token", reason=err.reason)


@requires("patrol.scan")
async def create_scan(request: web.Request) -> web.Response:
    """Record a scan from the guard's phone; 201 with its flags."""
    slug = request.match_info["site"]
    got = sc.read_scan(await json_object(request))
    try:
        sticker = verify_sticker(site_secret(request, slug), got.token, slug)
    except StickerRefused as err:
        raise _refused(err) from None
    actor = actor_of(request)
    link = command_link(request.app)
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session:
        site = await site_by_slug(session, slug)
        tz = site_zone(request, site.timezone)
        cp = (await session.scalars(select(PatrolCheckpoint).where(
            PatrolCheckpoint.site_id == site.id,
            PatrolCheckpoint.code == sticker.checkpoint))).one_or_none()
        if cp is None:
            raise ApiError(404, "not_found", f"巡更点不存在：{sticker.checkpoint}",
                           f"no such checkpoint: {sticker.checkpoint}", field="token",
                           reason="unknown_checkpoint")
        if not cp.active:
            raise ApiError(409, "conflict", "该巡更点已停用", "this checkpoint is not active",
                           field="token", reason="inactive_checkpoint")
        guard = await sc.guard_login(session, actor)
        outside = await sc.outside_window(session, site.id, cp.code, tz, got.phone_time)
        flags = sc.flags(sticker.n, cp.sticker_n, outside, got.phone_time, now)
        row = PatrolScan(site_id=site.id, checkpoint=cp.code, guard=guard,
                         phone_time=got.phone_time, server_time=now, lat=got.lat, lon=got.lon,
                         accuracy_m=got.accuracy_m, sticker_n=sticker.n, flags=flags,
                         forwarded=False, command_id=None)
        session.add(row)
        await session.flush()
        record(session, at=now, actor=actor, action="scan", entity="patrol_scan",
               entity_id=row.id, site_id=site.id, after={f: getattr(row, f) for f in AUDITED})
        command_id = None
        if link is not None and "old_sticker" not in flags:
            args = {"checkpoint": cp.code, "guard": guard, "scan": str(row.id),
                    "at": utc_iso(got.phone_time) or ""}
            try:
                cmd = await issue(session, site, actor, str(CommandKind.PATROL_SCAN), args,
                                  MAX_TTL_S, now)
            except InvalidCommand as exc:  # a contract limit: keep the scan, say so
                log.warning("patrol.scan_not_forwarded", site=slug, scan=row.id,
                            field=exc.field, reason=exc.reason)
            else:
                row.forwarded, row.command_id = True, cmd.id
                command_id = cmd.id
        await session.commit()
        out = scan_json(row, tz, {guard: actor.name}, {cp.code: cp.name})
    if link is not None and command_id is not None:
        link.submit(command_id)
    log.info("patrol.scanned", site=slug, checkpoint=cp.code, guard=guard, flags=flags,
             forwarded=command_id is not None)
    return json_ok(out, status=201)


def _date(request: web.Request, today: date) -> date:
    raw = (request.query.get("date") or "").strip()
    if not raw:
        return today
    try:
        if len(raw) == 10:
            return date.fromisoformat(raw)
    except ValueError:
        pass
    raise bad_param("date", f"须为日期 YYYY-MM-DD，收到 {raw[:40]!r}",
                    f"must be a date YYYY-MM-DD, got {raw[:40]!r}")


@requires("patrol.read")
async def list_scans(request: web.Request) -> web.Response:
    """The scans received on a site-local day (default today), newest first, with flags."""
    async with request.app[SESSIONS]() as session:
        site = await site_by_slug(session, request.match_info["site"])
        tz = site_zone(request, site.timezone)
        day = _date(request, request.app[CLOCK].now().astimezone(tz).date())
        lo = datetime.combine(day, time(0), tz).astimezone(UTC)
        rows = (await session.scalars(select(PatrolScan).where(
            PatrolScan.site_id == site.id, PatrolScan.server_time >= lo,
            PatrolScan.server_time < lo + timedelta(days=1))
            .order_by(PatrolScan.server_time.desc(), PatrolScan.id.desc())
            .limit(MAX_LIST))).all()
        names = await sc.display_names(session, (r.guard for r in rows))
        cps = dict((await session.execute(select(PatrolCheckpoint.code, PatrolCheckpoint.name)
                                          .where(PatrolCheckpoint.site_id == site.id)))
                   .all())
    return json_ok({"site": site.slug, "date": day.isoformat(),
                    "scans": [scan_json(r, tz, names, cps) for r in rows]})


@requires("patrol.scan")
async def scan_page(request: web.Request) -> web.Response:
    """The phone page a sticker's URL opens (``?t=<token>``); logging in comes back here."""
    return await MOBILE.page("scan.html")


@requires(PUBLIC)
async def scan_asset(request: web.Request) -> web.StreamResponse:
    """One script or style sheet of ``dashboards/patrol_mobile``; anything else is 404."""
    return await MOBILE.asset(request)


def add_scan_routes(app: web.Application) -> None:
    """The scan API, and the phone page with its assets."""
    app.router.add_post(PATH, create_scan, name="patrol_scan_create")
    app.router.add_get(PATH, list_scans, name="patrol_scans")
    app.router.add_get(PAGE, scan_page, name="patrol_scan_page")
    app.router.add_get(f"{PAGE}/static/{{name}}", scan_asset, name="patrol_scan_asset")
