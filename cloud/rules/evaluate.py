"""Turn one event into decisions: which rule applies and what it asks for.

**First matching rule wins**, in rule-set order (file order, files by name): a file reads top to
bottom like a ``match`` statement, so a specific rule (``elevator.trapped``) placed before a
broad one (``elevator.*``) takes precedence and one event never opens two work orders. A rule
whose ``repeat`` threshold is not reached yet does not match, so the event falls through to the
next rule (a single gate fault can be "normal" while three in ten minutes are "high").

State (repeat windows, pending offline timers, last "online" per device) lives in memory and is
bounded (oldest keys are evicted past ``max_keys``). It is an optimisation, not a record: after
a restart the cloud rebuilds it by replaying the recent rows of the events table through
``decide`` (the window is minutes, so that is a small query), and the work-order module's
``fold_key`` keeps replays from opening duplicate orders.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from cloud.rules.model import Action, Rule, RuleSet
from contract import Kind
from contract.clock import Clock

DEVICE_ONLINE = Kind.DEVICE_ONLINE


@dataclass(frozen=True, slots=True)
class EventFacts:
    """What a rule may look at: the event as the device reported it."""

    site: str
    kind: str
    device: str
    device_type: str | None
    ts: datetime  # the device event's time: SLA clocks start here, not at ingest
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def building(self) -> str | None:
        value = self.data.get("building")
        location = self.data.get("location")
        if value is None and isinstance(location, Mapping):
            value = location.get("building")
        return None if value is None else str(value)

    @property
    def severity(self) -> str | None:
        value = self.data.get("severity")
        return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Decision:
    """One action to take, naming the rule and the event that caused it (traceability)."""

    rule_id: str
    action: Action
    #: site + device + rule: every decision of a flapping device shares it, so the work-order
    #: module folds them into the one open order (counting them) instead of opening more.
    fold_key: str
    cause_ts: datetime
    kind: str = ""
    site: str = ""
    device: str = ""
    #: Events in the repeat window when the rule fired (1 without ``repeat``).
    count: int = 1


def fold_key(site: str, device: str, rule_id: str) -> str:
    return f"{site}:{device or '-'}:{rule_id}"


def _static_match(rule: Rule, e: EventFacts) -> bool:
    w = rule.when
    return ((not w.device_types or e.device_type in w.device_types)
            and (not w.devices or e.device in w.devices)
            and (not w.buildings or e.building in w.buildings)
            and (not w.severities or e.severity in w.severities))


@dataclass(slots=True)
class _Pending:
    due_at: datetime
    decision: Decision


class RuleEngine:
    """Evaluates events against one rule set; ``use`` swaps in another without losing state."""

    def __init__(self, ruleset: RuleSet, clock: Clock, *, max_keys: int = 100_000) -> None:
        self.ruleset = ruleset
        self.clock = clock
        self.max_keys = max_keys
        self._windows: OrderedDict[tuple[str, str, str], list[datetime]] = OrderedDict()
        self._pending: OrderedDict[tuple[str, str, str], _Pending] = OrderedDict()
        self._online: OrderedDict[tuple[str, str], datetime] = OrderedDict()
        self._on_use: list[Callable[[RuleSet], None]] = []

    def use(self, ruleset: RuleSet) -> None:
        """Swap the rules (an edit through the API) keeping what still applies.

        A repeat window or offline timer survives when its rule id still exists with the same
        kind of condition, so a gate that faulted twice before the edit counts them after it; a
        pending timer takes the rule's new action. State of rules that are gone is dropped.
        """
        by_id = {r.id: r for r in ruleset.rules}
        for key in [k for k in self._windows
                    if (r := by_id.get(k[2])) is None or r.when.repeat is None]:
            del self._windows[key]
        for key, p in list(self._pending.items()):
            rule = by_id.get(key[2])
            if rule is None or rule.when.offline_for_s is None or not rule.enabled:
                del self._pending[key]
            else:
                p.decision = replace(p.decision, action=rule.then)
        self.ruleset = ruleset
        for listener in self._on_use:
            listener(ruleset)

    def on_use(self, listener: Callable[[RuleSet], None]) -> None:
        """Call ``listener`` after each swap (the ingest registers newly named kinds)."""
        self._on_use.append(listener)

    def decide(self, event: EventFacts) -> list[Decision]:
        """The decision for this event now: at most one (first match wins), maybe none.

        A matching ``offline_for_s`` rule returns nothing yet: its decision is pending and
        comes out of ``due`` unless the device comes back online in time.
        """
        if event.kind == DEVICE_ONLINE:
            self._back_online(event)
        for rule in self.ruleset.for_kind(event.kind):
            if not _static_match(rule, event):
                continue
            key = (event.site, event.device, rule.id)
            if rule.when.offline_for_s is not None:
                self._start_timer(rule, event, rule.when.offline_for_s)
                return []
            count = 1
            if rule.when.repeat is not None:
                count = self._count(key, event.ts, rule.when.repeat.count,
                                    rule.when.repeat.within_s)
                if count < rule.when.repeat.count:
                    continue
            return [self._decision(rule, event, event.ts, count)]
        return []

    def due(self, now: datetime | None = None) -> list[Decision]:
        """Pending offline decisions whose time has come (oldest first); each is returned once."""
        now = self.clock.now() if now is None else now
        ready = [(k, p) for k, p in self._pending.items() if p.due_at <= now]
        for k, _ in ready:
            del self._pending[k]
        return [p.decision for _, p in sorted(ready, key=lambda kp: kp[1].due_at)]

    def pending(self) -> int:
        """How many offline timers are running (for the console's health view)."""
        return len(self._pending)

    # -- internals ---------------------------------------------------------------------------
    def _decision(self, rule: Rule, e: EventFacts, cause_ts: datetime, count: int) -> Decision:
        return Decision(rule.id, rule.then, fold_key(e.site, e.device, rule.id), cause_ts,
                        e.kind, e.site, e.device, count)

    def _count(self, key: tuple[str, str, str], ts: datetime, need: int, within_s: float) -> int:
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = []
        self._windows.move_to_end(key)
        bisect.insort(window, ts)
        del window[:-need]  # the newest `need` events are all a threshold can use
        start = ts - timedelta(seconds=within_s)
        self._trim(self._windows)
        return sum(1 for t in window if start <= t <= ts)

    def _start_timer(self, rule: Rule, e: EventFacts, offline_for_s: float) -> None:
        key = (e.site, e.device, rule.id)
        due_at = e.ts + timedelta(seconds=offline_for_s)
        back = self._online.get((e.site, e.device))
        if back is not None and e.ts <= back < due_at:
            return  # the "online" overtook this "offline" in transit: it was a short drop
        if key in self._pending:
            return  # still offline since the first report: the earlier timer stands
        self._pending[key] = _Pending(due_at, self._decision(rule, e, e.ts, 1))
        self._trim(self._pending)

    def _back_online(self, e: EventFacts) -> None:
        self._online[(e.site, e.device)] = max(e.ts, self._online.get((e.site, e.device), e.ts))
        self._online.move_to_end((e.site, e.device))
        self._trim(self._online)
        for key, p in list(self._pending.items()):
            if key[:2] == (e.site, e.device) and p.decision.cause_ts <= e.ts < p.due_at:
                del self._pending[key]

    def _trim(self, d: OrderedDict[Any, Any]) -> None:
        while len(d) > self.max_keys:
            d.popitem(last=False)
