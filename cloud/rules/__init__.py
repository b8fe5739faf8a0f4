"""Event rules: which device events open a work order, an alarm, or nothing (issue 6, DESIGN §4).

A pure library: ``load_rules`` reads and checks YAML (``configs/rules/``), ``RuleEngine`` turns
events into decisions. Storage and dispatch belong to the work-order module.
"""

from __future__ import annotations

from aiohttp import web

from cloud.ingest.handlers import HandlerRegistry
from cloud.rules import openapi as _openapi  # noqa: F401  (its paths join the document)
from cloud.rules.evaluate import Decision, EventFacts, RuleEngine
from cloud.rules.handlers import register_workorder_handlers
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
from cloud.rules.routes import STARTUP_FILE, add_rules_routes

#: The rule engine the console runs with; without one no event opens a work order.
ENGINE = web.AppKey("rule_engine", RuleEngine)


__all__ = [
    "PRIORITIES", "STARTUP_FILE", "Action", "Category", "Conditions", "Decision", "EventFacts",
    "Nothing", "OpenAlarm", "OpenWorkOrder", "Repeat", "Rule", "RuleEngine", "RuleSet",
    "RulesError", "default_rules", "load_rules",
]


def setup(app: web.Application, registry: HandlerRegistry) -> None:
    """The rules API; device events matched against the rules open work orders at ingest."""
    add_rules_routes(app)
    engine = app.get(ENGINE)
    if engine is not None:
        register_workorder_handlers(registry, engine)
