"""What happened at the doors, read from the events table: ``/api/sites/{site}/access/log``
(cards and passes granted or denied) and ``/api/sites/{site}/access/doors`` (each door's last
state, the last person through and its open alarms). Both need ``devices.read``.

The log pages by event id, newest first (``before_id``; no ``count(*)``: a busy site has
millions of swipes). Times are UTC with the site's time beside them. A holder is shown as the
resident's name to a role with ``people.read`` (audited) and masked to others
(``cloud.access.holders``); a denial's reason is the stored code the label table names.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from cloud.access.holders import describe, is_holder_id, residents_named
from cloud.alarms.tables import Alarm
from cloud.auth.audit import actor_of
from cloud.auth.guard import requires
from cloud.db.models import Event
from cloud.records.mask import shows_people
from cloud.web.errors import bad_param
from cloud.web.keys import CLOCK, DEFAULT_TZ, SESSIONS
from cloud.web.params import int_param, text_param, time_param
from cloud.web.present import times, zone
from cloud.web.queries import site_by_slug
from cloud.web.respond import json_ok
from contract.kinds import Kind

PREFIX = "/api/sites/{site}/access"
RESULTS = {"granted": str(Kind.ACCESS_GRANTED), "denied": str(Kind.ACCESS_DENIED)}
#: A door's own events, by the state each leaves it in.
DOOR_STATES = {str(Kind.DOOR_OPENED): "opened", str(Kind.DOOR_CLOSED): "closed",
               str(Kind.DOOR_FORCED): "forced", str(Kind.DOOR_HELD_OPEN): "held_open"}
MODE_CHANGED = str(Kind.DOOR_MODE_CHANGED)
#: The alarms a door itself raises (``cloud.alarms.policy``).
DOOR_ALARMS = (str(Kind.DOOR_FORCED), str(Kind.DOOR_HELD_OPEN))
ACTIVE_ALARM_STATES = ("open", "acknowledged", "in_progress")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_EVENT_ID = 2**63 - 1
#: The doors list is for a guard-room screen: a site with more doors than this is cut.
MAX_DOORS = 500


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def _door() -> Any:
    return Event.data["door"].as_string()


async def _holder_filter(request: web.Request, session: Any, site: Any) -> list[str] | None:
    """``holder``: a holder id, or (for a role with ``people.read``) a resident's full name."""
    raw = text_param(request, "holder", 128)
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if is_holder_id(text):
        return [text]
    if not shows_people(actor_of(request)):
        raise bad_param("holder", "须为持卡人编号（如 resident-12、staff:张三、visitor-3）",
                        "must be a holder id (resident-12, staff:name, visitor-3)")
    return await residents_named(session, site, text)


def _entry(ev: Event, tz: Any, who: dict[str, dict[str, Any]]) -> dict[str, Any]:
    data = ev.data if isinstance(ev.data, dict) else {}
    holder = _text(data, "holder")
    person = who.get(holder or "", {"kind": None, "name": None, "unit": None})
    granted = ev.kind == RESULTS["granted"]
    return {"id": int(ev.id), "result": "granted" if granted else "denied",
            **times("ts", ev.ts, tz), "door": _text(data, "door"),
            "reader": _text(data, "reader"), "credential": _text(data, "credential"),
            "method": _text(data, "method"), "direction": _text(data, "direction"),
            "holder": holder, "holder_kind": person["kind"], "holder_name": person["name"],
            "unit": person["unit"], "reason": None if granted else _text(data, "reason"),
            "device": ev.device}


