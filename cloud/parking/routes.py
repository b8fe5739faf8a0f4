"""Parking under ``/api/sites/{site}/parking/``: the lists staff edit, tariffs, the stays and
charges the edge reported, the lanes' last plate reads with their snapshots, and the dataset
the edge pulls.

Access: ``GET …/parking/dataset`` is for the edge (HTTP Basic with the site's slug and its
site secret from ``COURTYARD_SITE_CREDENTIALS``, the credential the edge already uses for
MQTT). Every other endpoint is for staff: ``parking.read`` / ``parking.write`` and a site the
actor serves (``cloud.auth``).

Every edit runs in one transaction that first bumps the site's dataset version (which also
serialises edits of one site), and only after the commit is the new version handed to the
sync publisher, which never blocks or fails the request (``cloud.parking.sync``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import and_, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.guard import PUBLIC, requires
from cloud.db.dialect import dialect_insert
from cloud.db.models import Device, Event, Site
from cloud.parking import dataset as ds
from cloud.parking import records
from cloud.parking.records import RESOURCES, VISITORS, RecordError, Resource
from cloud.parking.sync import SyncPublisher
from cloud.parking.tables import PARKING_DATASET, Charge, LotTariff, ParkingSession
from cloud.web.body import json_object
from cloud.web.errors import ApiError, bad_param, json_error, not_found
from cloud.web.keys import CLOCK, DEFAULT_TZ, SESSIONS, SITE_CREDENTIALS, SYNC
from cloud.web.params import int_param, names_param, text_param, time_param
from cloud.web.present import times, zone
from cloud.web.respond import dumps, json_ok
from contract import Kind
from parkingrules.plates import normalize, parse
from parkingrules.tariff_yaml import TariffError, tariff_from_dict

LIST_DEFAULT_LIMIT = 1000
LIST_MAX_LIMIT = 10_000
PAGE_DEFAULT_LIMIT = 100
PAGE_MAX_LIMIT = 1000
LANE_DEFAULT_READS = 5
LANE_MAX_READS = 50
MAX_SEQ = 2**63 - 1
#: Ids of the parking tables except charges are 32-bit: a larger one names nothing (and
#: PostgreSQL would refuse to compare it).
MAX_ID = 2**31 - 1
MAX_CHARGE_ID = 2**63 - 1
#: A ``plate.evidence`` event is queued a moment after its read, so its seq is close behind:
#: look this far ahead rather than through the whole log.
EVIDENCE_SEQ_WINDOW = 20_000
PLATE_EVIDENCE = Kind.PLATE_EVIDENCE
#: Literal, not a bound parameter, so PostgreSQL matches it to the partial index's condition.
PLATE_READS = text("events.kind = 'plate.read'")
IMAGES = {"evidence": "evidence_jpeg_b64", "crop": "crop_jpeg_b64"}
CENT = Decimal("0.01")

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def configure_parking(app: web.Application, site_credentials: Mapping[str, str],
                      publisher: SyncPublisher | None = None) -> None:
    """Give the handlers the site credentials and, when there is one, the sync publisher.

    Without credentials every site's dataset answers 403; without a publisher edits still
    bump the version, and edges learn it from the next announcement or their next pull.
    """
    app[SITE_CREDENTIALS] = dict(site_credentials)
    if publisher is not None:
        app[SYNC] = publisher


def _api_error(err: RecordError) -> ApiError:
    return ApiError(err.status, err.code, err.zh, err.en, field=err.field, **err.extra)


def _records(fn: Handler) -> Handler:
    """Turn a RecordError raised by the domain code into the API's JSON error."""
    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            return await fn(request)
        except RecordError as err:
            raise _api_error(err) from None
    handler.__doc__ = fn.__doc__
    return handler


# --- sites, bodies, writes --------------------------------------------------------------------


def _credentials(request: web.Request) -> Mapping[str, str]:
    return request.app.get(SITE_CREDENTIALS) or {}


def _no_site(slug: str) -> ApiError:
    return ApiError(404, "not_found", f"站点不存在：{slug}（尚未上报，也不在 "
                    "COURTYARD_SITE_CREDENTIALS 中）",
                    f"no such site: {slug} (it has not reported and is not in "
                    "COURTYARD_SITE_CREDENTIALS)", field="site")


