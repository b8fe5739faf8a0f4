"""Alarms guards act on: opened from device events at ingest, folded, escalated, pushed live.

- ``policy``: which events open alarms (severity, title, fold key), escalation, lifecycle.
- ``extract``: fold keys, place and evidence from event data.
- ``lifecycle``: a guard's action (acknowledge, start, resolve, false alarm).
- ``escalation``: the loop that moves unacknowledged alarms up the chain of roles.
- ``notify`` / ``hub``: committed changes to the live feed (PostgreSQL LISTEN/NOTIFY, or
  in-process for the embedded SQLite mode).
- ``present``: the alarm JSON shared by the API and the live feed.

The ingest handlers live in ``cloud.ingest.alarm_handlers``, the HTTP API in
``cloud.api.alarms``.
"""

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
    policy_from_env,
)

__all__ = [
    "DEFAULT_POLICY",
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
    "policy_from_env",
    "run_escalation",
]
