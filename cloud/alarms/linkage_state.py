"""What each site's edge last reported about fire linkage: ``GET /api/alarms/linkage``.

Resolving the fire's alarms in the console changes nothing at the site: the edge holds the
barriers open and the egress doors unlocked until a guard resets linkage on the edge box
(its operator port, action ``reset_linkage``). So the board shows, per site, the edge's own
word from the events the cloud already stores: the latest incident (``linkage.triggered`` /
``linkage.action`` / ``linkage.reset`` carry its id), whether it is still ``active`` (since
when, and each action with its latest result: a barrier held open, doors unlocked, an
elevator recalled, or a failure) or was ``reset`` (when, by whom, and what the reset undid).

Only the newest ``SCAN`` linkage events of a site are read: an incident is a few dozen.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select

from cloud.alarms.present import _times, _zone
from cloud.auth.guard import requires
from cloud.auth.scope import check_site_slug, scoped
from cloud.db.models import Event, Site
from cloud.web.keys import SESSIONS
from cloud.web.params import text_param
from cloud.web.respond import json_ok
from contract import Kind

KINDS = (Kind.LINKAGE_TRIGGERED, Kind.LINKAGE_ACTION, Kind.LINKAGE_RESET)
SCAN = 200
#: Actions that leave something changed at the site until a reset (the rest only report).
HOLDING = ("raise_gate", "unlock_doors", "recall_elevator")


def _text(raw: Any, limit: int = 200) -> str | None:
    if raw is None or isinstance(raw, dict | list | bool):
        return None
    return str(raw).strip()[:limit] or None


def _action(data: dict[str, Any], ts: datetime, tz: Any) -> dict[str, Any]:
    return {"action": _text(data.get("action"), 64), "target": _text(data.get("target"), 128),
            "building": _text(data.get("building"), 64), "result": _text(data.get("result"), 16),
            "detail": _text(data.get("detail")), **_times("ts", ts, tz)}


def state_of(events: list[Event], timezone: str | None) -> dict[str, Any]:
    """The state of the latest incident among a site's linkage events (newest first)."""
    tz = _zone(timezone or "")
    latest = next((e for e in events if _text(e.data.get("incident"), 64)), None)
    if latest is None:
        return {"state": "none"}
    incident = _text(latest.data.get("incident"), 64)
    mine = [e for e in reversed(events) if _text(e.data.get("incident"), 64) == incident]
    reset = next((e for e in reversed(mine) if e.kind == Kind.LINKAGE_RESET), None)
    started = next((e for e in mine if e.kind == Kind.LINKAGE_TRIGGERED), mine[0])
    actions: dict[tuple[str | None, str | None], dict[str, Any]] = {}
    for e in mine:
        if e.kind == Kind.LINKAGE_ACTION and e.data.get("action") in HOLDING:
            item = _action(e.data, e.ts, tz)
            actions[(item["action"], item["target"])] = item
    out: dict[str, Any] = {
        "state": "reset" if reset is not None else "active", "incident": incident,
        **_times("since", started.ts, tz), **_times("reported", mine[-1].ts, tz),
        "actions": list(actions.values()),
    }
    if reset is not None:
        results = reset.data.get("results")
        out |= {**_times("reset", reset.ts, tz), "reset_by": _text(reset.data.get("by"), 64),
                "undone": [_action(r, reset.ts, tz) for r in results if isinstance(r, dict)]
                if isinstance(results, list) else []}
    return out


@requires("alarms.read")
async def linkage_state(request: web.Request) -> web.Response:
    """Per site the actor serves (or ``?site=``): the edge's latest linkage incident."""
    site = text_param(request, "site", 63)
    out = []
    async with request.app[SESSIONS]() as session:
        if site is not None:
            await check_site_slug(session, request, site)
        query = scoped(select(Site), Site.id, request)
        if site is not None:
            query = query.where(Site.slug == site)
        for s in (await session.scalars(query.order_by(Site.slug))).all():
            events = list((await session.scalars(select(Event).where(
                Event.site_id == s.id, Event.kind.in_(KINDS))
                .order_by(Event.ts.desc(), Event.id.desc()).limit(SCAN))).all())
            out.append({"site": s.slug, "name": s.name, "timezone": s.timezone,
                        **state_of(events, s.timezone)})
    return json_ok({"sites": out})


def add_linkage_routes(app: web.Application) -> None:
    app.router.add_get("/api/alarms/linkage", linkage_state, name="alarms_linkage")
