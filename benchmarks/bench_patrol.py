"""Patrol presence at 10,000 adverts/s (issue 14): 50 receivers × 200 tags, each tag advertising
once a second, from receiver MQTT payload bytes (half OpenMQTTGateway with raw iBeacon bytes,
half ESPresense) through the real decoders (drivers/ble) into the presence engine.

Tags walk a ring of receivers 30 m apart: 30 s at 2 m from one (a visit), 10 s walking away
(still heard, weaker), then at the next; 4 dB of RSSI jitter; each receiver's own 1 m
calibration. That is 250 visits/s and 10,000 tags entering and leaving presences all the time
— the steady state a big site's edge lives in.

Time is simulated with a FakeClock (10 minutes of adverts run as fast as the CPU allows);
``--realtime`` paces at 10,000/s on the wall clock instead. Figures: CPU seconds per second of
adverts (the whole process, time.process_time), the edge path alone (decode + feed + expire),
per-advert feed() cost p50/p99, the decision latency (the advert that completed a dwell:
its decode + feed), expire() p99, and memory at intervals: RSS, and with ``--tracemalloc``
the Python memory allocated by edge/, drivers/ and contract/ code (not the generator's),
which slows everything about fivefold.

``python -m benchmarks.bench_patrol --minutes 10 [--realtime] [--tracemalloc]``
"""

from __future__ import annotations

import argparse
import math
import os
import random
import time
import tracemalloc
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks.common import T0, Figures, header
from contract import FakeClock
from drivers.ble.espresense import parse_espresense
from drivers.ble.model import Advert
from drivers.ble.openmqttgateway import parse_omg
from edge.config.model import PatrolReceiver, ReceiverKind
from edge.patrol.presence import Output, PresenceEngine, PresenceSettings, Visit

RECEIVERS = 50
TAGS_PER_RECEIVER = 200
TAGS = RECEIVERS * TAGS_PER_RECEIVER
SPACING_M = 30.0
STINT_S = 40  # 30 s at a checkpoint, 10 s walking on
AT_CHECKPOINT_S = 30
SLICES = 100  # per simulated second: the adverts of a second are spread over it
UUID = "426c7565436861726d426561636f6e73"
BUCKET_S = 1e-7  # histogram resolution: 0.1 µs
BUCKETS = 50_000  # up to 5 ms at that resolution


class Histogram:
    """Fixed memory quantiles (a list of every sample would itself grow over 10 minutes)."""

    def __init__(self, bucket_s: float = BUCKET_S) -> None:
        self.bucket_s = bucket_s
        self.counts = array("Q", bytes(8 * BUCKETS))  # no int objects: flat memory
        self.n = 0
        self.max = 0.0

    def add(self, seconds: float) -> None:
        self.counts[min(int(seconds / self.bucket_s), BUCKETS - 1)] += 1
        self.n += 1
        if seconds > self.max:
            self.max = seconds

    def q(self, p: float) -> float:
        want, seen = p * self.n, 0
        for i, c in enumerate(self.counts):
            seen += c
            if seen >= want and c:
                return (i + 1) * self.bucket_s
        return self.max


@dataclass
class Load:
    """Everything the generator precomputes, so making a payload costs one %-format."""

    receivers: list[PatrolReceiver]
    omg: dict[str, str]  # gateway → receiver id
    rooms: dict[str, str]  # room → receiver id
    topics: list[list[str]] = field(default_factory=list)  # [receiver][tag]… built lazily
    payloads: list[tuple[bytes, bytes]] = field(default_factory=list)  # tag → (omg, esp)
    rssi: list[list[int]] = field(default_factory=list)  # [receiver][second of stint]
    noise: list[int] = field(default_factory=list)