@requires("devices.read")
async def access_log(request: web.Request) -> web.Response:
    """Granted and denied entries, newest first; ``next_before_id`` asks for the next page."""
    door = text_param(request, "door", 64)
    result = text_param(request, "result", 16)
    if result is not None and result not in RESULTS:
        raise bad_param("result", "须为 granted（放行）或 denied（拒绝）",
                        "must be granted or denied")
    start, end = time_param(request, "from"), time_param(request, "to")
    if start is not None and end is not None and end <= start:
        raise bad_param("to", "结束时间须晚于开始时间", "must be after from")
    before = int_param(request, "before_id", MAX_EVENT_ID, 1, MAX_EVENT_ID)
    limit = int_param(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    default_tz = request.app[DEFAULT_TZ]
    actor = actor_of(request)
    async with request.app[SESSIONS]() as session, session.begin():
        site = await site_by_slug(session, request.match_info["site"])
        holders = await _holder_filter(request, session, site)
        kinds = [RESULTS[result]] if result is not None else list(RESULTS.values())
        query = select(Event).where(Event.site_id == site.id, Event.kind.in_(kinds),
                                    Event.id < before)
        if door is not None and door.strip():
            query = query.where(_door() == door.strip())
        if holders is not None:
            query = query.where(Event.data["holder"].as_string().in_(holders or [""]))
        if start is not None:
            query = query.where(Event.ts >= start)
        if end is not None:
            query = query.where(Event.ts < end)
        rows = list((await session.scalars(
            query.order_by(Event.id.desc()).limit(limit + 1))).all())
        more = len(rows) > limit
        rows = rows[:limit]
        who = await describe(session, actor, site,
                             (_text(e.data, "holder") for e in rows if isinstance(e.data, dict)),
                             now=request.app[CLOCK].now(), reason=f"GET {request.path}")
    tz = zone(site.timezone or default_tz, default_tz)
    return json_ok({"site": site.slug, "timezone": tz.key,
                    "entries": [_entry(e, tz, who) for e in rows],
                    "next_before_id": int(rows[-1].id) if more and rows else None})


async def _latest(session: Any, site_id: int, kinds: list[str]) -> dict[str, Event]:
    """door → its newest event of ``kinds`` (one grouped query, then the rows by id)."""
    door = _door()
    ids = (await session.execute(
        select(door, func.max(Event.id)).where(
            Event.site_id == site_id, Event.kind.in_(kinds), door.is_not(None))
        .group_by(door).limit(MAX_DOORS))).all()
    if not ids:
        return {}
    rows = (await session.scalars(select(Event).where(
        Event.id.in_([i for _, i in ids])))).all()
    return {str(e.data.get("door")): e for e in rows if isinstance(e.data, dict)}


@requires("devices.read")
async def access_doors(request: web.Request) -> web.Response:
    """Every door the site's events name: its last state, its control mode when the edge
    reported one (normally open by schedule, after a first card or by a guard), the last person
    through it (masked for every role: the guard-room screen polls this; the log names people)
    and how many of its alarms are still open (forced or held open)."""
    default_tz = request.app[DEFAULT_TZ]
    actor = actor_of(request)
    async with request.app[SESSIONS]() as session, session.begin():
        site = await site_by_slug(session, request.match_info["site"])
        states = await _latest(session, site.id, list(DOOR_STATES))
        through = await _latest(session, site.id, [RESULTS["granted"]])
        modes = await _latest(session, site.id, [MODE_CHANGED])
        alarms = (await session.scalars(select(Alarm).where(
            Alarm.site_id == site.id, Alarm.kind.in_(DOOR_ALARMS),
            Alarm.state.in_(ACTIVE_ALARM_STATES)))).all()
        open_alarms: dict[str, int] = {}
        for a in alarms:
            key = (a.evidence or {}).get("door") if isinstance(a.evidence, dict) else None
            if isinstance(key, str):
                open_alarms[key] = open_alarms.get(key, 0) + 1
        who = await describe(session, actor, site,
                             (_text(e.data, "holder") for e in through.values()),
                             now=request.app[CLOCK].now(), reason=f"GET {request.path}",
                             reveal=False)
    tz = zone(site.timezone or default_tz, default_tz)
    doors = []
    for key in sorted(set(states) | set(through) | set(modes) | set(open_alarms))[:MAX_DOORS]:
        state_ev, last = states.get(key), through.get(key)
        shown = state_ev or last
        data = shown.data if shown is not None and isinstance(shown.data, dict) else {}
        person = None
        if last is not None:
            holder = _text(last.data, "holder")
            found = who.get(holder or "", {"kind": None, "name": None, "unit": None})
            person = {"holder": holder, "holder_kind": found["kind"],
                      "holder_name": found["name"], "unit": found["unit"],
                      "credential": _text(last.data, "credential"),
                      "method": _text(last.data, "method"), **times("ts", last.ts, tz)}
        mode_ev = modes.get(key)
        mode = None
        if mode_ev is not None:
            mode = {"mode": _text(mode_ev.data, "mode"), "reason": _text(mode_ev.data, "reason"),
                    "until": _text(mode_ev.data, "until"), **times("at", mode_ev.ts, tz)}
        doors.append({
            "door": key, "building": _text(data, "building"), "mode": mode,
            "state": DOOR_STATES[state_ev.kind] if state_ev is not None else None,
            **times("state_at", state_ev.ts if state_ev is not None else None, tz),
            "last_person": person, "open_alarms": open_alarms.get(key, 0)})
    return json_ok({"site": site.slug, "timezone": tz.key, "doors": doors})


def add_log_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{PREFIX}/log", access_log, name="access_log")
    r.add_get(f"{PREFIX}/doors", access_doors, name="access_doors")