async def _site_or_none(session: AsyncSession, request: web.Request, slug: str) -> Site | None:
    """The site; None for a configured site no edge has reported from yet (it has nothing)."""
    site = (await session.scalars(select(Site).where(Site.slug == slug))).one_or_none()
    if site is None and slug not in _credentials(request):
        raise _no_site(slug)
    return site


async def _site_for_write(session: AsyncSession, request: web.Request, slug: str) -> Site:
    """The site, created when it is configured but has not reported yet, so staff can enter
    a community's vehicles before its gateway is installed."""
    site = await _site_or_none(session, request, slug)
    if site is None:
        await session.execute(dialect_insert(session, ds.SITES).values(slug=slug, name=slug)
                              .on_conflict_do_nothing(index_elements=["slug"]))
        site = (await session.scalars(select(Site).where(Site.slug == slug))).one()
    return site


def _tz(request: web.Request, site: Site | None) -> ZoneInfo:
    default = request.app[DEFAULT_TZ]
    return zone((site.timezone if site is not None else None) or default, default)





async def _write(request: web.Request,
                 op: Callable[[AsyncSession, Site, datetime], Awaitable[T]]) -> tuple[T, int]:
    """Run an edit with the version bump in one transaction, then announce the version."""
    slug = request.match_info["site"]
    now = request.app[CLOCK].now()
    try:
        async with request.app[SESSIONS]() as session, session.begin():
            site = await _site_for_write(session, request, slug)
            version = await ds.bump_version(session, site.id, now)
            result = await op(session, site, now)
    except IntegrityError:
        # The checks above run under the version lock; this is the last line of defence.
        raise ApiError(409, "conflict", "与同时进行的另一修改冲突，请重试",
                       "conflicts with another edit made at the same time; retry",
                       field=None) from None
    publisher = request.app.get(SYNC)
    if publisher is not None:
        publisher.notify(slug, PARKING_DATASET, version)
    return result, version


def _row_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_ID:
        raise bad_param("id", f"须为不超过 {MAX_ID} 的正整数，收到 {raw[:40]!r}",
                        f"must be a positive integer up to {MAX_ID}, got {raw[:40]!r}")
    return int(raw)


def _plate_query(request: web.Request) -> str | None:
    raw = text_param(request, "plate", 32)
    if raw is None:
        return None
    plate = normalize(raw)
    if not plate:
        raise bad_param("plate", "车牌为空", "plate is empty")
    return plate


def _item(res: Resource, row: Any, tz: ZoneInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row.id, **res.entry(row)}
    if res is VISITORS:
        out |= times("start", row.start_at, tz) | times("end", row.end_at, tz)
    if out.get("plate"):
        out["plate_valid"] = parse(out["plate"]).valid
    return out | times("created_at", row.created_at, tz) | times("updated_at", row.updated_at,
                                                                   tz)


# --- the five lists ---------------------------------------------------------------------------


def _list_handler(res: Resource) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        plate = _plate_query(request)
        after = int_param(request, "after_id", 0, 0, MAX_ID)
        limit = int_param(request, "limit", LIST_DEFAULT_LIMIT, 1, LIST_MAX_LIMIT)
        async with request.app[SESSIONS]() as session:
            site = await _site_or_none(session, request, request.match_info["site"])
            found = [] if site is None else await records.rows(
                session, res, site.id, plate=plate, after_id=after, limit=limit + 1)
            version = 0 if site is None else await ds.current_version(session, site.id)
        tz = _tz(request, site)
        more = len(found) > limit
        found = found[:limit]
        return json_ok({"site": request.match_info["site"], "timezone": tz.key,
                        "version": version, res.name: [_item(res, r, tz) for r in found],
                        "next_after_id": found[-1].id if more else None})
    handler.__doc__ = f"List {res.en} rows in id order, optionally of one plate."
    return handler


def _get_handler(res: Resource) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        row_id = _row_id(request)
        async with request.app[SESSIONS]() as session:
            site = await _site_or_none(session, request, request.match_info["site"])
            if site is None:
                raise RecordError("id", f"{res.zh}不存在：{row_id}",
                                  f"no such {res.en}: {row_id}", code="not_found", status=404)
            row = await records.get(session, res, site.id, row_id)
        return json_ok(_item(res, row, _tz(request, site)))
    return _records(handler)


