"""The rule engine's memory: repeat windows, pending offline timers, last "online" per device.

``RuleEngine.decide`` reads and changes it only through the three methods of ``RuleState``,
so the same decision logic runs on this process's memory (``MemoryState``: unit tests, and a
console that keeps its state to itself) and on one device's rows loaded from the database and
written back in the ingest's transaction (``cloud.rules.shared_state``: several consoles).
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from cloud.rules.evaluate import Decision
    from cloud.rules.model import Rule

#: (site, device, rule id)
Key = tuple[str, str, str]


@dataclass(slots=True)
class Pending:
    due_at: datetime
    decision: Decision


class RuleState(Protocol):
    def count(self, key: Key, ts: datetime, need: int, within_s: float) -> int:
        """Record an event at ``ts`` for ``key``; how many are within ``within_s`` of it."""

    def start_timer(self, key: Key, due_at: datetime, decision: Decision) -> None:
        """Wait for ``due_at`` unless the device came back meanwhile or a wait runs already."""

    def back_online(self, site: str, device: str, ts: datetime) -> None:
        """The device reported "online" at ``ts``: cancel the waits it ends."""


class MemoryState:
    """The state in this process, bounded: the oldest keys are evicted past ``max_keys``."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self.windows: OrderedDict[Key, list[datetime]] = OrderedDict()
        self.pending: OrderedDict[Key, Pending] = OrderedDict()
        self.online: OrderedDict[tuple[str, str], datetime] = OrderedDict()

    def count(self, key: Key, ts: datetime, need: int, within_s: float) -> int:
        window = self.windows.get(key)
        if window is None:
            window = self.windows[key] = []
        self.windows.move_to_end(key)
        bisect.insort(window, ts)
        del window[:-need]  # the newest `need` events are all a threshold can use
        start = ts - timedelta(seconds=within_s)
        self._trim(self.windows)
        return sum(1 for t in window if start <= t <= ts)

    def start_timer(self, key: Key, due_at: datetime, decision: Decision) -> None:
        back = self.online.get((key[0], key[1]))
        if back is not None and decision.cause_ts <= back < due_at:
            return  # the "online" overtook this "offline" in transit: it was a short drop
        if key in self.pending:
            return  # still offline since the first report: the earlier timer stands
        self.pending[key] = Pending(due_at, decision)
        self._trim(self.pending)

    def back_online(self, site: str, device: str, ts: datetime) -> None:
        self.online[(site, device)] = max(ts, self.online.get((site, device), ts))
        self.online.move_to_end((site, device))
        self._trim(self.online)
        for key, p in list(self.pending.items()):
            if key[:2] == (site, device) and p.decision.cause_ts <= ts < p.due_at:
                del self.pending[key]

    def take_due(self, now: datetime) -> list[Decision]:
        """Pending decisions whose time has come (oldest first); each is returned once."""
        ready = [(k, p) for k, p in self.pending.items() if p.due_at <= now]
        for k, _ in ready:
            del self.pending[k]
        return [p.decision for _, p in sorted(ready, key=lambda kp: kp[1].due_at)]

    def retain(self, by_id: Mapping[str, Rule]) -> None:
        """Keep what still applies after a rule edit (see ``RuleEngine.use``)."""
        for key in [k for k in self.windows
                    if (r := by_id.get(k[2])) is None or r.when.repeat is None]:
            del self.windows[key]
        for key, p in list(self.pending.items()):
            rule = by_id.get(key[2])
            if rule is None or rule.when.offline_for_s is None or not rule.enabled:
                del self.pending[key]
            else:
                p.decision = replace(p.decision, action=rule.then)

    def _trim(self, d: OrderedDict[Any, Any]) -> None:
        while len(d) > self.max_keys:
            d.popitem(last=False)
