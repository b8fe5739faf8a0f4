"""Alarms under ``/api/alarms``: list and filter, one alarm with its history and linkage, a
guard's actions as POSTs, and the live feed the guard board listens to (WebSocket).

Who acted is the login (``actor_of``): a body naming someone (``by``) or a role (``role``) is
refused with 400 naming the field, so a page cannot record a name its user typed. A note says
why (required for a false alarm). An action the current state does not allow is a 409 that
says the state and what is allowed from it, so a board that lost a race with another guard can
show what happened instead of a generic error. Each alarm carries its ``incident``
(``cloud.alarms.incidents``); ``cloud.alarms.incident_routes`` acts on a whole incident.

The live feed sends ``{"type": "snapshot", "alarms": [...]}`` (every active alarm) first,
then ``{"type": "alarm", "alarm": {...}}`` on every change, and ``{"type": "ping"}`` now
and then (besides WebSocket pings) so a browser can tell a quiet feed from a dead one.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp import WSCloseCode, web
from sqlalchemy import or_, select

from cloud.alarms.hub import AlarmHub, SubscriptionLost
from cloud.alarms.lifecycle import (
    MAX_BY,
    MAX_NOTE,
    AlarmNotFound,
    TransitionRefused,
    act,
)
from cloud.alarms.policy import ACTIVE_STATES, SEVERITIES, STATES, TRANSITIONS
from cloud.alarms.present import history, rows_json, with_site
from cloud.alarms.tables import Alarm
from cloud.auth.audit import actor_of, record
from cloud.auth.guard import requires
from cloud.auth.scope import ensure_visible, scoped, visible_slugs
from cloud.db.models import Site
from cloud.web.body import json_object
from cloud.web.cursor import encode_newest_first, newest_first_after, newest_first_cursor
from cloud.web.errors import ApiError, bad_param, not_found
from cloud.web.keys import CLOCK, SESSIONS
from cloud.web.live_queue import while_open
from cloud.web.params import int_param, names_param, text_param, time_param
from cloud.web.present import utc_iso
from cloud.web.respond import dumps, json_ok

log = structlog.get_logger(__name__)

LIST_DEFAULT_LIMIT = 100
LIST_MAX_LIMIT = 1000
MAX_ID = 2**31 - 1
#: WebSocket ping frames (aiohttp closes a connection that stops answering them).
WS_HEARTBEAT_S = 20.0
#: ``{"type": "ping"}`` messages, visible to browser code (ping frames are not).
WS_PING_S = 25.0
#: How long a new live connection waits for the hub to be listening before its snapshot.
WS_READY_WAIT_S = 5.0
#: Close code for a subscriber dropped for falling behind: "try again later".
WS_CLOSE_TRY_AGAIN = 1013
SNAPSHOT_LIMIT = 5000


@dataclass
class AlarmSetup:
    """The live feed's hub (given by ``configure_alarms`` or made when the app starts) and
    the open live connections, closed when the server shuts down."""

    hub: AlarmHub | None = None
    sockets: weakref.WeakSet[web.WebSocketResponse] = field(default_factory=weakref.WeakSet)


ALARMS = web.AppKey("alarms", AlarmSetup)


def configure_alarms(app: web.Application, hub: AlarmHub | None = None) -> AlarmHub:
    """Give the app its hub (made from the app's sessions and clock when not given); the app
    runs it while it is up. Returns the hub, for the escalation loop to announce through."""
    setup = app[ALARMS]
    setup.hub = hub or AlarmHub(app[SESSIONS], app[CLOCK])
    return setup.hub


async def _hub_lifetime(app: web.Application) -> AsyncIterator[None]:
    setup = app[ALARMS]
    if setup.hub is None:
        setup.hub = AlarmHub(app[SESSIONS], app[CLOCK])
    task: asyncio.Task[None] | None = None
    if not setup.hub.running:
        task = asyncio.create_task(setup.hub.run(), name="alarm-hub")
        task.add_done_callback(_log_hub_end)
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _close_live(app: web.Application) -> None:
    """Tell every board the server is going away (it reconnects to another or later)."""
    for ws in list(app[ALARMS].sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def _log_hub_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("alarm_hub.stopped", error=repr(task.exception()))


def _hub(request: web.Request) -> AlarmHub:
    hub = request.app[ALARMS].hub
    if hub is None:  # the app was never started with its cleanup context
        raise ApiError(503, "unavailable", "实时告警未启动", "the live alarm feed is not running")
    return hub


# --- reading ----------------------------------------------------------------------------------


def _choices(request: web.Request, name: str, allowed: tuple[str, ...]) -> list[str]:
    values = names_param(request, name, 32)
    for v in values:
        if v not in allowed:
            raise bad_param(name, f"未知取值 {v!r}，可选：{', '.join(allowed)}",
                            f"unknown value {v!r}; one of {', '.join(allowed)}")
    return values


@requires("alarms.read")
async def list_alarms(request: web.Request) -> web.Response:
    """Alarms newest first (by opening time), filtered by state, site, severity and since;
    ``next`` (as ``after``) asks for the next page, one query each."""
    states = _choices(request, "state", STATES)
    severities = _choices(request, "severity", SEVERITIES)
    site = text_param(request, "site", 63)
    since = time_param(request, "since")
    limit = int_param(request, "limit", LIST_DEFAULT_LIMIT, 1, LIST_MAX_LIMIT)
    after = newest_first_cursor(request)
    query = scoped(with_site(), Alarm.site_id, request)
    if after is not None:
        query = query.where(newest_first_after(Alarm.opened_at, Alarm.id, after))
    if site is not None:
        query = query.where(Site.slug == site)
    if states:
        query = query.where(Alarm.state.in_(states))
    if severities:
        query = query.where(Alarm.severity.in_(severities))
    if since is not None:
        query = query.where(or_(Alarm.last_ts >= since, Alarm.updated_at >= since))
    async with request.app[SESSIONS]() as session:
        rows = (await session.execute(
            query.order_by(Alarm.opened_at.desc(), Alarm.id.desc()).limit(limit + 1))).all()
        more = len(rows) > limit
        rows = rows[:limit]
        alarms = await rows_json(session, rows)
    last = rows[-1][0] if more else None
    return json_ok({"alarms": alarms,
                    "next": encode_newest_first(last.opened_at, last.id) if last else None})


def _alarm_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_ID:
        raise not_found("id", "告警", "alarm", raw[:40])
    return int(raw)


@requires("alarms.read")
async def get_alarm(request: web.Request) -> web.Response:
    """One alarm with its history (oldest first) and the edge's linkage reports."""
    alarm_id = _alarm_id(request)
    async with request.app[SESSIONS]() as session:
        row = (await session.execute(with_site().where(Alarm.id == alarm_id))).first()
        if row is None:
            raise not_found("id", "告警", "alarm", str(alarm_id))
        alarm, _slug, tz = row
        ensure_visible(request, alarm.site_id, "id", "告警", "alarm", alarm_id)
        steps, linkage = await history(session, alarm_id, tz)
        [shown] = await rows_json(session, [row])
    return json_ok({**shown, "history": steps, "linkage": linkage})


# --- acting -----------------------------------------------------------------------------------


#: Body fields that used to name the actor; refused now (the login is the actor).
ACTOR_FIELDS = ("by", "role")


def acting_name(request: web.Request) -> str:
    """The name an action is recorded under: the login's display name."""
    return actor_of(request).name.strip()[:MAX_BY] or actor_of(request).ref[:MAX_BY]


def check_note(body: dict[str, Any], note_required: bool) -> str | None:
    """The body's note, stripped; refused by name when wrong or missing where required."""
    note = body.get("note")
    if note is not None and not isinstance(note, str):
        raise bad_param("note", "备注必须是文本", "note must be a string")
    note = note.strip() if note else None
    if note and len(note) > MAX_NOTE:
        raise bad_param("note", f"长度不能超过 {MAX_NOTE}",
                        f"must be at most {MAX_NOTE} characters")
    if note_required and not note:
        raise bad_param("note", "标记误报须填写说明", "a note is required to mark a false alarm")
    return note


def refuse_actor_fields(body: dict[str, Any]) -> None:
    """400 naming ``by`` or ``role`` when the body names who acts."""
    named = next((f for f in ACTOR_FIELDS if f in body), None)
    if named is not None:
        raise bad_param(named, "操作人即当前登录，不能在请求中指定",
                        "who acts is the login; a request cannot name someone")


async def _action_body(request: web.Request, note_required: bool) -> tuple[str, str | None]:
    """Who acted (the login) and the note."""
    body = await json_object(request, allowed=("note", *ACTOR_FIELDS))
    refuse_actor_fields(body)
    return acting_name(request), check_note(body, note_required)


def _action_handler(action: str) -> Any:
    t = TRANSITIONS[action]

    async def handler(request: web.Request) -> web.Response:
        alarm_id = _alarm_id(request)
        by, note = await _action_body(request, t.note_required)
        async with request.app[SESSIONS]() as session:
            site_id = (await session.scalars(
                select(Alarm.site_id).where(Alarm.id == alarm_id))).one_or_none()
        if site_id is None:
            raise not_found("id", "告警", "alarm", str(alarm_id))
        ensure_visible(request, site_id, "id", "告警", "alarm", alarm_id)
        try:
            alarm = await act(request.app[SESSIONS], alarm_id, action, by, note,
                              request.app[CLOCK].now())
        except AlarmNotFound:
            raise not_found("id", "告警", "alarm", str(alarm_id)) from None
        except TransitionRefused as err:
            raise ApiError(409, "invalid_transition", err.zh, err.en, field="state",
                           state=err.state, allowed=err.allowed) from None
        async with request.app[SESSIONS]() as session, session.begin():
            record(session, at=request.app[CLOCK].now(), actor=actor_of(request),
                   action=action, entity="alarm", entity_id=alarm_id, site_id=site_id,
                   detail={"by": by, "note": note, "state": alarm.get("state")})
        return json_ok(alarm)

    handler.__doc__ = f"{t.zh} / {action}: {', '.join(t.sources)} → {t.target}"
    return handler


# --- live -------------------------------------------------------------------------------------


async def _snapshot(request: web.Request, site: str | None) -> list[dict[str, Any]]:
    query = scoped(with_site(), Alarm.site_id, request).where(Alarm.state.in_(ACTIVE_STATES))
    if site is not None:
        query = query.where(Site.slug == site)
    async with request.app[SESSIONS]() as session:
        rows = (await session.execute(
            query.order_by(Alarm.opened_at.desc(), Alarm.id.desc()).limit(SNAPSHOT_LIMIT))).all()
        return await rows_json(session, rows)


@requires("alarms.read")
async def alarms_live(request: web.Request) -> web.StreamResponse:
    """WebSocket: a snapshot of the active alarms, then every change as it commits (only of
    the sites the actor serves)."""
    site = text_param(request, "site", 63)
    hub = _hub(request)
    async with request.app[SESSIONS]() as session:
        mine = await visible_slugs(session, request)
    ws = web.WebSocketResponse(heartbeat=WS_HEARTBEAT_S)
    await ws.prepare(request)
    request.app[ALARMS].sockets.add(ws)
    if not await hub.wait_ready(WS_READY_WAIT_S):
        log.warning("alarm_live.hub_not_ready", site=site)
    bound = log.bind(site=site)
    with hub.subscribe(site) as sub:
        stamp = hub.next_stamp()
        await ws.send_str(dumps({"type": "snapshot", "alarms": await _snapshot(request, site)}))
        sub.skip_before(stamp)

        async def push() -> None:
            try:
                async for alarm in sub:
                    if mine is not None and alarm.get("site") not in mine:
                        continue
                    await ws.send_str(dumps({"type": "alarm", "alarm": alarm}))
            except SubscriptionLost:
                bound.warning("alarm_live.too_slow")
                await ws.close(code=WS_CLOSE_TRY_AGAIN, message=b"too slow, reconnect")

        async def ping() -> None:
            while True:
                await asyncio.sleep(WS_PING_S)
                await ws.send_str(dumps({"type": "ping",
                                         "ts": utc_iso(request.app[CLOCK].now())}))

        await while_open(ws, push, ping)
    return ws


def add_alarm_routes(app: web.Application) -> None:
    app[ALARMS] = AlarmSetup()
    app.cleanup_ctx.append(_hub_lifetime)
    app.on_shutdown.append(_close_live)
    r = app.router
    r.add_get("/api/alarms", list_alarms, name="alarms")
    r.add_get("/api/alarms/live", alarms_live, name="alarms_live")
    r.add_get("/api/alarms/{id}", get_alarm, name="alarm")
    for action, segment in (("acknowledge", "acknowledge"), ("start", "start"),
                            ("resolve", "resolve"), ("false_alarm", "false-alarm")):
        r.add_post(f"/api/alarms/{{id}}/{segment}", requires("alarms.act")(_action_handler(action)))
