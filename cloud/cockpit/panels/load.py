"""Imports every built-in panel module so its ``register`` runs (one line per panel)."""

from __future__ import annotations

import importlib

BUILT_IN: tuple[str, ...] = (
    "devices",
    "alarms",
    "workorders",
    "elevators",
    "patrol",
    "finance",
    "parking",
    "access",
    "energy",
)


def load_panels() -> None:
    for name in BUILT_IN:
        importlib.import_module(f"cloud.cockpit.panels.{name}")
