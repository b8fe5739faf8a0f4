"""Presence at the edge: which guard's tag is at which checkpoint receiver (docs/patrol.md).

Every advert a receiver hears goes through ``PresenceEngine.feed`` (10,000 a second on a big
site, so it is synchronous, allocation-light and never logs on the common path). Per (tag,
receiver) the calibrated RSSI (``rssi - rssi_at_1m``, so receivers compare fairly) is smoothed;
a presence starts when the smoothed value reaches the enter level and lasts, with hysteresis,
while adverts keep it above the leave level, until ``leave_after_s`` pass with none (lost
packets do not end it). Of the receivers hearing a tag above the enter level only the
strongest (the *leader*) accumulates dwell, from the advert that made it lead (above the enter
level) to the latest one above the leave level; an advert below the leave level restarts it.
One ``Visit`` per presence once the leader has been there ``dwell_s``. Outputs go to
``sink`` as typed values; the service turns them into ``patrol.*`` events.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

import structlog

from contract import Clock
from drivers.ble.model import Advert
from edge.config.model import PatrolConfig
from edge.patrol.battery import BatteryLow, BatteryWatch
from edge.patrol.clone import Cloned, CloneWatch

__all__ = ["BatteryLow", "Cloned", "Output", "PresenceEngine", "PresenceSettings", "Receiver",
           "Seen", "Visit"]

#: Time constant of the RSSI smoothing (an exponential moving average weighted by the time
#: between adverts, so a tag advertising at 10 Hz is smoothed like one at 1 Hz). BLE RSSI
#: jitters by 4–6 dB (multipath, the guard's body); at 1 advert/s τ = 2 s gives each advert
#: a weight of ~0.4, halving the jitter while following a guard who arrives well within the
#: 5 s dwell. The first advert of a link (or after a gap ≥ leave_after_s) is taken as is.
SMOOTHING_TAU_S: Final = 2.0
#: A receiver takes the lead from the current leader only when stronger by this much: a
#: guard standing between two receivers must not restart the dwell on every advert.
SWITCH_DB: Final = 3.0
#: The leader still contends only if heard within this long (a few advert intervals): a
#: receiver the guard walked away from must not block the next one for leave_after_s.
CONTEND_S: Final = 3.0
#: A tag that rotates its MAC (privacy) would grow the MAC → tag map while it stays around:
#: past this many MACs per tag tracked the map is rebuilt from the next frames.
MAX_MACS_PER_TAG: Final = 2
#: Unknown receiver ids logged (each once); more are only counted.
MAX_UNKNOWN_LOGGED: Final = 100


@dataclass(frozen=True, slots=True)
class PresenceSettings:
    """The ``patrol:`` presence keys, defaults as docs/patrol.md "Presence"."""

    dwell_s: float = 5.0
    enter_db: float = 12.0
    hysteresis_db: float = 6.0
    leave_after_s: float = 10.0
    max_speed_mps: float = 4.0
    range_m: float = 5.0
    battery_low_mv: int = 2500
    tag_seen_every_s: float = 60.0

    @classmethod
    def of(cls, cfg: PatrolConfig) -> PresenceSettings:
        return cls(dwell_s=cfg.dwell_s, enter_db=cfg.enter_db, hysteresis_db=cfg.hysteresis_db,
                   leave_after_s=cfg.leave_after_s, max_speed_mps=cfg.max_speed_mps,
                   range_m=cfg.range_m, battery_low_mv=cfg.battery_low_mv,
                   tag_seen_every_s=cfg.tag_seen_every_s)


class Receiver(Protocol):
    """What presence needs of a receiver (edge.config.model.PatrolReceiver has it)."""

    @property
    def id(self) -> str: ...
    @property
    def rssi_at_1m(self) -> int: ...
    @property
    def x(self) -> float: ...
    @property
    def y(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Visit:
    """``patrol.checkpoint`` (BLE): the tag dwelt at the receiver. ``rssi``: the strongest
    smoothed calibrated RSSI of the presence (dB against the receiver's 1 m reading);
    ``raw_rssi``: the strongest dBm as heard."""

    tag: str
    receiver: str
    at: datetime  # UTC, when the dwell was reached
    dwell_s: float
    rssi: int
    raw_rssi: int


@dataclass(frozen=True, slots=True)
class Seen:
    """``patrol.tag_seen``, sampled once per tag and receiver per ``tag_seen_every_s``;
    ``rssi`` is the dBm as heard (what an installer compares with a phone app)."""

    tag: str
    receiver: str
    rssi: int
    battery_mv: int | None
    at: datetime  # UTC


Output = Visit | Seen | Cloned | BatteryLow


class _Link:
    """One (tag, receiver): the smoothed RSSI and the presence state."""

    __slots__ = ("best", "ema", "last_above", "last_at", "present", "raw_best", "seen_at",
                 "since", "visited")

    def __init__(self, ema: float, at: float) -> None:
        self.ema = ema
        self.last_at = at  # last advert
        self.present = False  # entered, not yet left
        self.visited = False  # this presence has yielded its Visit
        self.since: float | None = None  # start of the dwell (leader only)
        self.last_above = at  # last advert above the leave level
        self.best = ema
        self.raw_best = -999
        self.seen_at = -math.inf  # last Seen sampled


class _Tag:
    __slots__ = ("battery_mv", "enters", "last_at", "leader", "links")

    def __init__(self, at: float) -> None:
        self.links: dict[str, _Link] = {}
        self.leader: str | None = None  # the receiver accumulating dwell
        #: receiver → last advert above the enter level (kept CloneWatch.horizon_s).
        self.enters: dict[str, float] = {}
        self.last_at = at
        self.battery_mv: int | None = None


class PresenceEngine:
    def __init__(self, receivers: Iterable[Receiver], settings: PresenceSettings, clock: Clock,
                 sink: Callable[[Output], None], *, site: str = "") -> None:
        rx = list(receivers)
        self._cal = {r.id: r.rssi_at_1m for r in rx}
        self._s = settings
        self._clock = clock
        self._sink = sink
        self._enter = -settings.enter_db
        self._leave = -settings.enter_db - settings.hysteresis_db
        self._clones = CloneWatch(rx, settings.max_speed_mps, settings.range_m)
        self._battery = BatteryWatch(settings.battery_low_mv)
        self._tags: dict[str, _Tag] = {}
        self._macs: dict[str, str] = {}  # MAC → tag, for TLM frames that carry no tag id
        self._unknown: set[str] = set()
        self._log = structlog.get_logger("edge.patrol").bind(site=site)
        self._n = dict.fromkeys(("adverts", "unknown_receiver", "untagged", "visits", "cloned",
                                 "battery_low", "seen"), 0)

    # -- the hot path ------------------------------------------------------------------------

    def feed(self, advert: Advert) -> None:
        n = self._n
        n["adverts"] += 1
        cal_1m = self._cal.get(advert.receiver)
        if cal_1m is None:
            n["unknown_receiver"] += 1
            if advert.receiver not in self._unknown and len(self._unknown) < MAX_UNKNOWN_LOGGED:
                self._unknown.add(advert.receiver)
                self._log.warning("patrol.unknown_receiver", receiver=advert.receiver)
            return
        tag = advert.tag
        if tag is None:
            self._tlm(advert)
            return
        at, rid = advert.at, advert.receiver
        st = self._tags.get(tag)
        if st is None:
            st = self._tags[tag] = _Tag(at)
        st.last_at = at
        if advert.mac:
            self._macs[advert.mac] = tag
        if advert.battery_mv is not None:
            self._reading(tag, st, advert.battery_mv, at)
        cal = advert.rssi - cal_1m
        link = st.links.get(rid)
        fresh = link is None  # one unsmoothed advert is no evidence of a clone
        if link is None:
            link = st.links[rid] = _Link(cal, at)
            ema: float = cal
        else:
            if link.present and at - link.last_above > self._s.leave_after_s:
                self._end(st, rid, link)
            dt = at - link.last_at
            if dt >= self._s.leave_after_s:
                ema = cal
            else:
                ema = link.ema + (cal - link.ema) * (1.0 - math.exp(-dt / SMOOTHING_TAU_S))
            link.ema = ema
            link.last_at = at
        if at - link.seen_at >= self._s.tag_seen_every_s:
            link.seen_at = at
            n["seen"] += 1
            self._sink(Seen(tag, rid, advert.rssi, st.battery_mv, self._wall(at)))
        if ema >= self._enter:
            if not fresh:
                st.enters[rid] = at
                if len(st.enters) > 1:
                    self._check_clone(tag, rid, at, st)
            if not link.present:
                link.present, link.visited, link.since = True, False, None
                link.best, link.raw_best = ema, advert.rssi
        elif not link.present or ema < self._leave:
            if link.present and not link.visited:
                link.since = None  # below the leave level: the dwell starts again
            return
        link.last_above = at
        if ema > link.best:
            link.best = ema
        if advert.rssi > link.raw_best:
            link.raw_best = advert.rssi
        if st.leader != rid and not self._take_lead(st, rid, link, ema, at):
            return
        if link.visited:
            return
        if link.since is None:
            if ema < self._enter:
                return
            link.since = at
        if at - link.since >= self._s.dwell_s:
            self._visit(tag, rid, link, at)

    def _take_lead(self, st: _Tag, rid: str, link: _Link, ema: float, at: float) -> bool:
        """Whether ``rid`` (above the leave level, not the leader) now leads the tag."""
        cur = st.links.get(st.leader) if st.leader is not None else None
        if ema < self._enter or (cur is not None and cur.present
                                 and at - cur.last_at <= CONTEND_S
                                 and ema <= cur.ema + SWITCH_DB):
            link.since = None  # weaker: it does not accumulate meanwhile
            return False
        # Only the leader has a dwell start (``since``): taking the lead starts it afresh, so
        # a receiver that lost the lead and wins it back has its dwell reset.
        if cur is not None:
            cur.since = None
        st.leader = rid
        link.since = None
        return True

    def _visit(self, tag: str, rid: str, link: _Link, at: float) -> None:
        link.visited = True
        self._n["visits"] += 1
        assert link.since is not None
        v = Visit(tag, rid, self._wall(at), round(at - link.since, 1), round(link.best),
                  link.raw_best)
        self._log.debug("patrol.visit", tag=tag, receiver=rid, dwell_s=v.dwell_s, rssi=v.rssi)
        self._sink(v)

    def _end(self, st: _Tag, rid: str, link: _Link) -> None:
        link.present = link.visited = False
        link.since = None
        if st.leader == rid:
            st.leader = None

    def _check_clone(self, tag: str, rid: str, at: float, st: _Tag) -> None:
        for s in self._clones.check(tag, rid, at, st.enters):
            self._n["cloned"] += 1
            self._log.warning("presence.clone_suspected", tag=tag, receiver=s.second, first=s.first,
                              distance_m=s.distance_m, elapsed_s=s.elapsed_s)
            self._sink(Cloned(tag, s.first, s.second, s.distance_m, s.elapsed_s,
                              self._wall(at)))

    def _tlm(self, advert: Advert) -> None:
        """A frame without a tag id: an Eddystone TLM carries the battery of the beacon that
        sent its UID from the same MAC."""
        tag = self._macs.get(advert.mac)
        st = self._tags.get(tag) if tag is not None else None
        if tag is None or st is None or advert.battery_mv is None:
            self._n["untagged"] += 1
            return
        self._reading(tag, st, advert.battery_mv, advert.at)

    def _reading(self, tag: str, st: _Tag, mv: int, at: float) -> None:
        st.battery_mv = mv
        if self._battery.reading(tag, mv, at):
            self._n["battery_low"] += 1
            self._log.info("presence.battery_low", tag=tag, battery_mv=mv,
                           threshold_mv=self._battery.threshold_mv)
            self._sink(BatteryLow(tag, mv, self._battery.threshold_mv, self._wall(at)))

    def _wall(self, at: float) -> datetime:
        """The UTC time of monotonic ``at`` (adverts are stamped with clock.monotonic())."""
        ago = self._clock.monotonic() - at
        now = self._clock.now()
        return now - timedelta(seconds=ago) if ago > 0 else now

    # -- housekeeping ------------------------------------------------------------------------

    def expire(self) -> None:
        """End presences not heard above the leave level for ``leave_after_s`` and forget what
        went idle: links silent that long (a tag that left, a receiver that went quiet), a
        tag's clone evidence past the clone horizon, tags with nothing left, their MACs."""
        now = self._clock.monotonic()
        leave = self._s.leave_after_s
        keep = max(self._clones.horizon_s, leave)
        quiet, old = now - leave, now - keep
        gone: list[str] = []
        for tag, st in self._tags.items():
            if st.last_at < old:
                gone.append(tag)  # nothing heard for longer than anything is kept
                continue
            links = st.links
            stale = [rid for rid, link in links.items()
                     if link.last_at < quiet or (link.present and link.last_above < quiet)]
            for rid in stale:
                link = links[rid]
                if link.last_at < quiet:  # silent: forget it (its presence ends with it)
                    if st.leader == rid:
                        st.leader = None
                    del links[rid]
                else:  # still heard, but not above the leave level: the presence ends
                    self._end(st, rid, link)
            enters = st.enters
            if enters and min(enters.values()) < old:
                for rid in [r for r, at in enters.items() if at < old]:
                    del enters[rid]
            if not links and not enters:
                gone.append(tag)
        for tag in gone:
            del self._tags[tag]
        if gone:
            tags = self._tags
            for mac in [m for m, t in self._macs.items() if t not in tags]:
                del self._macs[mac]
        if len(self._macs) > MAX_MACS_PER_TAG * len(self._tags) + 1000:
            self._macs.clear()  # tags rotating their MAC: relearnt from the next UID frame
        self._clones.expire(now)
        self._battery.expire(now)

    def stats(self) -> dict[str, int]:
        """Counters for /healthz: adverts, unknown_receiver, untagged (no tag id and no MAC
        known), visits, cloned, battery_low, seen; tags tracked and tags present now."""
        present = sum(1 for st in self._tags.values()
                      if any(link.present for link in st.links.values()))
        return {**self._n, "tags": len(self._tags), "present": present}

    def sizes(self) -> dict[str, int]:
        """The sizes of the internal maps (memory is bounded when these are)."""
        return {"tags": len(self._tags), "links": sum(len(t.links) for t in self._tags.values()),
                "enters": sum(len(t.enters) for t in self._tags.values()),
                "macs": len(self._macs), "clone_limits": len(self._clones),
                "battery_low": len(self._battery)}