def _create_handler(res: Resource) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        values = res.values(await json_object(request, decimals=True))

        async def op(session: AsyncSession, site: Site, now: datetime) -> tuple[Any, Site]:
            return await records.create(session, res, site.id, values, now), site

        (row, site), version = await _write(request, op)
        return json_ok({**_item(res, row, _tz(request, site)), "version": version},
                       status=201)
    return _records(handler)


def _replace_handler(res: Resource) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        row_id = _row_id(request)
        values = res.values(await json_object(request, decimals=True))

        async def op(session: AsyncSession, site: Site, now: datetime) -> tuple[Any, Site]:
            return await records.replace(session, res, site.id, row_id, values, now), site

        (row, site), version = await _write(request, op)
        return json_ok({**_item(res, row, _tz(request, site)), "version": version})
    return _records(handler)


def _delete_handler(res: Resource) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        row_id = _row_id(request)

        async def op(session: AsyncSession, site: Site, now: datetime) -> None:
            await records.remove(session, res, site.id, row_id)

        _, version = await _write(request, op)
        return json_ok({"deleted": row_id, "version": version})
    return _records(handler)


# --- tariffs ----------------------------------------------------------------------------------


def _lot(request: web.Request) -> str:
    try:
        return records.check_lot(request.match_info["lot"], "lot")
    except RecordError as err:
        raise _api_error(err) from None


def _tariff_json(t: LotTariff, tz: ZoneInfo) -> dict[str, Any]:
    return {"lot": t.lot, "tariff": t.doc, **times("created_at", t.created_at, tz),
            **times("updated_at", t.updated_at, tz)}


async def list_tariffs(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session:
        site = await _site_or_none(session, request, request.match_info["site"])
        found = [] if site is None else await ds.tariffs(session, site.id)
        version = 0 if site is None else await ds.current_version(session, site.id)
    tz = _tz(request, site)
    return json_ok({"site": request.match_info["site"], "timezone": tz.key, "version": version,
                    "tariffs": [_tariff_json(t, tz) for t in found]})


async def _find_tariff(session: AsyncSession, site_id: int, lot: str) -> LotTariff | None:
    return (await session.scalars(select(LotTariff).where(
        LotTariff.site_id == site_id, LotTariff.lot == lot))).one_or_none()


def _no_tariff(lot: str) -> ApiError:
    return not_found("lot", "该车场的收费标准", "tariff for lot", lot)


async def get_tariff(request: web.Request) -> web.Response:
    lot = _lot(request)
    async with request.app[SESSIONS]() as session:
        site = await _site_or_none(session, request, request.match_info["site"])
        found = None if site is None else await _find_tariff(session, site.id, lot)
    if found is None:
        raise _no_tariff(lot)
    return json_ok(_tariff_json(found, _tz(request, site)))


def _tariff_error(err: TariffError) -> ApiError:
    problems = [{"field": p.path or None, "message": p.what, "fix": p.fix} for p in err.problems]
    first = err.problems[0] if err.problems else None
    zh, _, en = (first.what if first else "无效 / invalid").partition(" / ")
    where = f"{first.path}: " if first is not None and first.path else ""
    n = len(problems)
    return ApiError(400, "invalid_tariff", f"收费标准有 {n} 处错误，第一处 {where}{zh}",
                    f"the tariff has {n} problem(s), first {where}{en or zh}",
                    field=(first.path or None) if first else None, problems=problems)


async def put_tariff(request: web.Request) -> web.Response:
    """Store a lot's tariff; checked with the edge's own code, kept as ``Tariff.to_dict()``."""
    lot = _lot(request)
    body = await json_object(request, decimals=True)
    try:
        doc = tariff_from_dict(body, source=f"tariffs.{lot}").to_dict()
    except TariffError as err:
        raise _tariff_error(err) from None
    except ValueError as err:  # an invariant the positioned checks did not name
        raise ApiError(400, "invalid_tariff", f"收费标准无效：{err}",
                       f"invalid tariff: {err}", field=None) from None

    async def op(session: AsyncSession, site: Site, now: datetime) -> tuple[LotTariff, Site,
                                                                             bool]:
        row = await _find_tariff(session, site.id, lot)
        created = row is None
        if row is None:
            row = LotTariff(site_id=site.id, lot=lot, doc=doc, created_at=now, updated_at=now)
            session.add(row)
        else:
            row.doc, row.updated_at = doc, now
        await session.flush()
        return row, site, created

    (row, site, created), version = await _write(request, op)
    return json_ok({**_tariff_json(row, _tz(request, site)), "version": version},
                   status=201 if created else 200)


async def delete_tariff(request: web.Request) -> web.Response:
    lot = _lot(request)

    async def op(session: AsyncSession, site: Site, now: datetime) -> None:
        row = await _find_tariff(session, site.id, lot)
        if row is None:
            raise _no_tariff(lot)
        await session.delete(row)

    _, version = await _write(request, op)
    return json_ok({"deleted": lot, "version": version})


# --- what the edge reported: stays and charges ------------------------------------------------


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value.quantize(CENT), "f")


