"""A guard's action on a whole incident: ``POST /api/incidents/{id}/{action}``.

``id`` is the incident's id (its first alarm's id, the ``incident`` of every member's JSON).
The action is applied to each member whose state allows it (acknowledging an incident whose
detector alarm is already acknowledged acknowledges the rest), each through the same
conditional update and history row as a single alarm's action, and each audited. The body may
list the member ``alarms`` the guard saw: then only those are acted on, so an alarm that joined
the incident after the board drew it is not closed unseen. Nothing to act on is a 409 naming
the members' states. Who acted is the login; ``by``/``role`` in the body are refused.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cloud.alarms.incidents import members
from cloud.alarms.lifecycle import AlarmNotFound, TransitionRefused, act
from cloud.alarms.policy import ACTIVE_STATES, TRANSITIONS
from cloud.alarms.present import load_alarms
from cloud.alarms.routes import (
    ACTOR_FIELDS,
    MAX_ID,
    acting_name,
    check_note,
    refuse_actor_fields,
)
from cloud.auth.audit import actor_of, record
from cloud.auth.guard import requires
from cloud.auth.scope import ensure_visible
from cloud.web.body import json_object
from cloud.web.errors import ApiError, bad_param, not_found
from cloud.web.keys import CLOCK, SESSIONS
from cloud.web.respond import json_ok

SEGMENTS = (("acknowledge", "acknowledge"), ("start", "start"), ("resolve", "resolve"),
            ("false_alarm", "false-alarm"))
MAX_LISTED = 500


def _incident_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_ID:
        raise not_found("id", "事件", "incident", raw[:40])
    return int(raw)


def _listed(body: dict[str, Any]) -> set[int] | None:
    raw = body.get("alarms")
    if raw is None:
        return None
    if (not isinstance(raw, list) or not raw or len(raw) > MAX_LISTED
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in raw)):
        raise bad_param("alarms", "须为该事件中告警 id 的列表",
                        "must be a non-empty list of the incident's alarm ids")
    return set(raw)


def _incident_handler(action: str) -> Any:
    t = TRANSITIONS[action]

    async def handler(request: web.Request) -> web.Response:
        incident = _incident_id(request)
        body = await json_object(request, allowed=("note", "alarms", *ACTOR_FIELDS))
        refuse_actor_fields(body)
        note = check_note(body, t.note_required)
        listed = _listed(body)
        async with request.app[SESSIONS]() as session:
            group = await members(session, incident)
        if not group:
            raise not_found("id", "事件", "incident", str(incident))
        site_id = group[0].site_id
        ensure_visible(request, site_id, "id", "事件", "incident", incident)
        ids = {a.id for a in group}
        if listed is not None and listed - ids:
            raise bad_param("alarms", f"这些告警不属于该事件：{sorted(listed - ids)}",
                            f"not alarms of this incident: {sorted(listed - ids)}")
        targets = [a for a in group if (listed is None or a.id in listed)
                   and a.state in ACTIVE_STATES and a.state in t.sources]
        if not targets:
            states = sorted({a.state for a in group})
            raise ApiError(409, "invalid_transition",
                           f"该事件中没有可{t.zh}的告警（当前状态：{', '.join(states)}）",
                           f"no alarm of this incident can be {action}d now "
                           f"(states: {', '.join(states)})", field="state",
                           state=states[0], states=states)
        by = acting_name(request)
        now = request.app[CLOCK].now()
        acted: list[int] = []
        skipped: list[int] = []
        for alarm in targets:
            try:
                done = await act(request.app[SESSIONS], alarm.id, action, by, note, now)
            except (AlarmNotFound, TransitionRefused):
                skipped.append(alarm.id)  # another guard or the escalation got there first
                continue
            acted.append(alarm.id)
            async with request.app[SESSIONS]() as session, session.begin():
                record(session, at=now, actor=actor_of(request), action=action,
                       entity="alarm", entity_id=alarm.id, site_id=site_id,
                       detail={"by": by, "note": note, "state": done.get("state"),
                               "incident": incident})
        async with request.app[SESSIONS]() as session:
            alarms = await load_alarms(session, ids)
        return json_ok({"incident": incident, "action": action, "acted": acted,
                        "skipped": skipped, "alarms": alarms})

    handler.__doc__ = f"{t.zh}（整个事件）/ {action} every alarm of an incident"
    return handler


def add_incident_routes(app: web.Application) -> None:
    for action, segment in SEGMENTS:
        app.router.add_post(f"/api/incidents/{{id}}/{segment}",
                            requires("alarms.act")(_incident_handler(action)))
