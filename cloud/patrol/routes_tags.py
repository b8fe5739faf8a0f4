"""Guards' tags under ``/api/sites/{site}/patrol/tags``: issue a tag to a guard, hand it over
to another, retire it, and read who held it when (``patrol_tag_history``).

A tag is named in any form ``contract.patrol.tag_key`` reads and stored by its canonical key,
so the edge, the receivers and staff all mean the same tag. One active tag per key and site:
the check runs under the ``patrol`` version lock. A handover closes the holder's history row
and opens the next one in the same transaction, so the history never has a gap or overlap.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import actor_of, record, snapshot
from cloud.auth.guard import requires
from cloud.db.models import Site
from cloud.parking.dataset import current_version
from cloud.patrol import service as svc
from cloud.patrol import validate as v
from cloud.patrol.tables import PATROL_DATASET, PatrolTag, PatrolTagHistory
from cloud.patrol.write import PREFIX, api_error, versioned_write
from cloud.web.body import json_object
from cloud.web.errors import bad_param, not_found
from cloud.web.keys import SESSIONS
from cloud.web.params import text_param
from cloud.web.present import site_zone, times
from cloud.web.queries import site_by_slug
from cloud.web.respond import json_ok
from contract.patrol import tag_key

AUDITED = ("tag", "label", "guard", "retired_at")
MAX_ID = 2**31 - 1


def tag_json(t: PatrolTag, tz: Any) -> dict[str, Any]:
    return {"id": t.id, "tag": t.tag, "label": t.label, "guard": t.guard,
            "state": "active" if t.retired_at is None else "retired",
            **times("issued_at", t.issued_at, tz), **times("retired_at", t.retired_at, tz)}


def history_json(h: PatrolTagHistory, tz: Any) -> dict[str, Any]:
    return {"guard": h.guard, "by": h.by, "note": h.note,
            **times("from", h.from_at, tz), **times("to", h.to_at, tz)}


def _tag_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_ID:
        raise not_found("id", "巡更标签", "tag", raw[:40])
    return int(raw)


async def _own_tag(session: AsyncSession, site: Site, tag_id: int,
                   active: bool = False) -> PatrolTag:
    tag = await session.get(PatrolTag, tag_id)
    if tag is None or tag.site_id != site.id:
        raise v.Invalid("id", f"巡更标签不存在：{tag_id}", f"no such tag: {tag_id}",
                        status=404, code="not_found")
    if active and tag.retired_at is not None:
        raise v.Invalid("id", "该标签已停用", "this tag is retired", status=409, code="conflict")
    return tag


async def _close_history(session: AsyncSession, tag_id: int, now: datetime) -> None:
    for row in (await session.scalars(select(PatrolTagHistory).where(
            PatrolTagHistory.tag_id == tag_id, PatrolTagHistory.to_at.is_(None)))).all():
        row.to_at = now


@requires("patrol.read")
async def list_tags(request: web.Request) -> web.Response:
    """The site's tags, newest first (``?state=active|retired``)."""
    state = text_param(request, "state", 16)
    if state is not None and state not in ("active", "retired"):
        raise bad_param("state", "须为 active 或 retired", "must be active or retired")
    async with request.app[SESSIONS]() as session, session.begin():
        site = await site_by_slug(session, request.match_info["site"])
        query = select(PatrolTag).where(PatrolTag.site_id == site.id)
        if state == "active":
            query = query.where(PatrolTag.retired_at.is_(None))
        elif state == "retired":
            query = query.where(PatrolTag.retired_at.is_not(None))
        rows = (await session.scalars(query.order_by(PatrolTag.id.desc()).limit(1000))).all()
        version = await current_version(session, site.id, PATROL_DATASET)
    tz = site_zone(request, site.timezone)
    return json_ok({"site": site.slug, "version": version,
                    "tags": [tag_json(t, tz) for t in rows]})


@requires("patrol.write")
async def list_guards(request: web.Request) -> web.Response:
    """Who may be issued a tag here (the tag form offers them): login, name and role."""
    async with request.app[SESSIONS]() as session, session.begin():
        site = await site_by_slug(session, request.match_info["site"])
        guards = await svc.site_guards(session, site.id)
    return json_ok({"site": site.slug, "guards": [
        {"login": u.username, "name": u.display_name, "role": u.role} for u in guards]})


