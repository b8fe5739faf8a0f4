"""What a simulated 微耕/UHPPOTE controller holds: doors, cards, the event log, the listener.

Pure state and decisions, no sockets (``uhppote_sim`` serves it over UDP), so the rules of a
swipe, a forced door or a door held open read in one place. Times are the controller's own
clock: the host's local time plus whatever offset ``set-time`` asked for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from simulators.access import uhppote_wire as w


@dataclass
class Door:
    mode: int = w.CONTROLLED
    delay: int = 3
    open: bool = False
    unlocked: bool = False
    button: bool = False
    #: Controller time the door last opened (held-open check).
    opened_at: dt.datetime | None = None
    held_reported: bool = False


@dataclass(frozen=True)
class Card:
    number: int
    start: dt.date
    end: dt.date
    #: Per door 1..4: 0 none, 1 always, 2–254 a time profile id.
    doors: tuple[int, int, int, int]
    pin: int = 0
    first_card: int = 0


@dataclass(frozen=True)
class TimeProfile:
    """When a card with this profile (2–254) may open a door: dates, weekdays (Monday
    first), up to three HH:mm segments (00:00–00:00 unused), and a linked profile tried next."""

    id: int
    start: dt.date
    end: dt.date
    weekdays: tuple[bool, ...]
    segments: tuple[tuple[dt.time, dt.time], ...]
    linked: int = 0

    def allows(self, when: dt.datetime) -> bool:
        if not self.start <= when.date() <= self.end or not self.weekdays[when.weekday()]:
            return False
        now = when.time()
        return any(a <= now <= b for a, b in self.segments if (a, b) != (dt.time(), dt.time()))


@dataclass(frozen=True)
class Event:
    index: int
    type: int
    granted: bool
    door: int
    direction: int
    card: int
    timestamp: dt.datetime
    reason: int


@dataclass
class ControllerState:
    """One controller. ``capacity`` bounds the event log: older events read as overwritten."""

    serial: int
    doors_count: int = 4
    capacity: int = 200_000
    special_events: bool = False
    listener: tuple[str, int] = ("0.0.0.0", 0)
    listener_interval: int = 0
    downloaded_index: int = 0
    clock_offset: dt.timedelta = dt.timedelta(0)
    doors: dict[int, Door] = field(default_factory=dict)
    cards: dict[int, Card] = field(default_factory=dict)
    profiles: dict[int, TimeProfile] = field(default_factory=dict)
    #: Card slots in the order stored, as get-card-by-index walks them; None = deleted.
    slots: list[int | None] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    first_index: int = 1
    sequence: int = 0

    def __post_init__(self) -> None:
        if self.doors_count not in (1, 2, 4):
            raise ValueError("a controller has 1, 2 or 4 doors")
        self.doors = {d: Door() for d in range(1, self.doors_count + 1)}

    # -- time -----------------------------------------------------------------------------
    def now(self) -> dt.datetime:
        return (dt.datetime.now() + self.clock_offset).replace(microsecond=0)

    def set_time(self, value: dt.datetime) -> None:
        self.clock_offset = value - dt.datetime.now()

    # -- cards ----------------------------------------------------------------------------
    def put_card(self, card: Card) -> None:
        if card.number not in self.cards:
            self.slots.append(card.number)
        self.cards[card.number] = card

    def delete_card(self, number: int) -> bool:
        if self.cards.pop(number, None) is None:
            return False
        self.slots[self.slots.index(number)] = None
        return True

    def delete_all_cards(self) -> None:
        self.cards.clear()
        self.slots.clear()

    def card_at(self, index: int) -> Card | int | None:
        """The card in slot ``index`` (1-based), ``DELETED_CARD`` or None past the end."""
        if not 1 <= index <= len(self.slots):
            return None
        number = self.slots[index - 1]
        return w.DELETED_CARD if number is None else self.cards[number]

    # -- events ---------------------------------------------------------------------------
    @property
    def last_index(self) -> int:
        return self.first_index + len(self.events) - 1

    def record(self, type_: int, reason: int, door: int, *, card: int = 0,
               granted: bool = False, direction: int = w.DIRECTION_IN) -> Event:
        event = Event(self.last_index + 1, type_, granted, door, direction, card, self.now(),
                      reason)
        self.events.append(event)
        if len(self.events) > self.capacity:
            del self.events[0]
            self.first_index += 1
        return event

    def event(self, index: int) -> Event | int | None:
        """The event at ``index``; ``TYPE_OVERWRITTEN`` when it fell off the log; None past
        the end."""
        if index < self.first_index:
            return w.TYPE_OVERWRITTEN
        if index > self.last_index:
            return None
        return self.events[index - self.first_index]

    # -- what happens at a door -----------------------------------------------------------
    def decide(self, card_number: int, door: int) -> tuple[bool, int]:
        """(granted, reason) for a card at a door, as the controller decides it."""
        d = self.doors[door]
        card = self.cards.get(card_number)
        if d.mode == w.NORMALLY_CLOSED:
            return False, w.REASON_NORMALLY_CLOSED
        if card is None:
            return False, w.REASON_DENIED
        today = self.now().date()
        permission = card.doors[door - 1]
        if not card.start <= today <= card.end or permission == 0:
            return False, w.REASON_NO_PRIVILEGE
        if permission >= 2 and not self._profile_allows(permission):
            return False, w.REASON_TIME_PROFILE
        return True, w.REASON_SWIPE

    def _profile_allows(self, pid: int) -> bool:
        now, seen = self.now(), set()
        while pid and pid not in seen:      # linked profiles, never round a loop
            seen.add(pid)
            profile = self.profiles.get(pid)
            if profile is None:
                return False
            if profile.allows(now):
                return True
            pid = profile.linked
        return False

    def door_opened(self, door: int) -> list[Event]:
        d = self.doors[door]
        if d.open:
            return []
        d.open, d.opened_at, d.held_reported = True, self.now(), False
        out = []
        if not d.unlocked and d.mode != w.NORMALLY_OPEN:
            out.append(self.record(w.TYPE_ALARM, w.REASON_FORCED_OPEN, door))
        if self.special_events:
            out.append(self.record(w.TYPE_DOOR, w.REASON_DOOR_OPEN, door, granted=True))
        return out

    def door_closed(self, door: int) -> list[Event]:
        d = self.doors[door]
        if not d.open:
            return []
        d.open, d.opened_at = False, None
        if self.special_events:
            return [self.record(w.TYPE_DOOR, w.REASON_DOOR_CLOSED, door, granted=True)]
        return []

    def held_open(self, door: int, after_s: float) -> Event | None:
        """A door open longer than ``after_s`` seconds, reported once per opening."""
        d = self.doors[door]
        if (not d.open or d.held_reported or d.opened_at is None
                or d.mode == w.NORMALLY_OPEN
                or (self.now() - d.opened_at).total_seconds() < after_s):
            return None
        d.held_reported = True
        return self.record(w.TYPE_ALARM, w.REASON_HELD_OPEN, door)

    def relays(self) -> int:
        return sum(1 << (n - 1) for n, d in self.doors.items()
                   if d.unlocked or d.mode == w.NORMALLY_OPEN)