def _load() -> Load:
    rx: list[PatrolReceiver] = []
    omg: dict[str, str] = {}
    rooms: dict[str, str] = {}
    radius = SPACING_M / (2 * math.sin(math.pi / RECEIVERS))
    for r in range(RECEIVERS):
        a = 2 * math.pi * r / RECEIVERS
        kind: ReceiverKind = "openmqttgateway" if r % 2 == 0 else "espresense"
        src = f"gw-{r:02d}" if kind == "openmqttgateway" else f"room-{r:02d}"
        rx.append(PatrolReceiver(id=f"cp-{r:02d}", kind=kind, source=src,
                                 rssi_at_1m=-59 + r % 5 - 2, x=radius * math.cos(a),
                                 y=radius * math.sin(a)))
        (omg if kind == "openmqttgateway" else rooms)[src] = f"cp-{r:02d}"
    load = Load(rx, omg, rooms)
    for i in range(TAGS):
        major, minor = i // 1000, i % 1000
        mac = f"c3:10:00:{i >> 16:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"
        omg_doc = (f'{{"id":"{mac.upper()}","rssi":%d,"brand":"GENERIC","manufacturerdata":'
                   f'"4c000215{UUID}{major:04x}{minor:04x}c5"}}')
        esp_id = (f"iBeacon:{UUID[:8]}-{UUID[8:12]}-{UUID[12:16]}-{UUID[16:20]}-{UUID[20:]}"
                  f"-{major}-{minor}")
        esp_doc = f'{{"id":"{esp_id}","rssi":%d,"rssi@1m":-59,"raw":2.1,"distance":2.1,' \
                  f'"speed":0.01,"mac":"{mac.replace(":", "")}","interval":1000}}'
        load.payloads.append((omg_doc.encode(), esp_doc.encode()))
    for spec in rx:
        per_second = []
        for s in range(STINT_S):
            d = 2.0 if s < AT_CHECKPOINT_S else 2.0 + (s - AT_CHECKPOINT_S + 1) * 2.5
            per_second.append(round(spec.rssi_at_1m - 20 * math.log10(d)))
        load.rssi.append(per_second)
    rng = random.Random(14)
    load.noise = [round(rng.gauss(0, 4)) for _ in range(4096)]
    return load


