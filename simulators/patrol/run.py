"""Running the walkers in (scaled) time against the site broker: what ``python -m
simulators.patrol`` and ``courtyard sim site`` share.

Simulated seconds run ``speedup`` times faster than real ones; the clock starts once the
site broker is connected, so ``late`` and ``silent`` times count from when receivers can
publish. With a real edge keep ``speedup`` 1: the edge's dwell is in its own real seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml

from simulators.patrol.config import PatrolSpec, patrol_of
from simulators.patrol.engine import ADVERT_INTERVAL_S, Guard, PatrolEngine
from simulators.patrol.frames import parse_tag
from simulators.patrol.publisher import SiteBrokerPublisher
from simulators.patrol.scenarios import parse_scenario
from simulators.patrol.walk import STAY_S, WALK_MPS
from simulators.siteconfig import expand_env

#: PROTOCOLS.md test vector 6, and an Eddystone UID for the battery scenario.
DEFAULT_IBEACON = "426c7565-4368-6172-6d42-6561636f6e73:3838:4949"
DEFAULT_EDDYSTONE = "8b0ca750e7a74e14bd99:000000000707"
DEFAULT_GUARD = "张保安"
REPORT_EVERY_S = 60.0


@dataclass(frozen=True)
class PatrolOptions:
    """What the walkers do. ``route`` None: every receiver of the site file in its order;
    ``tags`` empty: the vector-6 iBeacon (an Eddystone tag for the battery scenario), one
    guard per tag; ``speedup`` None: the site simulator's."""

    scenario: tuple[str, ...] = ("perfect",)
    route: tuple[str, ...] | None = None
    tags: tuple[str, ...] = ()
    guard: str = DEFAULT_GUARD
    loop: bool = False
    stay_s: float = STAY_S
    start_after_s: float = 5.0
    speed_mps: float = WALK_MPS
    interval_s: float = ADVERT_INTERVAL_S
    speedup: float | None = None
    seed: int = 14
    theengs: str = "half"


class Sender(Protocol):
    def send(self, topic: str, payload: bytes) -> None: ...


def build_engine(spec: PatrolSpec, opts: PatrolOptions,
                 say: Callable[[str], None] = print) -> PatrolEngine:
    """The guards, scenario and receivers of ``opts``; ValueError (zh/en) when they do not
    fit the site file."""
    if opts.speedup is not None and opts.speedup <= 0:
        raise ValueError("倍速必须大于 0 / speedup must be > 0")
    scenario = parse_scenario(list(opts.scenario))
    route = opts.route if opts.route is not None else tuple(r.id for r in spec.receivers)
    if not route:
        raise ValueError("站点文件 patrol.receivers 为空，无路线可走 / patrol.receivers is empty: "
                         "no route to walk")
    texts = opts.tags or ((DEFAULT_EDDYSTONE,) if scenario.battery_after_s is not None
                          else (DEFAULT_IBEACON,))
    tags = [parse_tag(t) for t in texts]
    guards = [Guard(name=opts.guard if len(tags) == 1 else f"{opts.guard}{i + 1}", tag=tag,
                    route=route, stay_s=opts.stay_s, start_after_s=opts.start_after_s,
                    speed_mps=opts.speed_mps, loop=opts.loop)
              for i, tag in enumerate(tags)]
    return PatrolEngine(spec, guards, scenario, seed=opts.seed, interval_s=opts.interval_s,
                        theengs=opts.theengs, say=say)


class SimTime:
    """Simulated seconds since ``start()``, running ``speedup`` times faster than real."""

    def __init__(self, speedup: float = 1.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if speedup <= 0:
            raise ValueError("speedup 必须大于 0 / speedup must be > 0")
        self.speedup = speedup
        self._mono = monotonic
        self._t0 = monotonic()

    def start(self) -> None:
        self._t0 = self._mono()

    def now(self) -> float:
        return (self._mono() - self._t0) * self.speedup

    async def sleep_until(self, t: float) -> None:
        # Always yield, also when behind: the publisher shares this loop.
        await asyncio.sleep(max(0.0, (t - self.now()) / self.speedup))


async def walk_and_publish(engine: PatrolEngine, sender: Sender, clock: SimTime, *,
                           until: float | None = None,
                           report: Callable[[], None] | None = None) -> None:
    """Publish each advert when it is due, until every walker left (or ``until``)."""
    next_report = REPORT_EVERY_S
    while (t := engine.next_at()) is not None and (until is None or t <= until):
        await clock.sleep_until(t)
        for m in engine.step():
            sender.send(m.topic, m.payload)
        if report is not None and t >= next_report:
            next_report += REPORT_EVERY_S
            report()


async def run_patrol(spec: PatrolSpec, opts: PatrolOptions, *, speedup: float = 1.0,
                     site: str = "", say: Callable[[str], None] = print,
                     engine: PatrolEngine | None = None) -> None:
    """Walk the guards against the site broker until they are done (forever on a loop)."""
    engine = engine or build_engine(spec, opts, say)
    clock = SimTime(opts.speedup or speedup)
    async with SiteBrokerPublisher(spec.host, spec.port, username=spec.username,
                                   password=spec.password, tls=spec.tls, site=site,
                                   say=say) as pub:
        await pub.connected.wait()
        clock.start()

        def report() -> None:
            say(f"巡更：已发布 {pub.sent} 条接收器消息，丢弃 {pub.dropped} 条 / patrol: {pub.sent} "
                f"receiver messages published, {pub.dropped} dropped")

        await walk_and_publish(engine, pub, clock, report=report)
        await pub.drain()
        report()


def load_patrol(site_yaml: Path) -> PatrolSpec:
    """Only the ``patrol`` section of a site file (``${VAR}`` expanded as the edge does)."""
    try:
        raw = yaml.safe_load(site_yaml.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"无法读取站点文件 / cannot read site file {site_yaml}: {exc}") from exc
    spec = patrol_of(expand_env(raw.get("patrol")) if isinstance(raw, dict) else None)
    if spec is None:
        raise ValueError(f"站点文件没有 patrol 段 / the site file {site_yaml} has no patrol "
                         "section")
    return spec
