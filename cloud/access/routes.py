"""Access credentials under ``/api/sites/{site}/access/``: cards issued to residents and staff,
their revocation, time profiles, and the dataset the edge pulls (``cloud.access.pull``).

Staff routes need ``records.read`` (lists) or ``records.write`` (issue, revoke, profiles) and
a site the login serves. Every write runs in one transaction that first bumps the site's
``access`` version and writes its audit row; only after the commit is the version handed to
the sync publisher (``down/sync``), which never blocks or fails the request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.access import service as svc
from cloud.access.holders import describe
from cloud.access.passes import live_pass
from cloud.access.pull import access_dataset
from cloud.access.tables import ACCESS_DATASET, AccessCard, AccessProfile
from cloud.auth.audit import actor_of, record, snapshot
from cloud.auth.guard import PUBLIC, requires
from cloud.auth.site_pull import install_pull_limits
from cloud.db.models import Site
from cloud.parking.dataset import bump_version, current_version
from cloud.records.tables import Resident
from cloud.web.body import json_object, text_field
from cloud.web.errors import ApiError, bad_param, not_found
from cloud.web.keys import CLOCK, SESSIONS, SYNC
from cloud.web.params import text_param
from cloud.web.present import site_zone, times
from cloud.web.queries import site_by_slug
from cloud.web.respond import json_ok

T = TypeVar("T")
PREFIX = "/api/sites/{site}/access"
CARD_FIELDS = ("number", "resident_id", "staff_name", "doors", "groups", "profile",
               "valid_from", "valid_to")
AUDITED = ("number", "holder", "doors", "groups", "profile", "valid_from", "valid_to",
           "state", "revoked_reason")
MAX_ID = 2**31 - 1


def api_error(err: svc.Invalid) -> ApiError:
    return ApiError(err.status, err.code, err.zh, err.en, field=err.field)


async def versioned_write(request: web.Request,
                 op: Callable[[AsyncSession, Site, datetime], Awaitable[T]]) -> tuple[T, int]:
    """An edit with the version bump in one transaction, then the ``down/sync`` notice."""
    slug = request.match_info["site"]
    now = request.app[CLOCK].now()
    try:
        async with request.app[SESSIONS]() as session, session.begin():
            site = await site_by_slug(session, slug)
            version = await bump_version(session, site.id, now, ACCESS_DATASET)
            result = await op(session, site, now)
    except svc.Invalid as err:
        raise api_error(err) from None
    publisher = request.app.get(SYNC)
    if publisher is not None:
        publisher.notify(slug, ACCESS_DATASET, version)
    return result, version


def card_json(c: AccessCard, tz: ZoneInfo) -> dict[str, Any]:
    return {"id": c.id, "number": str(c.number), "holder": c.holder,
            "resident_id": c.resident_id, "doors": list(c.doors),
            "groups": list(c.groups or []), "profile": c.profile,
            "state": c.state, "revoked_reason": c.revoked_reason,
            **times("valid_from", c.valid_from, tz), **times("valid_to", c.valid_to, tz),
            **times("revoked_at", c.revoked_at, tz), **times("created_at", c.created_at, tz)}


async def _holder(session: AsyncSession, site: Site, body: dict[str, Any]
                  ) -> tuple[str, int | None]:
    """``resident-<id>`` (a current resident of the site) or ``staff:<name>``; exactly one."""
    rid, staff = body.get("resident_id"), text_field(body, "staff_name", 64, required=False)
    if (rid is None) == (staff is None):
        raise svc.Invalid("resident_id", "须给出住户（resident_id）或员工姓名（staff_name）之一",
                          "give exactly one of resident_id or staff_name")
    if staff is not None:
        return f"staff:{staff}", None
    if not isinstance(rid, int) or isinstance(rid, bool) or not 0 < rid <= MAX_ID:
        raise svc.Invalid("resident_id", "须为住户编号", "must be a resident id")
    resident = await session.get(Resident, rid)
    if resident is None or resident.site_id != site.id:
        raise svc.Invalid("resident_id", f"本小区没有住户 {rid}", f"no resident {rid} at this site",
                          status=404, code="not_found")
    if resident.move_out is not None:
        raise svc.Invalid("resident_id", "该住户已迁出，不能发卡",
                          "this resident has moved out: no card can be issued")
    return f"resident-{rid}", rid


@requires("records.write")
async def issue_card(request: web.Request) -> web.Response:
    """Issue a card to a resident or a staff member; 409 when the number is in use (an active
    card, or the code of a live visitor pass: the readers send both as one card number)."""
    body = await json_object(request, allowed=CARD_FIELDS)
    if "number" not in body:
        raise bad_param("number", "缺少卡号", "the card number is required")
    try:
        number = svc.card_number(body["number"])
    except svc.Invalid as err:
        raise api_error(err) from None

    async def op(session: AsyncSession, site: Site, now: datetime) -> tuple[AccessCard, Site]:
        tz = site_zone(request, site.timezone)
        holder, rid = await _holder(session, site, body)
        groups = svc.group_names(body.get("groups", []))
        # Doors, groups or both: a card with groups may have no doors of its own.
        door_list = (svc.doors(body.get("doors")) if body.get("doors") or not groups
                     else [])
        await svc.known_groups(session, site.id, groups)
        profile = body.get("profile")
        if profile is not None:
            svc.profile_name(profile)
            if await svc.profile(session, site.id, profile) is None:
                raise svc.Invalid("profile", f"没有时段 {profile}", f"no time profile {profile!r}")
        start = svc.instant(body.get("valid_from"), "valid_from", tz)
        end = svc.instant(body.get("valid_to"), "valid_to", tz, end_of_day=True)
        if start is not None and end is not None and end <= start:
            raise svc.Invalid("valid_to", "有效期止须晚于起", "must be after valid_from")
        if await svc.active_card(session, site.id, number) is not None:
            raise svc.Invalid("number", f"卡号 {number} 已发给他人，须先注销",
                              f"card {number} is already issued; revoke it first",
                              status=409, code="conflict")
        if await live_pass(session, site.id, str(number), now) is not None:
            raise svc.Invalid("number", f"卡号 {number} 与一张有效访客通行证的数字码相同，"
                              "门口无法区分，请换一个卡号（或待通行证到期、作废后再发）",
                              f"card {number} equals the code of a live visitor pass and the "
                              "doors could not tell them apart: use another number (or wait "
                              "until the pass ends or is revoked)", status=409, code="conflict")
        card = AccessCard(site_id=site.id, number=number, holder=holder, resident_id=rid,
                          doors=door_list, groups=groups or None, profile=profile,
                          valid_from=start, valid_to=end,
                          state="active", created_at=now)
        session.add(card)
        await session.flush()
        record(session, at=now, actor=actor_of(request), action="create", entity="access_card",
               entity_id=card.id, site_id=site.id, after=snapshot(card, AUDITED))
        return card, site

    (card, site), version = await versioned_write(request, op)
    return json_ok({**card_json(card, site_zone(request, site.timezone)), "version": version},
                   status=201)


def _card_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_ID:
        raise not_found("id", "门禁卡", "card", raw[:40])
    return int(raw)


@requires("records.write")
async def revoke_card(request: web.Request) -> web.Response:
    """Revoke a card (``reason`` required): it leaves the dataset and goes on ``blocked``."""
    card_id = _card_id(request)
    body = await json_object(request, allowed=("reason",))
    reason = text_field(body, "reason", 200) or ""

    async def op(session: AsyncSession, site: Site, now: datetime) -> tuple[AccessCard, Site]:
        card = await session.get(AccessCard, card_id)
        if card is None or card.site_id != site.id:
            raise svc.Invalid("id", f"门禁卡不存在：{card_id}", f"no such card: {card_id}",
                              status=404, code="not_found")
        if card.state != "active":
            raise svc.Invalid("id", "该卡已注销", "this card is already revoked", status=409,
                              code="conflict")
        before = snapshot(card, AUDITED)
        card.state, card.revoked_reason, card.revoked_at = "revoked", reason, now
        record(session, at=now, actor=actor_of(request), action="revoke", entity="access_card",
               entity_id=card.id, site_id=site.id, before=before,
               after=snapshot(card, AUDITED))
        return card, site

    (card, site), version = await versioned_write(request, op)
    return json_ok({**card_json(card, site_zone(request, site.timezone)), "version": version})


@requires("records.read")
async def list_cards(request: web.Request) -> web.Response:
    """The site's cards, newest first (``?state=active|revoked``, ``?holder=``), each with its
    holder in words (``holder_name``: masked without ``people.read``, cloud.access.holders)."""
    state = text_param(request, "state", 16)
    if state is not None and state not in ("active", "revoked"):
        raise bad_param("state", "须为 active 或 revoked", "must be active or revoked")
    holder = text_param(request, "holder", 128)
    async with request.app[SESSIONS]() as session, session.begin():
        site = await site_by_slug(session, request.match_info["site"])
        query = select(AccessCard).where(AccessCard.site_id == site.id)
        if state is not None:
            query = query.where(AccessCard.state == state)
        if holder is not None:
            query = query.where(AccessCard.holder == holder)
        rows = (await session.scalars(query.order_by(AccessCard.id.desc()).limit(1000))).all()
        version = await current_version(session, site.id, ACCESS_DATASET)
        who = await describe(session, actor_of(request), site, (c.holder for c in rows),
                             now=request.app[CLOCK].now(), reason=f"GET {request.path}")
    tz = site_zone(request, site.timezone)
    return json_ok({"site": site.slug, "version": version,
                    "cards": [{**card_json(c, tz), "holder_kind": who[c.holder]["kind"],
                               "holder_name": who[c.holder]["name"],
                               "unit": who[c.holder]["unit"]} for c in rows]})


def _profile_json(p: AccessProfile | None, name: str) -> dict[str, Any]:
    return {"name": name, "windows": list(p.windows) if p is not None else []}


@requires("records.read")
async def list_profiles(request: web.Request) -> web.Response:
    """The site's time profiles by name, with the dataset version."""
    async with request.app[SESSIONS]() as session, session.begin():
        site = await site_by_slug(session, request.match_info["site"])
        rows = (await session.scalars(select(AccessProfile).where(
            AccessProfile.site_id == site.id).order_by(AccessProfile.name))).all()
        version = await current_version(session, site.id, ACCESS_DATASET)
    return json_ok({"site": site.slug, "version": version,
                    "profiles": [_profile_json(p, p.name) for p in rows]})