def generator_cpu(load: Load, seconds: int) -> float:
    """CPU seconds per second of adverts of making the payloads alone (the same loop without
    decode and feed), so the edge's share can be told from the load generator's."""
    phase = [i * 7919 % STINT_S for i in range(TAGS)]
    home = [i // TAGS_PER_RECEIVER for i in range(TAGS)]
    is_omg = [r.kind == "openmqttgateway" for r in load.receivers]
    omg_topic = [f"home/{r.source}/BTtoMQTT/" for r in load.receivers]
    room = [r.source for r in load.receivers]
    sink: list[tuple[str, bytes]] = [("", b"")]
    perf, k = time.perf_counter, 0
    cpu0 = time.process_time()
    for t in range(seconds):
        for i in range(TAGS):
            stint, pos = divmod(t + phase[i], STINT_S)
            r = (home[i] + stint) % RECEIVERS
            rssi = load.rssi[r][pos] + load.noise[k & 4095]
            k += 1
            topic = (f"{omg_topic[r]}C3100{i:07X}" if is_omg[r]
                     else f"espresense/devices/tag{i}/{room[r]}")
            perf()
            sink[0] = (topic, load.payloads[i][0 if is_omg[r] else 1] % rssi)
            perf()
            perf()
    return (time.process_time() - cpu0) / seconds


def _edge_traced_mb() -> float:
    """Python memory allocated by the edge's code (presence and the decoders' caches), not by
    the load generator or the meter around it."""
    snap = tracemalloc.take_snapshot().filter_traces([
        tracemalloc.Filter(True, "*/edge/*"), tracemalloc.Filter(True, "*/drivers/*"),
        tracemalloc.Filter(True, "*/contract/*")])
    return sum(st.size for st in snap.statistics("filename")) / 2**20


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass
class Meter:
    feed: Histogram = field(default_factory=Histogram)
    decision: Histogram = field(default_factory=Histogram)
    expire: Histogram = field(default_factory=lambda: Histogram(1e-5))  # to 0.5 s
    edge_s: float = 0.0  # decode + feed + expire, perf_counter
    visits: int = 0


def simulate(minutes: float, realtime: bool, trace: bool,
             on_row: Callable[[list[str]], None]) -> tuple[Meter, PresenceEngine, float, float]:
    load = _load()
    clock = FakeClock(T0)
    meter = Meter()
    emitted: list[bool] = [False]

    def sink(o: Output) -> None:
        if isinstance(o, Visit):
            emitted[0] = True

    engine = PresenceEngine(load.receivers, PresenceSettings(), clock, sink, site="bench")
    phase = [i * 7919 % STINT_S for i in range(TAGS)]  # stints start spread over 40 s
    home = [i // TAGS_PER_RECEIVER for i in range(TAGS)]
    is_omg = [r.kind == "openmqttgateway" for r in load.receivers]
    omg_topic = [f"home/{r.source}/BTtoMQTT/" for r in load.receivers]
    room = [r.source for r in load.receivers]
    per_slice = TAGS // SLICES
    seconds = round(minutes * 60)
    every = 60 if seconds >= 180 else 15
    if trace:
        tracemalloc.start()
    perf, mono = time.perf_counter, clock.monotonic
    cpu0, wall0, k = time.process_time(), perf(), 0
    row_cpu, row_wall = cpu0, wall0
    for t in range(seconds):
        for s in range(SLICES):
            if realtime:
                ahead = wall0 + t + s / SLICES - perf()
                if ahead > 0:
                    time.sleep(ahead)
            for i in range(s * per_slice, (s + 1) * per_slice):
                stint, pos = divmod(t + phase[i], STINT_S)
                r = (home[i] + stint) % RECEIVERS
                rssi = load.rssi[r][pos] + load.noise[k & 4095]
                k += 1
                topic = (f"{omg_topic[r]}C3100{i:07X}" if is_omg[r]
                         else f"espresense/devices/tag{i}/{room[r]}")
                t0 = perf()
                adv: Advert
                if is_omg[r]:
                    adv = parse_omg(topic, load.payloads[i][0] % rssi, mono(), load.omg)
                else:
                    adv = parse_espresense(topic, load.payloads[i][1] % rssi, mono(), load.rooms)
                t1 = perf()
                engine.feed(adv)
                t2 = perf()
                meter.feed.add(t2 - t1)
                meter.edge_s += t2 - t0
                if emitted[0]:
                    emitted[0] = False
                    meter.visits += 1
                    meter.decision.add(t2 - t0)
            clock.advance(1 / SLICES)
        t0 = perf()
        engine.expire()
        dt = perf() - t0
        meter.expire.add(dt)
        meter.edge_s += dt
        if (t + 1) % every == 0:
            cpu, wall = time.process_time(), perf()
            sizes = engine.sizes()
            traced = f"{_edge_traced_mb():.1f}" if trace else "-"
            on_row([f"{(t + 1) / 60:.2f}", f"{(cpu - row_cpu) / every:.3f}",
                    f"{(cpu - row_cpu) / (wall - row_wall):.2f}", f"{_rss_mb():.1f}", traced,
                    str(sizes["tags"]), str(sizes["links"]), str(engine.stats()["visits"])])
            row_cpu, row_wall = cpu, wall
    cpu, wall = time.process_time() - cpu0, perf() - wall0
    if trace:
        tracemalloc.stop()
    return meter, engine, cpu, wall


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs"


def bench(minutes: float = 1.0, realtime: bool = False, trace: bool = False) -> Figures:
    mode = "real time" if realtime else "simulated time (FakeClock)"
    fig = header(f"patrol: {RECEIVERS} receivers × {TAGS_PER_RECEIVER} tags, 10,000 adverts/s, "
                 f"{minutes:g} min, {mode}")
    cols = ["min", "CPU s/s adv", "CPU s/s wall", "RSS MB", "edge traced", "tags", "links",
            "visits"]
    print("  " + " ".join(f"{c:>12}" for c in cols), flush=True)
    rows: list[list[str]] = []

    def row(cells: list[str]) -> None:
        rows.append(cells)
        print("  " + " ".join(f"{c:>12}" for c in cells), flush=True)

    m, engine, cpu, wall = simulate(minutes, realtime, trace, row)
    sim_s = round(minutes * 60)
    gen = generator_cpu(_load(), 10)
    stats = engine.stats()
    fig.add("adverts (decoded from MQTT payload bytes)", f"{stats['adverts']:,}")
    if trace:
        print("  (tracemalloc on: the CPU and time figures below include its overhead)")
    fig.add("visits / cloned / unknown receiver", f"{stats['visits']:,} / {stats['cloned']} / "
            f"{stats['unknown_receiver']}", "cloned 0 (walking only)")
    fig.add("process CPU per second of adverts", f"{cpu / sim_s:.3f} s")
    fig.add("  of which the load generator (measured alone)", f"{gen:.3f} s")
    fig.add("edge path per second of adverts (the rest)", f"{cpu / sim_s - gen:.3f} s",
            "< 1 (one core)")
    fig.add("edge path, perf_counter sum (incl. preemption)", f"{m.edge_s / sim_s:.3f} s")
    fig.add("process CPU per wall second", f"{cpu / wall:.2f}")
    fig.add("feed() per advert p50 / p99",
            f"{_us(m.feed.q(0.5))} / {_us(m.feed.q(0.99))}")
    fig.add("decision latency p99 (decode + feed, visit)", _us(m.decision.q(0.99)),
            "advert → Visit")
    fig.add("expire() p50 / p99 (once a second)",
            f"{m.expire.q(0.5) * 1e3:.2f} / {m.expire.q(0.99) * 1e3:.2f} ms")
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        fig.add("RSS first → last interval", f"{first[3]} → {last[3]} MB", "no growth")
        if trace:
            fig.add("edge's traced memory first → last interval", f"{first[4]} → {last[4]} MB",
                    "no growth")
    return fig


def run(quick: bool = False) -> Figures:
    return bench(minutes=0.25 if quick else 1.0)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_patrol")
    p.add_argument("--minutes", type=float, default=1.0, help="minutes of adverts (default 1)")
    p.add_argument("--realtime", action="store_true", help="pace at 10,000 adverts/s for real")
    p.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations")
    args = p.parse_args()
    from edge.log import configure_logging

    configure_logging(level="warning")
    bench(args.minutes, args.realtime, args.tracemalloc)


if __name__ == "__main__":
    main()
