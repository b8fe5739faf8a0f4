"""Fire linkage at the edge: a fire alarm unlocks egress doors, holds the barrier gates open,
recalls the building's elevators and raises a critical alarm, with or without the cloud;
a guard resets it."""

from edge.linkage.doors import NO_DOOR_DRIVER, DoorControl, NoDoors
from edge.linkage.engine import Linkage
from edge.linkage.model import (
    ALL_BUILDINGS,
    ActionOutcome,
    LinkageRule,
    default_rules,
    rules_from_config,
)

__all__ = [
    "ALL_BUILDINGS",
    "NO_DOOR_DRIVER",
    "ActionOutcome",
    "DoorControl",
    "Linkage",
    "LinkageRule",
    "NoDoors",
    "default_rules",
    "rules_from_config",
]
