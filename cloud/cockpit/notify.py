"""Tell every web process's cockpit what a committed ingest batch changed.

``announce(session, site, kinds, ticks)`` runs inside the batch's transaction (the ingest
handler ``on_events`` below calls it for every new event group) and posts one notice on the
``courtyard_cockpit`` channel (``cloud.db.notify``): delivered on commit only, never on a
rollback. The notice is small JSON, always under PostgreSQL's 8000-byte NOTIFY limit:

    {"site": "demo", "kinds": ["fire.alarm", ...], "ticks": [{kind, severity, title_zh,
     title_en, place, ts}, ...]}

``kinds`` are the event kinds of the batch (the live hub turns them into the panels they
touch); ``ticks`` are ticker items (a new alarm-raising event, a barrier opening, a forced
door), at most ``MAX_TICKS`` per notice. When the JSON would still be too large the ticks are
trimmed and then the kinds become ``["*"]`` (every panel).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.alarms.extract import location
from cloud.alarms.policy import DEFAULT_POLICY, AlarmPolicy
from cloud.cockpit.panels.registry import touched
from cloud.db.notify import MAX_PAYLOAD, Channel
from cloud.ingest.handlers import HandlerContext, HandlerRegistry, StoredEvent
from cloud.web.labels_events import EVENT_KIND_LABELS
from cloud.web.present import utc_iso
from contract import Kind

log = structlog.get_logger(__name__)

CHANNEL_NAME = "courtyard_cockpit"
COCKPIT_CHANNEL = Channel(CHANNEL_NAME)
MAX_TICKS = 20
MAX_PLACE = 80
#: Every panel (a notice too large to list its kinds).
ALL_KINDS = "*"
#: Ticker items that are not alarms, with the severity the ticker shows them at.
TICK_KINDS: Mapping[str, str] = {Kind.GATE_OPENED: "info", Kind.DOOR_FORCED: "major"}


def _place(ev: StoredEvent) -> str:
    _loc, text = location(ev.data)
    if not text:
        for key in ("lane", "door"):
            value = ev.data.get(key)
            if isinstance(value, str) and value:
                text = value
                break
    return (text or ev.device)[:MAX_PLACE]


def tick_of(ev: StoredEvent, policy: AlarmPolicy = DEFAULT_POLICY) -> dict[str, Any] | None:
    """The ticker item of one new event, or None when it is not ticker news."""
    rule = policy.rules.get(ev.kind)
    if rule is not None:
        severity = policy.severity_for(rule, ev.data)
        if severity is not None:
            return {"kind": ev.kind, "severity": severity, "title_zh": rule.title_zh,
                    "title_en": rule.title_en, "place": _place(ev), "ts": utc_iso(ev.ts)}
    if ev.kind in TICK_KINDS:
        zh, en = EVENT_KIND_LABELS.get(ev.kind, (ev.kind, ev.kind))
        return {"kind": ev.kind, "severity": TICK_KINDS[ev.kind], "title_zh": zh,
                "title_en": en, "place": _place(ev), "ts": utc_iso(ev.ts)}
    return None


def payload(site: str, kinds: Iterable[str], ticks: Sequence[Mapping[str, Any]]) -> str:
    """The notice's JSON, trimmed to fit ``MAX_PAYLOAD`` bytes (see the module docstring)."""
    kind_list = sorted(set(kinds))
    items = list(ticks)[-MAX_TICKS:]  # the newest
    while True:
        text = json.dumps({"site": site, "kinds": kind_list, "ticks": items},
                          ensure_ascii=False, separators=(",", ":"))
        if len(text.encode("utf-8")) <= MAX_PAYLOAD:
            return text
        if items:
            items = items[len(items) // 2 + 1:] if len(items) > 1 else []
        elif kind_list != [ALL_KINDS]:
            kind_list = [ALL_KINDS]
        else:  # a site slug is at most 63 characters: unreachable
            raise ValueError("cockpit notice too large")


def parse(text: str) -> tuple[str, set[str], list[dict[str, Any]]] | None:
    """(site, kinds, ticks) of a notice; None for anything else on the channel."""
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("site"), str):
        return None
    kinds = {k for k in doc.get("kinds") or () if isinstance(k, str)}
    ticks = [t for t in doc.get("ticks") or () if isinstance(t, dict)]
    return doc["site"], kinds, ticks


async def announce(session: AsyncSession, site: str, kinds: Iterable[str],
                   ticks: Sequence[Mapping[str, Any]] = ()) -> None:
    """Tell every process's cockpit, when ``session`` commits, that ``site``'s panels fed by
    ``kinds`` changed, and push ``ticks`` to its ticker."""
    kind_set = set(kinds)
    if not kind_set and not ticks:
        return
    await COCKPIT_CHANNEL.send(session, payload(site, kind_set, ticks))


class LiveHandler:
    """The ingest handler that announces each batch's new events (bound to the policy that
    says which events raise alarms)."""

    def __init__(self, policy: AlarmPolicy) -> None:
        self.policy = policy

    async def on_events(self, ctx: HandlerContext, events: Sequence[StoredEvent]) -> None:
        kinds = {ev.kind for ev in events}
        ticks = [t for ev in events if (t := tick_of(ev, self.policy)) is not None]
        if not ticks and not touched(kinds):
            return  # nothing on the cockpit shows these events
        await announce(ctx.session, ctx.site, kinds, ticks)
        ctx.count("cockpit_notices")


def register_live_handlers(registry: HandlerRegistry, policy: AlarmPolicy | None) -> None:
    """Announce every new event group (after the features' own handlers of that kind)."""
    registry.register_prefix("", LiveHandler(policy or DEFAULT_POLICY).on_events)
