"""Alarms guards act on: opened from device events at ingest, folded, escalated, pushed live.

- ``policy``: which events open alarms (severity, title, fold key), escalation, lifecycle.
- ``extract``: fold keys, place and evidence from event data.
- ``lifecycle``: a guard's action (acknowledge, start, resolve, false alarm).
- ``incidents``: which alarms are one incident (one card, one click on the board).
- ``linkage_state``: what each site's edge last reported about fire linkage.
- ``escalation``: the loop that moves unacknowledged alarms up the chain of roles.
- ``notify`` / ``hub``: committed changes to the live feed (PostgreSQL LISTEN/NOTIFY, or
  in-process for the embedded SQLite mode).
- ``present``: the alarm JSON shared by the API and the live feed.

The ingest handlers live in ``cloud.alarms.handlers``, the HTTP API in
``cloud.alarms.routes`` (incidents: ``cloud.alarms.incident_routes``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from cloud.alarms.escalation import check_once, run_escalation
from cloud.alarms.hub import AlarmHub, Subscription, SubscriptionLost
from cloud.alarms.policy import (
    DEFAULT_POLICY,
    TRANSITIONS,
    AlarmPolicy,
    AlarmPolicyError,
    AlarmRule,
    EscalationPolicy,
    load_policy,
)

if TYPE_CHECKING:
    from cloud.ingest.handlers import HandlerRegistry

#: The alarm policy the console runs with (``COURTYARD_ALARM_POLICY``); the built-in one when
#: the composition root sets none.
POLICY = web.AppKey("alarm_policy", AlarmPolicy)


__all__ = [
    "DEFAULT_POLICY",
    "POLICY",
    "TRANSITIONS",
    "AlarmHub",
    "AlarmPolicy",
    "AlarmPolicyError",
    "AlarmRule",
    "EscalationPolicy",
    "Subscription",
    "SubscriptionLost",
    "check_once",
    "load_policy",
    "run_escalation",
    "setup",
]


def setup(app: web.Application, registry: HandlerRegistry) -> None:
    """The alarms API, the live feed and the guard board; alarms opened at ingest."""
    # Adapters load only when the console wires the feature (cloud.features).
    from cloud.alarms import openapi as _openapi  # noqa: F401  (its paths join the document)
    from cloud.alarms.board import add_board_routes
    from cloud.alarms.handlers import register_alarm_handlers
    from cloud.alarms.incident_routes import add_incident_routes
    from cloud.alarms.linkage_state import add_linkage_routes
    from cloud.alarms.routes import add_alarm_routes

    add_linkage_routes(app)  # before /api/alarms/{id}, which would take "linkage" as an id
    add_alarm_routes(app)
    add_incident_routes(app)
    add_board_routes(app)
    register_alarm_handlers(registry, app.get(POLICY))