def _session_json(s: ParkingSession, tz: ZoneInfo) -> dict[str, Any]:
    return {"id": s.id, "session": s.session_uuid, "lot": s.lot, "plate": s.plate,
            "category": s.category, "state": s.state, **times("entry_ts", s.entry_ts, tz),
            **times("exit_ts", s.exit_ts, tz), "entry_lane": s.entry_lane,
            "exit_lane": s.exit_lane, "minutes": s.minutes, "fee": _money(s.fee),
            "paid": _money(s.paid), "anomalies": list(s.anomalies or [])}


def _charge_json(c: Charge, tz: ZoneInfo) -> dict[str, Any]:
    return {"id": c.id, "source": c.source, "session": c.source_ref, "event_id": c.event_id,
            "plate": c.plate, "amount": _money(c.amount), "paid": _money(c.paid),
            "recheck": c.recheck, **times("created_at", c.created_at, tz)}


async def list_sessions(request: web.Request) -> web.Response:
    """Stays, newest recorded first; ``since`` keeps those that entered or left since then."""
    state = text_param(request, "state", 16)
    if state is not None and state not in ("inside", "closed"):
        raise bad_param("state", "须为 inside 或 closed", "must be inside or closed")
    plate = _plate_query(request)
    since = time_param(request, "since")
    before = int_param(request, "before_id", MAX_ID, 1, MAX_ID)
    limit = int_param(request, "limit", PAGE_DEFAULT_LIMIT, 1, PAGE_MAX_LIMIT)
    async with request.app[SESSIONS]() as session:
        site = await _site_or_none(session, request, request.match_info["site"])
        found: list[ParkingSession] = []
        if site is not None:
            query = select(ParkingSession).where(ParkingSession.site_id == site.id,
                                                 ParkingSession.id < before)
            if state is not None:
                query = query.where(ParkingSession.state == state)
            if plate is not None:
                query = query.where(ParkingSession.plate == plate)
            if since is not None:
                query = query.where(or_(ParkingSession.entry_ts >= since,
                                        ParkingSession.exit_ts >= since))
            found = list((await session.scalars(
                query.order_by(ParkingSession.id.desc()).limit(limit + 1))).all())
    tz = _tz(request, site)
    more = len(found) > limit
    found = found[:limit]
    return json_ok({"site": request.match_info["site"], "timezone": tz.key,
                    "sessions": [_session_json(s, tz) for s in found],
                    "next_before_id": found[-1].id if more else None})


async def list_charges(request: web.Request) -> web.Response:
    """Charges, newest first; money as exact strings with two decimals."""
    plate = _plate_query(request)
    since = time_param(request, "since")
    before = int_param(request, "before_id", MAX_CHARGE_ID, 1, MAX_CHARGE_ID)
    limit = int_param(request, "limit", PAGE_DEFAULT_LIMIT, 1, PAGE_MAX_LIMIT)
    async with request.app[SESSIONS]() as session:
        site = await _site_or_none(session, request, request.match_info["site"])
        found: list[Charge] = []
        if site is not None:
            query = select(Charge).where(Charge.site_id == site.id, Charge.id < before)
            if plate is not None:
                query = query.where(Charge.plate == plate)
            if since is not None:
                query = query.where(Charge.created_at >= since)
            found = list((await session.scalars(
                query.order_by(Charge.id.desc()).limit(limit + 1))).all())
    tz = _tz(request, site)
    more = len(found) > limit
    found = found[:limit]
    return json_ok({"site": request.match_info["site"], "timezone": tz.key,
                    "charges": [_charge_json(c, tz) for c in found],
                    "next_before_id": found[-1].id if more else None})


