"""The patrol simulation without time: guards (and a clone) with tags advertising every
~second, each advert heard by the receivers in range and turned into the MQTT messages those
receivers publish. The async runner only sleeps until ``next_at`` and publishes ``step()``'s
messages, so the scenarios are tested here, instantly and deterministically (seeded)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from simulators.patrol.config import PatrolSpec, ReceiverSpec
from simulators.patrol.frames import EddystoneTag, Tag, tag_mac, tlm_frame
from simulators.patrol.radio import RadioModel
from simulators.patrol.scenarios import BATTERY_THRESHOLD_MV, Scenario
from simulators.patrol.walk import STAY_S, WALK_MPS, Stop, Walk
from simulators.patrol.wire import (
    encode,
    espresense_payload,
    espresense_topic,
    omg_payload,
    omg_topic,
)

ADVERT_INTERVAL_S = 1.0
JITTER = 0.1  # ± fraction of the interval between adverts
TLM_EVERY = 5  # an Eddystone tag sends a TLM frame instead of its UID every 5th advert
DETOUR_M = 20.0  # how far a guard skipping a checkpoint keeps from it
THEENGS = ("half", "all", "none")


@dataclass(frozen=True)
class Guard:
    name: str
    tag: Tag
    route: tuple[str, ...]  # receiver ids, in walking order
    stay_s: float = STAY_S
    start_after_s: float = 5.0
    speed_mps: float = WALK_MPS
    loop: bool = False


@dataclass
class Transmitter:
    who: str  # the guard, for progress lines
    tag: Tag
    mac: str
    walk: Walk
    clone: bool = False
    next_at: float = 0.0
    adverts: int = 0  # adverts sent on air (the TLM advert count)
    published: int = 0  # receiver messages caused
    last_stay: str | None = None
    done: bool = False


@dataclass(frozen=True, slots=True)
class Message:
    at: float  # simulated second
    receiver: str
    topic: str
    payload: bytes
    who: str
    rssi: int


class PatrolEngine:
    def __init__(self, spec: PatrolSpec, guards: Sequence[Guard],
                 scenario: Scenario | None = None, *, seed: int = 14,
                 interval_s: float = ADVERT_INTERVAL_S, jitter: float = JITTER,
                 radio: RadioModel | None = None, theengs: str = "half",
                 tlm_every: int = TLM_EVERY, say: Callable[[str], None] = print) -> None:
        if not guards:
            raise ValueError("没有保安 / no guard to simulate")
        if interval_s <= 0 or not 0 <= jitter < 1 or tlm_every < 1:
            raise ValueError("interval_s > 0, 0 ≤ jitter < 1, tlm_every ≥ 1")
        if theengs not in THEENGS:
            raise ValueError(f"theengs 应为 {' | '.join(THEENGS)} / must be one of "
                             f"{', '.join(THEENGS)}")
        self.spec, self.scenario = spec, scenario or Scenario()
        self.interval_s, self.jitter, self.tlm_every = interval_s, jitter, tlm_every
        self.rng = random.Random(seed)
        self.radio = radio or RadioModel(rng=random.Random(seed + 1))
        self.say = say
        omg = [r.id for r in spec.receivers if r.kind == "openmqttgateway"]
        self.theengs = {rid for i, rid in enumerate(omg)
                        if theengs == "all" or (theengs == "half" and i % 2 == 1)}
        self.silent = self._silent(guards[0])
        if self.scenario.battery_after_s is not None and not any(
                isinstance(g.tag, EddystoneTag) for g in guards):
            raise ValueError("battery 场景需要 Eddystone 标签 / the battery scenario needs an "
                             "Eddystone tag (namespace:instance)")
        self.transmitters = [self._transmitter(g) for g in guards]
        if self.scenario.cloned:
            self.transmitters.append(self._clone(guards[0], self.transmitters[0]))
        for tx in self.transmitters:
            tx.next_at = self.rng.uniform(0, interval_s)
        self._silenced: set[str] = set()
        self._battery_low: set[str] = set()
        self.published = 0

    # -- building the walkers -----------------------------------------------------------------

    def _stops(self, g: Guard) -> list[Stop]:
        spec = self.spec
        route = [spec.receiver(rid) for rid in g.route]
        skip = {(g.route[1] if len(g.route) > 1 else g.route[0]) if s == "" else s
                for s in self.scenario.skip}
        for s in skip:
            if s not in g.route:
                raise ValueError(f"要跳过的 {s} 不在路线上 / {s!r} to skip is not on the route "
                                 f"({', '.join(g.route)})")
        stops: list[Stop] = []
        for i, r in enumerate(route):
            if r.id not in skip:
                stops.append(Stop(r.x, r.y, g.stay_s, r.id))
            elif 0 < i < len(route) - 1:
                stops.append(self._detour(route[i - 1], r, route[i + 1]))
        if not stops:
            raise ValueError("路线上的巡更点都被跳过了 / every checkpoint of the route is skipped")
        return stops

    @staticmethod
    def _detour(prev: ReceiverSpec, skipped: ReceiverSpec, nxt: ReceiverSpec) -> Stop:
        """A waypoint DETOUR_M to the side of the skipped receiver, across the way from
        the previous to the next one, so the guard never comes near it."""
        dx, dy = nxt.x - prev.x, nxt.y - prev.y
        norm = math.hypot(dx, dy) or 1.0
        return Stop(skipped.x - dy / norm * DETOUR_M, skipped.y + dx / norm * DETOUR_M, 0.0)

    def _transmitter(self, g: Guard) -> Transmitter:
        walk = Walk(self._stops(g), speed_mps=g.speed_mps,
                    start_after_s=g.start_after_s + self.scenario.late_s, loop=g.loop,
                    rng=random.Random(self.rng.random()))
        return Transmitter(who=g.name, tag=g.tag, mac=tag_mac(g.tag), walk=walk)

    def _clone(self, g: Guard, real: Transmitter) -> Transmitter:
        first = self.spec.receiver(g.route[0])
        if self.scenario.cloned_at:
            far = self.spec.receiver(self.scenario.cloned_at)
        else:
            others = [r for r in self.spec.simulated if r.id != first.id]
            if not others:
                raise ValueError("cloned 场景需要另一个接收器 / the cloned scenario needs a "
                                 "second receiver")
            far = max(others, key=lambda r: r.distance(first.x, first.y))
        start, end = real.walk.first_stay()
        walk = Walk([Stop(far.x, far.y, end - start, far.id)], start_after_s=start,
                    rng=random.Random(self.rng.random()))
        return Transmitter(who=g.name, tag=g.tag,
                           mac=tag_mac(g.tag, "clone"), walk=walk, clone=True)

    def _silent(self, g: Guard) -> dict[str, float]:
        out = {}
        for rid, after in self.scenario.silent.items():
            out[self.spec.receiver(rid or g.route[-1]).id] = after
        return out

    # -- running ------------------------------------------------------------------------------

    def next_at(self) -> float | None:
        """The simulated second of the next advert; None once every walker has left."""
        live = [tx.next_at for tx in self.transmitters if not tx.done]
        return min(live) if live else None

    def run_until(self, t_end: float) -> list[Message]:
        out: list[Message] = []
        while (t := self.next_at()) is not None and t <= t_end:
            out.extend(self.step())
        return out

    def step(self) -> list[Message]:
        """The adverts of the transmitter due next, as the receivers that hear it publish."""
        tx = min((t for t in self.transmitters if not t.done), key=lambda t: t.next_at)
        t = tx.next_at
        frame = None
        if isinstance(tx.tag, EddystoneTag):
            if tx.adverts % self.tlm_every == self.tlm_every - 1:
                frame = self._tlm(tx, t)
            else:
                frame = tx.tag.uid_frame()
        tx.adverts += 1
        out: list[Message] = []
        pos = tx.walk.position(t)
        if pos is not None:
            self._progress(tx, t)
            for r in self.spec.simulated:
                if r.id in self.silent and t >= self.silent[r.id]:
                    self._say_silent(r.id)
                    continue
                rssi = self.radio.hear(r.rssi_at_1m, r.distance(*pos))
                if rssi is None:
                    continue
                msg = self._message(r, tx, frame, rssi, t)
                if msg is not None:
                    out.append(msg)
        tx.published += len(out)
        self.published += len(out)
        tx.next_at = t + self.interval_s * (1 + self.rng.uniform(-self.jitter, self.jitter))
        ends = tx.walk.ends_at
        if ends is not None and tx.next_at > ends:
            tx.done = True
            if not tx.clone:
                self.say(f"保安 {tx.who} 走完路线，离开（已发送 {tx.published} 条接收器消息）/ "
                         f"guard {tx.who} finished the route ({tx.published} receiver messages "
                         "sent)")
        return out

    def _tlm(self, tx: Transmitter, t: float) -> bytes:
        mv = self.scenario.battery_mv(t)
        if mv < BATTERY_THRESHOLD_MV and tx.tag.label not in self._battery_low:
            self._battery_low.add(tx.tag.label)
            self.say(f"标签 {tx.tag.label} 电量低：{mv} mV / tag {tx.tag.label} battery low: "
                     f"{mv} mV")
        return tlm_frame(mv, 21.5, tx.adverts, max(0.0, t))

    def _message(self, r: ReceiverSpec, tx: Transmitter, frame: bytes | None, rssi: int,
                 t: float) -> Message | None:
        if r.kind == "espresense":
            if frame is not None and frame[0] != 0x00:
                return None  # ESPresense reports the beacon (UID), not its telemetry
            topic = espresense_topic(tx.tag, r.source)
            payload = espresense_payload(tx.tag, tx.mac, rssi, self.interval_s)
        else:
            topic = omg_topic(r.source, tx.mac)
            payload = omg_payload(tx.tag, tx.mac, rssi, frame, theengs=r.id in self.theengs)
        return Message(t, r.id, topic, encode(payload), tx.who, rssi)

    def _progress(self, tx: Transmitter, t: float) -> None:
        stay = tx.walk.staying_at(t)
        if stay is not None and stay != tx.last_stay:
            if tx.clone:
                self.say(f"{tx.who} 的克隆标签出现在接收器 {stay} / a clone of {tx.who}'s tag "
                         f"appears at receiver {stay}")
            else:
                self.say(f"保安 {tx.who} 到达接收器 {stay}（已发送 {tx.published} 条接收器消息）/ "
                         f"guard {tx.who} at receiver {stay} ({tx.published} receiver "
                         "messages sent)")
        tx.last_stay = stay

    def _say_silent(self, rid: str) -> None:
        if rid not in self._silenced:
            self._silenced.add(rid)
            self.say(f"接收器 {rid} 停止发布 / receiver {rid} goes silent")

    def summary(self) -> list[str]:
        lines = []
        for tx in self.transmitters:
            if tx.clone:
                continue
            stops = [leg.receiver for leg in tx.walk.legs if leg.receiver]
            loop = "，循环 / on a loop" if tx.walk.loop else ""
            lines.append(f"巡更：保安 {tx.who}（标签 {tx.tag.label}）{tx.walk.start_after_s:g} 秒后"
                         f"出发，路线 {' → '.join(stops)}{loop} / patrol: guard {tx.who} (tag "
                         f"{tx.tag.label}) sets off after {tx.walk.start_after_s:g} s, route "
                         f"{' → '.join(stops)}")
        lines.append(f"巡更场景 / patrol scenario: {', '.join(self.scenario.names)}")
        for r in self.spec.receivers:
            if r.kind == "adapter":
                lines.append(f"接收器 {r.id}：网关自身蓝牙，不模拟 / receiver {r.id}: the box's "
                             "own adapter, not simulated")
        return lines
