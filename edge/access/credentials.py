"""The credentials the edge decides from: cards, PINs, time profiles and the blocked list.

Built from the access dataset document (a dict; the sync that fetches and persists it is the
dataset's own part). Everything is checked once, when a version is loaded, so a decision
never meets a malformed entry: a bad document raises ``DatasetError`` naming the field and
the version in use stays. Lookups are dict hits, so 10,000 cards cost nothing per read.

Document (``version`` and every section optional but ``version``)::

    {"version": 7,
     "time_profiles": {"day": [{"days": [1, 2, 3, 4, 5], "from": "07:00", "to": "22:00"}]},
     "cards": {"5898564": {"holder": "owner-12", "doors": ["b1-lobby"], "profile": "day",
                           "valid_from": "2026-01-01T00:00:00+08:00", "valid_to": null}},
     "pins": {"2580": {"holder": "owner-12", "doors": ["*"]},
              "2589": {"holder": "owner-12", "doors": ["*"], "duress": true}},
     "blocked": ["5898999", "owner-77"],
     "passes": {"418204719": {"id": 12, "doors": ["b1-lobby"], "uses": 2,
                              "valid_from": "2026-12-07T02:00:00+00:00",
                              "valid_to": "2026-12-08T02:00:00+00:00"}},
     "passes_revoked": [9]}

Card keys are the card number in decimal (``drivers.access.wiegand``); ``days`` are ISO
weekdays (1 = Monday) in the site's time zone; a window whose ``to`` is not after ``from``
runs past midnight. ``doors`` ``["*"]`` is every door. ``blocked`` names cards or holders.
``passes`` are visitor passes by their 9-digit code (the numeric form a QR reader set to
Wiegand output sends), ``passes_revoked`` the ids of revoked ones (``contract.visitor_pass``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

ALL_DOORS = "*"


class DatasetError(ValueError):
    """A document the edge cannot decide from; ``field`` says where."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Window:
    days: frozenset[int]
    start: time
    end: time

    def covers(self, local: datetime) -> bool:
        t, day = local.time(), local.isoweekday()
        if self.start < self.end:
            return day in self.days and self.start <= t < self.end
        yesterday = (local - timedelta(days=1)).isoweekday()
        return (day in self.days and t >= self.start) or (yesterday in self.days
                                                          and t < self.end)


@dataclass(frozen=True, slots=True)
class Permit:
    """What one card or PIN lets its holder do."""

    holder: str
    doors: frozenset[str]
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    profile: str | None = None
    duress: bool = False

    def opens(self, door: str) -> bool:
        return ALL_DOORS in self.doors or door in self.doors


@dataclass(frozen=True, slots=True)
class PassPermit:
    """A visitor pass as the dataset lists it (found by its numeric code)."""

    id: int
    doors: frozenset[str]
    valid_from: datetime
    valid_to: datetime
    uses: int

    def opens(self, door: str) -> bool:
        return ALL_DOORS in self.doors or door in self.doors


class CredentialStore:
    """One loaded version of the dataset."""

    def __init__(self, version: int, cards: dict[str, Permit], pins: dict[str, Permit],
                 profiles: dict[str, tuple[Window, ...]], blocked: frozenset[str],
                 passes: dict[str, PassPermit] | None = None,
                 passes_revoked: frozenset[int] = frozenset()) -> None:
        self.version = version
        self._cards, self._pins, self._profiles = cards, pins, profiles
        self._blocked = blocked
        self._passes = passes or {}
        self._passes_revoked = passes_revoked

    @classmethod
    def from_dataset(cls, doc: Mapping[str, Any]) -> CredentialStore:
        version = doc.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 0:
            raise DatasetError("version", "must be a whole number ≥ 0")
        profiles = {str(name): _windows(f"time_profiles.{name}", spec)
                    for name, spec in _mapping(doc, "time_profiles").items()}
        cards = {str(k): _permit(f"cards.{k}", v, profiles)
                 for k, v in _mapping(doc, "cards").items()}
        for key in cards:
            if not key.isdigit():
                raise DatasetError(f"cards.{key}", "a card key is its number in decimal")
        pins = {str(k): _permit(f"pins.{k}", v, profiles)
                for k, v in _mapping(doc, "pins").items()}
        for pin in pins:
            if not (pin.isdigit() and 4 <= len(pin) <= 12):
                raise DatasetError(f"pins.{pin}", "a PIN is 4 to 12 digits")
        blocked = doc.get("blocked") or []
        if not isinstance(blocked, list) or not all(isinstance(b, str) for b in blocked):
            raise DatasetError("blocked", "must be a list of card numbers or holder ids")
        passes = {str(k): _pass(f"passes.{k}", k, v) for k, v in _mapping(doc, "passes").items()}
        revoked = doc.get("passes_revoked") or []
        if not isinstance(revoked, list) or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in revoked):
            raise DatasetError("passes_revoked", "must be a list of pass ids")
        return cls(version, cards, pins, profiles, frozenset(blocked), passes,
                   frozenset(revoked))

    def card(self, key: str) -> Permit | None:
        return self._cards.get(key)

    def pin(self, pin: str) -> Permit | None:
        return self._pins.get(pin)

    def is_blocked(self, name: str) -> bool:
        return name in self._blocked

    def visitor_pass(self, code: str) -> PassPermit | None:
        """The live pass whose numeric code this is."""
        return self._passes.get(code)

    def pass_revoked(self, pass_id: int) -> bool:
        return pass_id in self._passes_revoked

    def windows(self, profile: str) -> tuple[Window, ...]:
        return self._profiles.get(profile, ())

    def __len__(self) -> int:
        return len(self._cards) + len(self._pins)