# --- lanes: the last plate reads per camera, and their images ---------------------------------

_READ_FIELDS = ("plate_raw", "direction", "confidence", "colour_name", "offline", "vendor")


def _has(key: str) -> Any:
    """``data[key]`` is present and not JSON null, without sending the image to us."""
    return Event.data[key].as_string().is_not(None)


def _num(value: Any) -> float | int | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return int(f) if f.is_integer() else f


def _flag(value: Any) -> bool:
    return value in (True, 1, "true", "1")


async def _later_images(session: AsyncSession, site_id: int,
                        reads: list[tuple[int, str]]) -> dict[str, dict[str, bool]]:
    """For reads whose images came separately: {read uuid: {"evidence": bool, "crop": bool}}."""
    if not reads:
        return {}
    # One seq range per run of reads whose windows overlap: a busy lane's reads share one.
    spans: list[list[int]] = []
    for seq in sorted(seq for seq, _ in reads):
        if spans and seq <= spans[-1][1]:
            spans[-1][1] = seq + EVIDENCE_SEQ_WINDOW
        else:
            spans.append([seq, seq + EVIDENCE_SEQ_WINDOW])
    near = or_(*(and_(Event.seq > lo, Event.seq <= hi) for lo, hi in spans))
    read_ref = Event.data["read"].as_string()
    result = await session.execute(
        select(read_ref, _has(IMAGES["evidence"]), _has(IMAGES["crop"]))
        .where(Event.site_id == site_id, Event.kind == PLATE_EVIDENCE, near,
               read_ref.in_([u for _, u in reads])).order_by(Event.seq))
    out: dict[str, dict[str, bool]] = {}
    for ref, ev, crop in result.all():
        seen = out.setdefault(str(ref), {"evidence": False, "crop": False})
        seen["evidence"] |= bool(ev)
        seen["crop"] |= bool(crop)
    return out


async def _cameras(session: AsyncSession, site_id: int, wanted: list[str]) -> list[str]:
    """The site's devices that have sent ``plate.read`` (one index probe per device)."""
    has_reads = (select(Event.id).where(Event.site_id == site_id,
                                        Event.device == Device.key, PLATE_READS).exists())
    query = select(Device.key).where(Device.site_id == site_id,
                                     or_(Device.kind.is_(None), Device.kind != "meter"),
                                     has_reads)
    if wanted:
        query = query.where(Device.key.in_(wanted))
    return list((await session.scalars(query.order_by(Device.key))).all())


async def _last_reads(session: AsyncSession, site_id: int, camera: str,
                      limit: int) -> list[Any]:
    """(seq, uuid, ts, has evidence, has crop, *_READ_FIELDS), newest first; never the
    images themselves."""
    fields = [Event.data[k].as_string() for k in _READ_FIELDS]
    return list((await session.execute(
        select(Event.seq, Event.uuid, Event.ts, _has(IMAGES["evidence"]),
               _has(IMAGES["crop"]), *fields)
        .where(Event.site_id == site_id, Event.device == camera, PLATE_READS)
        .order_by(Event.seq.desc()).limit(limit))).all())


def _read_json(row: Any, later: dict[str, dict[str, bool]], base: str,
               tz: ZoneInfo) -> dict[str, Any]:
    seq, read_id, ts, evidence, crop, *values = row
    data = dict(zip(_READ_FIELDS, values, strict=True))
    sent_later = later.get(read_id, {})
    raw = data["plate_raw"]
    return {
        "seq": int(seq), "id": read_id, **times("ts", ts, tz),
        "plate": normalize(str(raw)) if raw is not None else None, "plate_raw": raw,
        "direction": data["direction"], "confidence": _num(data["confidence"]),
        "colour": data["colour_name"], "offline": _flag(data["offline"]),
        "vendor": data["vendor"],
        "evidence_url": (f"{base}/{seq}/evidence.jpg"
                         if evidence or sent_later.get("evidence") else None),
        "crop_url": f"{base}/{seq}/crop.jpg" if crop or sent_later.get("crop") else None,
    }


