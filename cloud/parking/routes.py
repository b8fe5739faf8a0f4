"""Parking under ``/api/sites/{site}/parking/``: the lists staff edit, tariffs, the stays and
charges the edge reported, the lanes' last plate reads with their snapshots, and the dataset
the edge pulls.

Access: ``GET …/parking/dataset`` is for the edge (HTTP Basic with the site's slug and its
site secret from ``COURTYARD_SITE_CREDENTIALS``, the credential the edge already uses for
MQTT). Every other endpoint is for staff: ``parking.read`` / ``parking.write`` and a site the
actor serves (``cloud.auth``).

Every edit runs in one transaction that first bumps the site's dataset version (which also
serialises edits of one site) and writes its audit row (the same entries ``/api/vehicles``
and ``/api/spaces`` write, with the row before and after), and only after the commit is
the new version handed to the sync publisher, which never blocks or fails the request
(``cloud.parking.sync``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import actor_of, record, snapshot
from cloud.auth.guard import PUBLIC, requires
from cloud.auth.plates import plates_masked
from cloud.auth.site_pull import install_pull_limits
from cloud.db.dialect import dialect_insert
from cloud.db.models import Site
from cloud.parking import dataset as ds
from cloud.parking import records
from cloud.parking.http import Handler, site_or_none, site_tz
from cloud.parking.lanes import _image_handler, list_lanes
from cloud.parking.pull import parking_dataset
from cloud.parking.records import RESOURCES, VISITORS, RecordError, Resource
from cloud.parking.sync import SyncPublisher
from cloud.parking.tables import PARKING_DATASET, Charge, LotTariff, ParkingSession
from cloud.web.body import json_object
from cloud.web.errors import ApiError, bad_param, not_found
from cloud.web.keys import CLOCK, SESSIONS, SITE_CREDENTIALS, SYNC
from cloud.web.params import int_param, text_param, time_param
from cloud.web.present import times
from cloud.web.respond import json_ok
from parkingrules.plates import normalize, parse
from parkingrules.tariff_yaml import TariffError, tariff_from_dict

LIST_DEFAULT_LIMIT = 1000
LIST_MAX_LIMIT = 10_000
PAGE_DEFAULT_LIMIT = 100
PAGE_MAX_LIMIT = 1000
#: Ids of the parking tables except charges are 32-bit: a larger one names nothing (and
#: PostgreSQL would refuse to compare it).
MAX_ID = 2**31 - 1
MAX_CHARGE_ID = 2**63 - 1
CENT = Decimal("0.01")

T = TypeVar("T")


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


async def _site_for_write(session: AsyncSession, request: web.Request, slug: str) -> Site:
    """The site, created when it is configured but has not reported yet, so staff can enter
    a community's vehicles before its gateway is installed."""
    site = await site_or_none(session, request, slug)
    if site is None:
        await session.execute(dialect_insert(session, ds.SITES).values(slug=slug, name=slug)
                              .on_conflict_do_nothing(index_elements=["slug"]))
        site = (await session.scalars(select(Site).where(Site.slug == slug))).one()
    return site


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
            site = await site_or_none(session, request, request.match_info["site"])
            found = [] if site is None else await records.rows(
                session, res, site.id, plate=plate, after_id=after, limit=limit + 1)
            version = 0 if site is None else await ds.current_version(session, site.id)
        tz = site_tz(request, site)
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
            site = await site_or_none(session, request, request.match_info["site"])
            if site is None:
                raise RecordError("id", f"{res.zh}不存在：{row_id}",
                                  f"no such {res.en}: {row_id}", code="not_found", status=404)
            row = await records.get(session, res, site.id, row_id)
        return json_ok(_item(res, row, site_tz(request, site)))
    return _records(handler)


def _create_handler(res: Resource) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        values = res.values(await json_object(request, decimals=True))

        async def op(session: AsyncSession, site: Site, now: datetime) -> tuple[Any, Site]:
            row = await records.create(session, res, site.id, values, now)
            record(session, at=now, actor=actor_of(request), action="create",
                   entity=res.entity, entity_id=row.id, site_id=site.id,
                   after=snapshot(row, res.audited))
            return row, site

        (row, site), version = await _write(request, op)
        return json_ok({**_item(res, row, site_tz(request, site)), "version": version},
                       status=201)
    return _records(handler)


