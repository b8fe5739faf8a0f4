"""The cockpit's panels: one module each, registered here with what the page needs to place
and refresh them (docs/cockpit.md).

A panel is an async function of a ``PanelContext`` (one read-only session, the site, its zone,
the console's clock) returning a JSON-ready dict with ``empty`` (nothing to show yet) and its
own fields; the API adds ``title_zh`` and ``title_en``. The site view is every registered
panel in ``order``; the live feed recomputes the panels whose ``kinds`` (event kind prefixes)
a committed batch touched. A feature adds a
panel with a module and one ``register`` call: the API, the live feed and the page (which
draws a panel it has no renderer for as a plain table) need no change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class PanelContext:
    """What a panel reads: never write through ``session``."""

    session: AsyncSession
    site_id: int
    site: str
    tz: ZoneInfo
    now: datetime  # UTC, from the console's clock

    @property
    def today(self) -> date:
        return self.now.astimezone(self.tz).date()

    def day_start(self, day: date) -> datetime:
        """The UTC instant the site's ``day`` starts (its local midnight)."""
        return datetime.combine(day, time(0), self.tz).astimezone(ZoneInfo("UTC"))

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """[start, end) of the site's ``day`` in UTC (23 or 25 hours across a DST change)."""
        return self.day_start(day), self.day_start(day + timedelta(days=1))


Compute = Callable[[PanelContext], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class PanelSpec:
    name: str
    title_zh: str
    title_en: str
    order: int
    compute: Compute
    #: Event kind prefixes whose arrival changes this panel ("" for none: refreshed on the
    #: periodic sweep only).
    kinds: tuple[str, ...] = ()
    #: Recompute when alarms change (a guard acknowledges or resolves one).
    on_alarm_change: bool = False

    def touched_by(self, kind: str) -> bool:
        return any(kind.startswith(p) for p in self.kinds)


_PANELS: dict[str, PanelSpec] = {}


def register(spec: PanelSpec) -> PanelSpec:
    if spec.name in _PANELS and _PANELS[spec.name] is not spec:
        raise ValueError(f"cockpit panel {spec.name!r} registered twice")
    _PANELS[spec.name] = spec
    return spec


def panel(name: str, title_zh: str, title_en: str, order: int, *, kinds: Iterable[str] = (),
          on_alarm_change: bool = False) -> Callable[[Compute], Compute]:
    """Decorator form of ``register``."""
    def deco(fn: Compute) -> Compute:
        register(PanelSpec(name, title_zh, title_en, order, fn, tuple(kinds), on_alarm_change))
        return fn
    return deco


def panels() -> list[PanelSpec]:
    """Every registered panel in page order."""
    return sorted(_PANELS.values(), key=lambda s: (s.order, s.name))


def touched(kinds: Iterable[str]) -> list[PanelSpec]:
    """The panels a batch with these event kinds changes."""
    ks = set(kinds)
    return [s for s in panels() if any(s.touched_by(k) for k in ks)]