def _mapping(doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = doc.get(key) or {}
    if not isinstance(value, Mapping):
        raise DatasetError(key, "must be an object")
    return value


def _permit(field: str, spec: Any, profiles: dict[str, tuple[Window, ...]]) -> Permit:
    if not isinstance(spec, Mapping):
        raise DatasetError(field, "must be an object")
    holder = spec.get("holder")
    if not isinstance(holder, str) or not holder:
        raise DatasetError(f"{field}.holder", "required")
    doors = spec.get("doors")
    if not isinstance(doors, list) or not doors or not all(isinstance(d, str) for d in doors):
        raise DatasetError(f"{field}.doors", "a non-empty list of door ids (or [\"*\"])")
    profile = spec.get("profile")
    if profile is not None and profile not in profiles:
        raise DatasetError(f"{field}.profile", f"no time profile {profile!r}")
    valid_from = _instant(f"{field}.valid_from", spec.get("valid_from"))
    valid_to = _instant(f"{field}.valid_to", spec.get("valid_to"))
    if valid_from and valid_to and valid_to <= valid_from:
        raise DatasetError(f"{field}.valid_to", "must be after valid_from")
    return Permit(holder, frozenset(doors), valid_from, valid_to, profile,
                  bool(spec.get("duress", False)))


def _pass(field: str, code: Any, spec: Any) -> PassPermit:
    if not (isinstance(code, str) and code.isascii() and code.isdigit()):
        raise DatasetError(field, "a pass key is its numeric code")
    if not isinstance(spec, Mapping):
        raise DatasetError(field, "must be an object")
    pid, uses = spec.get("id"), spec.get("uses")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        raise DatasetError(f"{field}.id", "a pass id (a whole number > 0)")
    if not isinstance(uses, int) or isinstance(uses, bool) or uses < 1:
        raise DatasetError(f"{field}.uses", "a whole number ≥ 1")
    doors = spec.get("doors")
    if not isinstance(doors, list) or not doors or not all(isinstance(d, str) for d in doors):
        raise DatasetError(f"{field}.doors", "a non-empty list of door ids (or [\"*\"])")
    start = _instant(f"{field}.valid_from", spec.get("valid_from"))
    end = _instant(f"{field}.valid_to", spec.get("valid_to"))
    if start is None or end is None or end <= start:
        raise DatasetError(f"{field}.valid_to", "a window: valid_from, then valid_to after it")
    return PassPermit(pid, frozenset(doors), start, end, uses)


def _instant(field: str, value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        raise DatasetError(field, "not an ISO 8601 date-time") from None
    if at.tzinfo is None:
        raise DatasetError(field, "needs a UTC offset")
    return at


def _windows(field: str, spec: Any) -> tuple[Window, ...]:
    if not isinstance(spec, list) or not spec:
        raise DatasetError(field, "a non-empty list of windows")
    out = []
    for i, w in enumerate(spec):
        where = f"{field}[{i}]"
        if not isinstance(w, Mapping):
            raise DatasetError(where, "must be an object")
        days = w.get("days")
        if (not isinstance(days, list) or not days
                or not all(isinstance(d, int) and 1 <= d <= 7 for d in days)):
            raise DatasetError(f"{where}.days", "ISO weekdays 1 (Monday) to 7")
        out.append(Window(frozenset(days), _clock(f"{where}.from", w.get("from")),
                          _clock(f"{where}.to", w.get("to"))))
    return tuple(out)


def _clock(field: str, value: Any) -> time:
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise DatasetError(field, "a time of day such as 07:30") from None