async def list_lanes(request: web.Request) -> web.Response:
    """Per camera, its last ``limit`` plate reads, newest first, with links to the images.

    Cameras are the site's devices that have sent ``plate.read``; each is one short backward
    scan of the partial index ``ix_events_plate_reads``, so the view costs the same after a
    year of reads as after a day.
    """
    limit = int_param(request, "limit", LANE_DEFAULT_READS, 1, LANE_MAX_READS)
    wanted = names_param(request, "camera", 128)
    slug = request.match_info["site"]
    per_camera: list[tuple[str, list[Any]]] = []
    later: dict[str, dict[str, bool]] = {}
    async with request.app[SESSIONS]() as session:
        site = await _site_or_none(session, request, slug)
        if site is not None:
            for camera in await _cameras(session, site.id, wanted):
                per_camera.append((camera, await _last_reads(session, site.id, camera, limit)))
            later = await _later_images(session, site.id, [
                (r[0], r[1]) for _, rows in per_camera for r in rows if not (r[3] and r[4])])
    tz = _tz(request, site)
    base = f"/api/sites/{quote(slug, safe='')}/parking/reads"
    return json_ok({"site": slug, "timezone": tz.key, "lanes": [
        {"camera": camera, "reads": [_read_json(r, later, base, tz) for r in rows]}
        for camera, rows in per_camera]})


def _image_handler(which: str) -> Handler:
    key = IMAGES[which]
    zh_name = {"evidence": "证据图", "crop": "车牌小图"}[which]

    async def handler(request: web.Request) -> web.StreamResponse:
        raw = request.match_info["seq"]
        if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_SEQ:
            raise bad_param("seq", f"须为正整数，收到 {raw[:40]!r}",
                            f"must be a positive integer, got {raw[:40]!r}")
        seq = int(raw)
        async with request.app[SESSIONS]() as session:
            site = await _site_or_none(session, request, request.match_info["site"])
            row = None if site is None else (await session.execute(
                select(Event.uuid, Event.data[key].as_string())
                .where(Event.site_id == site.id, Event.seq == seq, PLATE_READS))).first()
            if site is None or row is None:
                raise not_found("seq", "车牌识别记录", "plate read", raw)
            b64 = row[1]
            if b64 is None:  # sent after the gate decision, as plate.evidence
                b64 = (await session.scalars(
                    select(Event.data[key].as_string())
                    .where(Event.site_id == site.id, Event.kind == PLATE_EVIDENCE,
                           Event.seq > seq, Event.seq <= seq + EVIDENCE_SEQ_WINDOW,
                           Event.data["read"].as_string() == row[0])
                    .order_by(Event.seq).limit(1))).first()
        image = b""
        if b64:
            try:
                image = base64.b64decode(str(b64), validate=True)
            except (binascii.Error, ValueError):
                image = b""
        if not image.startswith(b"\xff\xd8"):
            raise ApiError(404, "no_image", f"这次识别没有可用的{zh_name}",
                           f"this read has no usable {which} image", field="seq")
        return web.Response(body=image, content_type="image/jpeg",
                            headers={"Cache-Control": "private, max-age=86400"})
    handler.__doc__ = f"The {which} JPEG of a plate read (from the read or its plate.evidence)."
    return handler


# --- the dataset the edge pulls ---------------------------------------------------------------


def _unauthorized(slug: str, zh: str, en: str) -> web.Response:
    resp = json_error(ApiError(401, "unauthorized", zh, en, field="authorization"))
    resp.headers["WWW-Authenticate"] = f'Basic realm="courtyard site {slug}", charset="UTF-8"'
    return resp