@requires("patrol.write")
async def issue_tag(request: web.Request) -> web.Response:
    """Issue a tag to a guard (``tag``, ``guard`` login, optional ``label``); 409 when the
    tag is already issued (hand it over instead)."""
    body = await json_object(request, allowed=("tag", "guard", "label", "note"))
    try:
        if not isinstance(body.get("tag"), str):
            raise v.Invalid("tag", "须为标签编号（iBeacon 或 Eddystone）",
                            "must be a tag id (iBeacon or Eddystone)")
        try:
            key = tag_key(body["tag"])
        except ValueError as err:
            raise v.Invalid("tag", "无法识别的标签编号：iBeacon 为 UUID major minor，"
                            "Eddystone 为 20 位命名空间与 12 位实例（十六进制）",
                            str(err)) from None
        label = v.text(body, "label", 64)
        note = v.text(body, "note", 200) or None
    except v.Invalid as err:
        raise api_error(err) from None

    async def op(session: AsyncSession, site: Site, now: datetime) -> tuple[PatrolTag, Site]:
        guard = await svc.guard_login(session, site.id, body.get("guard"))
        if await svc.active_tag(session, site.id, key) is not None:
            raise v.Invalid("tag", "该标签已发放，请改用交接", "this tag is already issued: "
                            "hand it over instead", status=409, code="conflict")
        tag = PatrolTag(site_id=site.id, tag=key, label=label, guard=guard, issued_at=now)
        session.add(tag)
        await session.flush()
        session.add(PatrolTagHistory(tag_id=tag.id, guard=guard, from_at=now,
                                     by=actor_of(request).name[:128], note=note))
        record(session, at=now, actor=actor_of(request), action="create", entity="patrol_tag",
               entity_id=tag.id, site_id=site.id, after=snapshot(tag, AUDITED))
        return tag, site

    (tag, site), version = await versioned_write(request, op)
    return json_ok({**tag_json(tag, site_zone(request, site.timezone)), "version": version},
                   status=201)


TagChange = Callable[[AsyncSession, Site, PatrolTag, datetime], Awaitable[None]]


async def _note_body(request: web.Request, allowed: tuple[str, ...]
                     ) -> tuple[dict[str, Any], str | None]:
    body = await json_object(request, allowed=allowed)
    try:
        return body, v.text(body, "note", 200) or None
    except v.Invalid as err:
        raise api_error(err) from None


async def _change_tag(request: web.Request, tag_id: int, action: str, note: str | None,
                      step: TagChange) -> web.Response:
    """What a handover and a retirement share: an active tag of this site, its open history
    row closed now, ``step`` applied (its ``v.Invalid`` rolls the whole write back),
    audited with the note, the version bumped."""

    async def op(session: AsyncSession, site: Site, now: datetime) -> tuple[PatrolTag, Site]:
        tag = await _own_tag(session, site, tag_id, active=True)
        before = snapshot(tag, AUDITED)
        await _close_history(session, tag.id, now)
        await step(session, site, tag, now)
        record(session, at=now, actor=actor_of(request), action=action,
               entity="patrol_tag", entity_id=tag.id, site_id=site.id, before=before,
               after=snapshot(tag, AUDITED), detail={"note": note})
        return tag, site

    (tag, site), version = await versioned_write(request, op)
    return json_ok({**tag_json(tag, site_zone(request, site.timezone)), "version": version})


@requires("patrol.write")
async def handover(request: web.Request) -> web.Response:
    """The tag passes to another guard (``guard``, optional ``note``): the history row of the
    one who had it ends now and the next begins."""
    tag_id = _tag_id(request)
    body, note = await _note_body(request, ("guard", "note"))

    async def to_guard(session: AsyncSession, site: Site, tag: PatrolTag,
                       now: datetime) -> None:
        guard = await svc.guard_login(session, site.id, body.get("guard"))
        if guard == tag.guard:
            raise v.Invalid("guard", "标签已在该保安手中", "the guard already holds this tag")
        tag.guard = guard
        session.add(PatrolTagHistory(tag_id=tag.id, guard=guard, from_at=now,
                                     by=actor_of(request).name[:128], note=note))

    return await _change_tag(request, tag_id, "handover", note, to_guard)


@requires("patrol.write")
async def retire(request: web.Request) -> web.Response:
    """Retire a tag (lost, broken): it leaves the dataset; its key may be issued again."""
    tag_id = _tag_id(request)
    _, note = await _note_body(request, ("note",))

    async def retired(session: AsyncSession, site: Site, tag: PatrolTag,
                      now: datetime) -> None:
        tag.retired_at = now

    return await _change_tag(request, tag_id, "retire", note, retired)


@requires("patrol.read")
async def tag_history(request: web.Request) -> web.Response:
    """Who held the tag, oldest first (``to`` null: holds it now)."""
    tag_id = _tag_id(request)
    async with request.app[SESSIONS]() as session, session.begin():
        site = await site_by_slug(session, request.match_info["site"])
        try:
            tag = await _own_tag(session, site, tag_id)
        except v.Invalid as err:
            raise api_error(err) from None
        rows = (await session.scalars(select(PatrolTagHistory).where(
            PatrolTagHistory.tag_id == tag.id).order_by(PatrolTagHistory.id))).all()
    tz = site_zone(request, site.timezone)
    return json_ok({**tag_json(tag, tz), "history": [history_json(h, tz) for h in rows]})


def add_tag_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{PREFIX}/tags", list_tags, name="patrol_tags")
    r.add_post(f"{PREFIX}/tags", issue_tag)
    r.add_get(f"{PREFIX}/guards", list_guards, name="patrol_guards")
    r.add_post(f"{PREFIX}/tags/{{id}}/handover", handover, name="patrol_tag_handover")
    r.add_get(f"{PREFIX}/tags/{{id}}/history", tag_history, name="patrol_tag_history")
    r.add_post(f"{PREFIX}/tags/{{id}}/retire", retire, name="patrol_tag_retire")
