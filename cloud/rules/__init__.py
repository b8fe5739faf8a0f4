"""Event rules: which device events open a work order, an alarm, or nothing (issue 6, DESIGN §4).

A pure library: ``load_rules`` reads and checks YAML (``configs/rules/``), ``RuleEngine`` turns
events into decisions. Storage and dispatch belong to the work-order module.
"""

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

__all__ = [
    "PRIORITIES", "Action", "Category", "Conditions", "Decision", "EventFacts", "Nothing",
    "OpenAlarm", "OpenWorkOrder", "Repeat", "Rule", "RuleEngine", "RuleSet", "RulesError",
    "default_rules", "load_rules",
]