def _replace_handler(res: Resource) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        row_id = _row_id(request)
        values = res.values(await json_object(request, decimals=True))

        async def op(session: AsyncSession, site: Site, now: datetime) -> tuple[Any, Site]:
            before = snapshot(await records.get(session, res, site.id, row_id), res.audited)
            row = await records.replace(session, res, site.id, row_id, values, now)
            after = snapshot(row, res.audited)
            if before != after:
                record(session, at=now, actor=actor_of(request), action="update",
                       entity=res.entity, entity_id=row.id, site_id=site.id, before=before,
                       after=after)
            return row, site

        (row, site), version = await _write(request, op)
        return json_ok({**_item(res, row, site_tz(request, site)), "version": version})
    return _records(handler)


def _delete_handler(res: Resource) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        row_id = _row_id(request)

        async def op(session: AsyncSession, site: Site, now: datetime) -> None:
            before = snapshot(await records.get(session, res, site.id, row_id), res.audited)
            await records.remove(session, res, site.id, row_id)
            record(session, at=now, actor=actor_of(request), action="delete",
                   entity=res.entity, entity_id=row_id, site_id=site.id, before=before)

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
        site = await site_or_none(session, request, request.match_info["site"])
        found = [] if site is None else await ds.tariffs(session, site.id)
        version = 0 if site is None else await ds.current_version(session, site.id)
    tz = site_tz(request, site)
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
        site = await site_or_none(session, request, request.match_info["site"])
        found = None if site is None else await _find_tariff(session, site.id, lot)
    if found is None:
        raise _no_tariff(lot)
    return json_ok(_tariff_json(found, site_tz(request, site)))


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
        before = None if row is None else {"doc": row.doc}
        if row is None:
            row = LotTariff(site_id=site.id, lot=lot, doc=doc, created_at=now, updated_at=now)
            session.add(row)
        else:
            row.doc, row.updated_at = doc, now
        await session.flush()
        if before != {"doc": doc}:
            record(session, at=now, actor=actor_of(request),
                   action="create" if created else "update", entity="parking_tariff",
                   entity_id=lot, site_id=site.id, before=before, after={"doc": doc})
        return row, site, created

    (row, site, created), version = await _write(request, op)
    return json_ok({**_tariff_json(row, site_tz(request, site)), "version": version},
                   status=201 if created else 200)


async def delete_tariff(request: web.Request) -> web.Response:
    lot = _lot(request)

    async def op(session: AsyncSession, site: Site, now: datetime) -> None:
        row = await _find_tariff(session, site.id, lot)
        if row is None:
            raise _no_tariff(lot)
        record(session, at=now, actor=actor_of(request), action="delete",
               entity="parking_tariff", entity_id=lot, site_id=site.id,
               before={"doc": row.doc})
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
        site = await site_or_none(session, request, request.match_info["site"])
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
    tz = site_tz(request, site)
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
        site = await site_or_none(session, request, request.match_info["site"])
        found: list[Charge] = []
        if site is not None:
            query = select(Charge).where(Charge.site_id == site.id, Charge.id < before)
            if plate is not None:
                query = query.where(Charge.plate == plate)
            if since is not None:
                query = query.where(Charge.created_at >= since)
            found = list((await session.scalars(
                query.order_by(Charge.id.desc()).limit(limit + 1))).all())
    tz = site_tz(request, site)
    more = len(found) > limit
    found = found[:limit]
    return json_ok({"site": request.match_info["site"], "timezone": tz.key,
                    "charges": [_charge_json(c, tz) for c in found],
                    "next_before_id": found[-1].id if more else None})


# --- routes -----------------------------------------------------------------------------------

PREFIX = "/api/sites/{site}/parking"


def add_parking_routes(app: web.Application) -> None:
    """Staff routes need parking.read / parking.write (the guard checks the ``{site}`` is
    theirs); the dataset is PUBLIC to the guard because it checks the site secret itself."""
    install_pull_limits(app)
    r = app.router
    write = requires("parking.write")

    def read(handler: Handler) -> Handler:  # plates in full for plates.read only
        return requires("parking.read")(plates_masked(handler))

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
