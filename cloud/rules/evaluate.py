"""Turn one event into decisions: which rule applies and what it asks for.

**First matching rule wins**, in rule-set order (file order, files by name): a file reads top to
bottom like a ``match`` statement, so a specific rule (``elevator.trapped``) placed before a
broad one (``elevator.*``) takes precedence and one event never opens two work orders. A rule
whose ``repeat`` threshold is not reached yet does not match, so the event falls through to the
next rule (a single gate fault can be "normal" while three in ten minutes are "high").

State (repeat windows, pending offline timers, last "online" per device) is behind
``cloud.rules.state.RuleState``: this process's bounded memory (``MemoryState``), or, for the
console, the database (``cloud.rules.shared_state``), so several console processes count a
device's repeats together and fire each offline timer once. The decision logic here is the
same for both; the work-order module's ``fold_key`` keeps a replay from opening a duplicate
order.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cloud.rules.model import Action, Rule, RuleSet
from cloud.rules.state import Key, MemoryState, RuleState
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


class RuleEngine:
    """Evaluates events against one rule set; ``use`` swaps in another without losing state.

    ``shared``: the ingest keeps the state in the database (``cloud.rules.shared_state``) so
    several console processes count and time together; otherwise it is ``self.state``.
    """

    def __init__(self, ruleset: RuleSet, clock: Clock, *, max_keys: int = 100_000,
                 shared: bool = False) -> None:
        self.ruleset = ruleset
        self.clock = clock
        self.shared = shared
        self.state = MemoryState(max_keys)
        self._on_use: list[Callable[[RuleSet], None]] = []

    @property
    def _windows(self) -> OrderedDict[Key, list[datetime]]:
        return self.state.windows

    def use(self, ruleset: RuleSet) -> None:
        """Swap the rules (an edit through the API) keeping what still applies.

        A repeat window or offline timer survives when its rule id still exists with the same
        kind of condition, so a gate that faulted twice before the edit counts them after it; a
        pending timer takes the rule's new action. State of rules that are gone is dropped.
        """
        self.state.retain({r.id: r for r in ruleset.rules})
        self.ruleset = ruleset
        for listener in self._on_use:
            listener(ruleset)

    def on_use(self, listener: Callable[[RuleSet], None]) -> None:
        """Call ``listener`` after each swap (the ingest registers newly named kinds)."""
        self._on_use.append(listener)

    def decide(self, event: EventFacts, state: RuleState | None = None) -> list[Decision]:
        """The decision for this event now: at most one (first match wins), maybe none.

        A matching ``offline_for_s`` rule returns nothing yet: its decision is pending and
        comes out of ``due`` unless the device comes back online in time. ``state``: where
        the windows and timers are (``self.state`` when None).
        """
        state = self.state if state is None else state
        if event.kind == DEVICE_ONLINE:
            state.back_online(event.site, event.device, event.ts)
        for rule in self.ruleset.for_kind(event.kind):
            if not _static_match(rule, event):
                continue
            key = (event.site, event.device, rule.id)
            if rule.when.offline_for_s is not None:
                state.start_timer(key, event.ts + timedelta(seconds=rule.when.offline_for_s),
                                  self._decision(rule, event, event.ts, 1))
                return []
            count = 1
            if rule.when.repeat is not None:
                count = state.count(key, event.ts, rule.when.repeat.count,
                                    rule.when.repeat.within_s)
                if count < rule.when.repeat.count:
                    continue
            return [self._decision(rule, event, event.ts, count)]
        return []

    def due(self, now: datetime | None = None) -> list[Decision]:
        """Pending offline decisions whose time has come (oldest first); each is returned once."""
        return self.state.take_due(self.clock.now() if now is None else now)

    def pending(self) -> int:
        """How many offline timers are running (for the console's health view)."""
        return len(self.state.pending)

    # -- internals ---------------------------------------------------------------------------
    def _decision(self, rule: Rule, e: EventFacts, cause_ts: datetime, count: int) -> Decision:
        return Decision(rule.id, rule.then, fold_key(e.site, e.device, rule.id), cause_ts,
                        e.kind, e.site, e.device, count)