def _basic_credentials(header: str) -> tuple[str, str]:
    """(login, password) of an ``Authorization: Basic …`` header (RFC 7617, UTF-8)."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise ValueError("not Basic")
    login, sep, password = base64.b64decode(encoded.strip(), validate=True).decode(
        "utf-8").partition(":")
    if not sep:
        raise ValueError("no colon")
    return login, password


def _tag_matches(header: str | None, tag: str) -> bool:
    if not header:
        return False
    for part in header.split(","):
        part = part.strip()
        if part == "*" or part.removeprefix("W/") == tag:
            return True
    return False


async def parking_dataset(request: web.Request) -> web.StreamResponse:
    """The site's parking dataset for its edge: HTTP Basic (slug, site secret), ETag, 304."""
    slug = request.match_info["site"]
    secret = _credentials(request).get(slug)
    if secret is None:
        raise ApiError(403, "site_not_configured",
                       f"站点 {slug} 没有凭据：COURTYARD_SITE_CREDENTIALS 须包含它（站点:密码）",
                       f"site {slug} has no credential: COURTYARD_SITE_CREDENTIALS must name "
                       "it (site:secret)", field="site")
    header = request.headers.get("Authorization")
    if not header:
        return _unauthorized(slug, "需要站点凭据（HTTP Basic：站点标识与站点密码）",
                             "site credential required (HTTP Basic: site slug and secret)")
    try:
        login, password = _basic_credentials(header)
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return _unauthorized(slug, "Authorization 头格式错误", "malformed Authorization header")
    login_ok = hmac.compare_digest(login.encode(), slug.encode())
    secret_ok = hmac.compare_digest(password.encode(), secret.encode())
    if not (login_ok and secret_ok):
        return _unauthorized(slug, "站点标识或密码错误", "wrong site slug or secret")
    async with request.app[SESSIONS]() as session:
        site = (await session.scalars(select(Site).where(Site.slug == slug))).one_or_none()
        version = 0 if site is None else await ds.current_version(session, site.id)
        headers = {"ETag": ds.etag(version), "Cache-Control": "no-cache"}
        if _tag_matches(request.headers.get("If-None-Match"), ds.etag(version)):
            return web.Response(status=304, headers=headers)
        doc: dict[str, Any] = ({"version": 0} | {r.doc_key: [] for r in RESOURCES.values()}
                               | {"tariffs": {}}) if site is None else await ds.document(
                                   session, site.id)
    resp = web.Response(body=dumps(doc).encode(), content_type="application/json",
                        charset="utf-8",
                        headers={"ETag": ds.etag(doc["version"]), "Cache-Control": "no-cache"})
    resp.enable_compression()
    return resp


# --- routes -----------------------------------------------------------------------------------

PREFIX = "/api/sites/{site}/parking"


def add_parking_routes(app: web.Application) -> None:
    """Staff routes need parking.read / parking.write (the guard checks the ``{site}`` is
    theirs); the dataset is PUBLIC to the guard because it checks the site secret itself."""
    r = app.router
    read, write = requires("parking.read"), requires("parking.write")
    for res in RESOURCES.values():
        r.add_get(f"{PREFIX}/{res.name}", read(_list_handler(res)), name=f"parking_{res.name}")
        r.add_post(f"{PREFIX}/{res.name}", write(_create_handler(res)))
        item = f"{PREFIX}/{res.name}/{{id}}"
        r.add_get(item, read(_get_handler(res)), name=f"parking_{res.name}_item")
        r.add_put(item, write(_replace_handler(res)))
        r.add_delete(item, write(_delete_handler(res)))
    r.add_get(f"{PREFIX}/tariffs", read(list_tariffs), name="parking_tariffs")
    r.add_get(f"{PREFIX}/tariffs/{{lot}}", read(get_tariff), name="parking_tariff")
    r.add_put(f"{PREFIX}/tariffs/{{lot}}", write(put_tariff))
    r.add_delete(f"{PREFIX}/tariffs/{{lot}}", write(delete_tariff))
    r.add_get(f"{PREFIX}/sessions", read(list_sessions), name="parking_sessions")
    r.add_get(f"{PREFIX}/charges", read(list_charges), name="parking_charges")
    r.add_get(f"{PREFIX}/lanes", read(list_lanes), name="parking_lanes")
    r.add_get(f"{PREFIX}/reads/{{seq}}/evidence.jpg", read(_image_handler("evidence")),
              name="parking_read_evidence")
    r.add_get(f"{PREFIX}/reads/{{seq}}/crop.jpg", read(_image_handler("crop")),
              name="parking_read_crop")
    r.add_get(f"{PREFIX}/dataset", requires(PUBLIC)(parking_dataset), name="parking_dataset")
