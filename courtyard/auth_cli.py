"""Command-line commands: auth (being built)."""

from __future__ import annotations

import argparse
from typing import Any


def add_auth_commands(sub: Any, cloud: argparse._SubParsersAction[Any]) -> None:
    """Add this module's commands: sub is the top level, cloud is ``courtyard cloud``."""
