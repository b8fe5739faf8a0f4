"""Ending a fire linkage: the one rule set both ways in share — the guard room's
``POST /linkage/reset`` (edge/linkage/http.py) and the console's ``linkage.reset`` command
(edge/commands).

A reset drops the barriers and locks the doors again, so it is refused while any panel still
reports fire (the evacuation may still be under way), before linkage has started, when no
incident is active, and — when the caller names a building — when the active incident does
not cover that building (the caller meant another fire).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from edge.linkage.engine import NOT_STARTED, NOTHING_ACTIVE, Linkage
from edge.linkage.model import ALL_BUILDINGS

#: UITD id → the objects still reporting fire (``FireServer.active_fires``).
ActiveFires = Callable[[], Mapping[str, Sequence[str]]]


class ResetRefused(Exception):
    """A reset the rules forbid; ``code`` is ``fire_active``, ``not_started``,
    ``nothing_active`` or ``building``; the message is zh-CN / English."""

    def __init__(self, code: str, message: str,
                 active: Mapping[str, Sequence[str]] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.active = dict(active or {})


def fire_still_reported(active_fires: ActiveFires | None) -> ResetRefused | None:
    """The refusal for a panel that still reports fire, or None."""
    burning = {k: list(v) for k, v in (active_fires() if active_fires else {}).items()}
    if not burning:
        return None
    where = "; ".join(f"{uitd}: {', '.join(objs)}" for uitd, objs in burning.items())
    return ResetRefused("fire_active",
                        f"消防主机仍报火警（{where}），请先在主机上消除火警再复位联动"
                        f" / the fire panel still reports fire ({where}): clear it at the "
                        "panel before resetting linkage", burning)


async def reset_linkage(linkage: Linkage, active_fires: ActiveFires | None, *, by: str,
                        reason: str, building: str | None = None) -> dict[str, Any]:
    """Reset the active incident as ``by``; the engine records ``linkage.reset``.

    Returns the engine's result (``{"result": "ok", ...}``); raises ResetRefused when a rule
    forbids it and ValueError without ``by`` or ``reason``.
    """
    refusal = fire_still_reported(active_fires)
    if refusal is not None:
        raise refusal
    if building is not None:
        covered = _covered_buildings(linkage)
        if covered is not None and building not in covered and ALL_BUILDINGS not in covered:
            listed = ", ".join(covered)
            raise ResetRefused("building", f"当前联动不涉及 {building} 栋（涉及：{listed}）"
                                           f" / the active linkage does not cover building "
                                           f"{building} (it covers {listed})")
    result = await linkage.reset(by=by, reason=reason)
    if result.get("result") == "refused":
        why = str(result.get("reason"))
        raise ResetRefused("not_started" if why == NOT_STARTED else "nothing_active"
                           if why == NOTHING_ACTIVE else "refused", why)
    return result


def _covered_buildings(linkage: Linkage) -> list[str] | None:
    """The active incident's buildings; None when nothing is active (the engine says so)."""
    incidents = linkage.status().get("incidents") or []
    if not incidents:
        return None
    return [str(b) for b in incidents[0].get("buildings", [])]
