"""Event rules: which device events open a work order, an alarm, or nothing (issue 6, DESIGN §4).

A pure library: ``load_rules`` reads and checks YAML (``configs/rules/``), ``RuleEngine`` turns
events into decisions. Storage and dispatch belong to the work-order module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from cloud.rules.evaluate import Decision, EventFacts, RuleEngine
from cloud.rules.load import RulesError, default_rules, load_rules
from cloud.rules.model import (
    PRIORITIES,
    Action,
    Category,
    Conditions,
    Nothing,
    OpenAlarm,
    OpenWorkOrder,
    Repeat,
    Rule,
    RuleSet,
)

if TYPE_CHECKING:
    from cloud.ingest.handlers import HandlerRegistry

#: The rule engine the console runs with; without one no event opens a work order.
ENGINE = web.AppKey("rule_engine", RuleEngine)
#: The rule file the console started with (``COURTYARD_RULES``), shown by ``GET /api/rules``.
STARTUP_FILE = web.AppKey("rules_startup_file", str)


__all__ = [
    "PRIORITIES", "STARTUP_FILE", "Action", "Category", "Conditions", "Decision", "EventFacts",
    "Nothing", "OpenAlarm", "OpenWorkOrder", "Repeat", "Rule", "RuleEngine", "RuleSet",
    "RulesError", "default_rules", "load_rules",
]


def setup(app: web.Application, registry: HandlerRegistry) -> None:
    """The rules API; device events matched against the rules open work orders at ingest."""
    # Adapters load only when the console wires the feature (cloud.features).
    from cloud.rules import openapi as _openapi  # noqa: F401  (its paths join the document)
    from cloud.rules.handlers import register_workorder_handlers
    from cloud.rules.routes import add_rules_routes

    add_rules_routes(app)
    engine = app.get(ENGINE)
    if engine is not None:
        register_workorder_handlers(registry, engine)
