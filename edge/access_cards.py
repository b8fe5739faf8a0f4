"""The access dataset as each 微耕/UHPPOTE controller must hold it, and the sync that puts it
there.

The controllers decide swipes themselves, from their own card lists, so each must hold the
cards that open one of its doors: a card's dataset doors become per-door permissions on the
controllers that carry those doors (``["*"]`` is every door), its validity becomes the
controller's date range (in site time: a controller knows dates, not times of day), a blocked
card or holder is left off (revoked), and a card with a time profile gets that profile's
number. Time profiles become controller profiles 2…254 (names sorted): one per window,
chained by ``linked`` when a profile has several windows, and a window that runs past
midnight is split in two.

``ControllerCards.apply(doc)`` validates the document with the edge's own credential reader
(``edge.access.credentials``), then syncs every controller (profiles first, then cards) and
returns each controller's report; a controller that cannot be reached is reported, not
raised, so the others still get the new version.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from drivers.access.sync import SyncReport
from drivers.access.uhppote import UhppoteDriver
from drivers.access.uhppote_model import CardSpec, ControllerError, TimeProfileSpec
from edge.access.credentials import ALL_DOORS, CredentialStore, Permit, Window

log = structlog.get_logger("edge.access_cards")

FIRST_PROFILE, LAST_PROFILE = 2, 254
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2099, 12, 31)
_END_OF_DAY = dt.time(23, 59)


@dataclass(frozen=True, slots=True)
class ControllerPlan:
    profiles: tuple[TimeProfileSpec, ...]
    cards: tuple[CardSpec, ...]


def _segments(windows: tuple[Window, ...]) -> list[tuple[frozenset[int], dt.time, dt.time]]:
    """(weekdays 0 = Monday, from, to) per window, a window past midnight split in two."""
    out = []
    for w in windows:
        days = frozenset(d - 1 for d in w.days)
        if w.start < w.end:
            out.append((days, w.start, w.end))
        else:
            out.append((days, w.start, _END_OF_DAY))
            out.append((frozenset((d + 1) % 7 for d in days), dt.time(0, 0), w.end))
    return out


def profile_specs(store: CredentialStore, names: list[str]) -> tuple[dict[str, int],
                                                                       list[TimeProfileSpec]]:
    """Controller profile ids by dataset name, and the profiles (linked chains)."""
    ids: dict[str, int] = {}
    specs: list[TimeProfileSpec] = []
    next_id = FIRST_PROFILE
    for name in sorted(names):
        segments = _segments(store.windows(name))
        chain = list(range(next_id, next_id + len(segments)))
        if not chain or chain[-1] > LAST_PROFILE:
            raise ValueError(f"time_profiles: more than {LAST_PROFILE - 1} controller profiles")
        ids[name] = chain[0]
        for pid, (days, start, end), linked in zip(chain, segments, [*chain[1:], 0],
                                                   strict=True):
            specs.append(TimeProfileSpec(pid, EARLIEST, LATEST, days, ((start, end),), linked))
        next_id = chain[-1] + 1
    return ids, specs


def plan(doc: Mapping[str, Any], driver: UhppoteDriver, tz: dt.tzinfo) -> dict[str, ControllerPlan]:
    """What each controller must hold for this dataset version."""
    store = CredentialStore.from_dataset(doc)
    profile_ids, profiles = profile_specs(store, list(doc.get("time_profiles") or {}))
    config = driver.config
    out: dict[str, ControllerPlan] = {}
    for c in config.controllers:
        doors = {d.id: d.door for d in config.doors if d.controller == c.id}
        cards = []
        for key in doc.get("cards") or {}:
            permit = store.card(str(key))
            if permit is None or store.is_blocked(str(key)) or store.is_blocked(permit.holder):
                continue
            card = _card(int(key), permit, doors, profile_ids, tz)
            if card is not None:
                cards.append(card)
        out[c.id] = ControllerPlan(tuple(profiles), tuple(cards))
    return out


def _card(number: int, permit: Permit, doors: dict[str, int], profile_ids: dict[str, int],
          tz: dt.tzinfo) -> CardSpec | None:
    numbers = set(doors.values()) if ALL_DOORS in permit.doors else {
        n for d, n in doors.items() if d in permit.doors}
    if not numbers:
        return None
    level = profile_ids[permit.profile] if permit.profile else 1
    start = permit.valid_from.astimezone(tz).date() if permit.valid_from else EARLIEST
    end = permit.valid_to.astimezone(tz).date() if permit.valid_to else LATEST
    return CardSpec(number, start, end, {n: level for n in numbers})


class ControllerCards:
    """Keeps every controller's cards and time profiles in step with the access dataset."""

    def __init__(self, driver: UhppoteDriver, tz: dt.tzinfo) -> None:
        self._driver = driver
        self._tz = tz
        self.version: int | None = None
        #: The profiles each controller was last given (cleared and rewritten on a change,
        #: and once after each start, since profiles cannot be listed).
        self._profiles: dict[str, tuple[TimeProfileSpec, ...]] = {}

    async def apply(self, doc: Mapping[str, Any]) -> dict[str, SyncReport | str]:
        plans = plan(doc, self._driver, self._tz)
        out: dict[str, SyncReport | str] = {}
        for cid, p in plans.items():
            c = self._driver.config.controller(cid)
            try:
                if self._profiles.get(cid) != p.profiles:  # rewritten only when they change
                    self._profiles.pop(cid, None)
                    await self._driver.client.clear_time_profiles(c)
                    for profile in p.profiles:
                        await self._driver.client.set_time_profile(c, profile)
                    self._profiles[cid] = p.profiles
                out[cid] = await self._driver.sync_cards(cid, p.cards)
            except ControllerError as exc:
                out[cid] = f"门禁控制器无应答 / controller did not answer: {exc}"
            result = out[cid]
            log.info("门禁卡同步 / card sync", controller=cid, version=doc.get("version"),
                     **(result.summary() if isinstance(result, SyncReport)
                        else {"error": result}))
        self.version = int(doc["version"])
        return out
