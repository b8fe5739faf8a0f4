"""The console's features, in the order they are wired: each exposes ``setup(app, registry)``
(its routes, pages and OpenAPI paths on the app; its ingest handlers on the registry).

Order matters twice: handlers of one event kind run in registration order (device status and
readings first, then parking, then alarms, then the rules that open work orders), and a
feature's routes are added before a later one's. This module and ``cloud.app`` are the only
places that know every feature; the features never import each other's routes or handlers
(``[tool.importlinter]`` in pyproject.toml). A feature's package imports only its services and
tables; ``setup`` loads its adapters (routes, pages, handlers, OpenAPI paths), so the command
line and the edge box never load the console's web layer for a table or a role name.
"""

from __future__ import annotations

from types import ModuleType

from aiohttp import web

from cloud import (
    access,
    alarms,
    billing,
    cockpit,
    commands,
    imports,
    jobs,
    maintenance,
    parking,
    patrol,
    payments,
    privacy,
    records,
    retention,
    rules,
    sites,
    workorders,
)
from cloud.access import tables as access_tables
from cloud.alarms import POLICY
from cloud.alarms import tables as alarms_tables
from cloud.alarms.policy import AlarmPolicy
from cloud.auth import rate_tables as rate_tables
from cloud.auth import routes as auth
from cloud.auth import tables as auth_tables
from cloud.billing import tables as billing_tables
from cloud.blobs import tables as blob_tables
from cloud.cockpit import tables as cockpit_tables
from cloud.commands import tables as commands_tables
from cloud.imports import tables as import_tables
from cloud.ingest.handlers import HandlerRegistry
from cloud.jobs import tables as job_tables
from cloud.maintenance import tables as maintenance_tables
from cloud.parking import tables as parking_tables
from cloud.patrol import tables as patrol_tables
from cloud.payments import tables as payments_tables
from cloud.privacy import tables as privacy_tables
from cloud.records import tables as records_tables
from cloud.retention import tables as retention_tables
from cloud.rules import ENGINE
from cloud.rules import state_tables as rule_state_tables
from cloud.rules import tables as rules_tables
from cloud.rules.evaluate import RuleEngine
from cloud.sites import edge_health as edge_health_tables
from cloud.workorders import photo_tables as photo_tables
from cloud.workorders import tables as workorders_tables

#: Every feature's tables: imported here so ``Base.metadata`` is the whole schema (the
#: migrations' environment and the schema checks import this module).
TABLES: tuple[ModuleType, ...] = (alarms_tables, auth_tables, billing_tables, maintenance_tables,
                                  parking_tables, payments_tables, records_tables, rules_tables,
                                  workorders_tables, photo_tables, commands_tables, access_tables,
                                  patrol_tables, edge_health_tables, cockpit_tables,
                                  retention_tables, rate_tables, import_tables,
                                  rule_state_tables, blob_tables, job_tables,
                                  privacy_tables)

FEATURES: tuple[ModuleType, ...] = (sites, auth, parking, alarms, workorders, maintenance, rules,
                                    records, imports, billing, payments, commands, access, patrol,
                                    cockpit, retention, jobs, privacy)


def install(app: web.Application, registry: HandlerRegistry) -> None:
    """Every feature's routes on ``app`` and handlers on ``registry``."""
    for feature in FEATURES:
        feature.setup(app, registry)


def configure(app: web.Application, *, alarm_policy: AlarmPolicy | None = None,
              rules: RuleEngine | None = None) -> None:
    """What the features read while they set up: which events open alarms (the built-in
    policy when None) and work orders (none when ``rules`` is None)."""
    if alarm_policy is not None:
        app[POLICY] = alarm_policy
    if rules is not None:
        app[ENGINE] = rules


def default_registry(alarm_policy: AlarmPolicy | None = None,
                     rules: RuleEngine | None = None) -> HandlerRegistry:
    """The ingest handlers alone (an ingest worker, a test, a benchmark), wired as the console
    wires them."""
    app = web.Application()
    configure(app, alarm_policy=alarm_policy, rules=rules)
    registry = HandlerRegistry()
    install(app, registry)
    return registry
