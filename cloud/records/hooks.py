"""What other features do when a resident's record changes, without records knowing them.

A feature appends to ``MOVE_OUT`` in its ``setup`` (the access feature revokes the resident's
cards). Each hook runs inside the update's transaction, after the row has its new values,
and returns the ``(dataset, version)`` pairs it bumped; the route announces them on
``down/sync`` after the commit, as it does parking's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import Actor
from cloud.records.tables import Resident

MoveOutHook = Callable[[AsyncSession, Resident, datetime, Actor],
                       Awaitable[list[tuple[str, int]]]]

#: Called when a resident's ``move_out`` goes from empty to a date.
MOVE_OUT: list[MoveOutHook] = []


def on_move_out(hook: MoveOutHook) -> None:
    """Register ``hook`` once (``setup`` may run for several apps in one process)."""
    if hook not in MOVE_OUT:
        MOVE_OUT.append(hook)