@requires("records.read")
async def get_profile(request: web.Request) -> web.Response:
    try:
        name = svc.profile_name(request.match_info["name"], "name")
    except svc.Invalid as err:
        raise api_error(err) from None
    async with request.app[SESSIONS]() as session:
        site = await site_by_slug(session, request.match_info["site"])
        found = await svc.profile(session, site.id, name)
    if found is None:
        raise not_found("name", "时段", "time profile", name)
    return json_ok(_profile_json(found, name))


@requires("records.write")
async def put_profile(request: web.Request) -> web.Response:
    """Create or replace a time profile; overlapping windows are refused by index."""
    try:
        name = svc.profile_name(request.match_info["name"], "name")
        body = await json_object(request, allowed=("windows",))
        windows = svc.windows(body.get("windows"))
    except svc.Invalid as err:
        raise api_error(err) from None

    async def op(session: AsyncSession, site: Site, now: datetime) -> AccessProfile:
        found = await svc.profile(session, site.id, name)
        before = {"windows": list(found.windows)} if found is not None else None
        if found is None:
            found = AccessProfile(site_id=site.id, name=name, windows=list(windows),
                                  updated_at=now)
            session.add(found)
            await session.flush()
        else:
            found.windows, found.updated_at = list(windows), now
        record(session, at=now, actor=actor_of(request),
               action="create" if before is None else "update", entity="access_profile",
               entity_id=found.id, site_id=site.id, before=before,
               after={"windows": list(windows)})
        return found

    found, version = await versioned_write(request, op)
    return json_ok({**_profile_json(found, name), "version": version})


def add_access_routes(app: web.Application) -> None:
    install_pull_limits(app)
    r = app.router
    r.add_get(f"{PREFIX}/cards", list_cards, name="access_cards")
    r.add_post(f"{PREFIX}/cards", issue_card)
    r.add_post(f"{PREFIX}/cards/{{id}}/revoke", revoke_card, name="access_card_revoke")
    r.add_get(f"{PREFIX}/profiles", list_profiles, name="access_profiles")
    r.add_get(f"{PREFIX}/profiles/{{name}}", get_profile, name="access_profile")
    r.add_put(f"{PREFIX}/profiles/{{name}}", put_profile)
    r.add_get(f"{PREFIX}/dataset", requires(PUBLIC)(access_dataset), name="access_dataset")
