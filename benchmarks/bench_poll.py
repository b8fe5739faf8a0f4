"""500 simulated meters over Modbus TCP, polled every 10 s: the edge's CPU, RSS and p99 poll
latency (issue 2). The simulators and the edge run as separate processes, as on a site, so the
figures are the edge's alone."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.common import Figures, header, proc_cpu_rss, stop, wait_for
from tests.support.services import free_port, mqtt_url, port_open

BUSES = 20
PER_BUS = 25
PROFILES = ["eastron_sdm120", "chint_ddsu666", "eastron_sdm630", "chint_dtsu666", "xintai_water"]


def _site(tmp: Path, broker: str) -> tuple[Path, int]:
    health = free_port()
    lines = [
        "site: {id: bench, name: 性能测试小区}",
        f"cloud: {{mqtt_url: \"{broker}\", username: bench, password: bench}}",
        f"edge: {{data_dir: \"{tmp / 'edge'}\", health_host: 127.0.0.1, health_port: {health}}}",
        "buses:",
    ]
    ports = [free_port() for _ in range(BUSES)]
    for b, port in enumerate(ports):
        lines.append(f"  - {{id: tcp{b}, type: modbus_tcp, host: 127.0.0.1, port: {port},"
                     " timeout: 1.0, retries: 1}")
    lines.append("devices:")
    for b in range(BUSES):
        for a in range(1, PER_BUS + 1):
            prof = PROFILES[(b * PER_BUS + a) % len(PROFILES)]
            lines.append(f"  - {{id: m{b:02d}-{a:02d}, bus: tcp{b}, profile: {prof}, address: {a},"
                         f" poll_interval: 10, unit: \"{b}-{a:02d}\"}}")
    path = tmp / "bench-site.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path, health


def _metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return str(r.read().decode())


def _series(text: str, name: str) -> list[tuple[str, float]]:
    out = []
    for line in text.splitlines():
        m = re.match(rf"^{name}(\{{[^}}]*\}})?\s+(\S+)$", line)
        if m:
            out.append((m.group(1) or "", float(m.group(2))))
    return out




def run(quick: bool = False) -> Figures:
    fig = header(f"polling: {BUSES * PER_BUS} meters on {BUSES} Modbus TCP ports, every 10 s")
    duration = 40 if quick else 120
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        site, health = _site(tmp, mqtt_url())
        sim = subprocess.Popen([sys.executable, "-m", "courtyard", "sim", "site", str(site)],
                               stdout=(tmp / "sim.log").open("w"), stderr=subprocess.STDOUT)
        edge = None
        try:
            ports = [int(m) for m in re.findall(r"port: (\d+),", site.read_text())]
            wait_for(lambda: all(port_open("127.0.0.1", p) for p in ports), 60, "simulators")
            edge = subprocess.Popen([sys.executable, "-m", "courtyard", "edge", "run", str(site)],
                                    stdout=(tmp / "edge.log").open("w"), stderr=subprocess.STDOUT)
            wait_for(lambda: port_open("127.0.0.1", health), 60, "edge health endpoint")
            time.sleep(15)  # first full round of polls, connections settled
            cpu0, _ = proc_cpu_rss(edge.pid)
            t0 = time.monotonic()
            time.sleep(duration)
            cpu1, rss = proc_cpu_rss(edge.pid)
            elapsed = time.monotonic() - t0
            m1 = _metrics(health)
            online = sum(v for _, v in _series(m1, "courtyard_devices_online"))
            p99 = max((v for lbl, v in _series(m1, "courtyard_poll_latency_seconds")
                       if 'quantile="0.99"' in lbl), default=float("nan"))
            p50 = max((v for lbl, v in _series(m1, "courtyard_poll_latency_seconds")
                       if 'quantile="0.5"' in lbl), default=float("nan"))
            fig.add("devices online", f"{online:.0f} / {BUSES * PER_BUS}")
            fig.add("edge CPU (share of one core)", f"{(cpu1 - cpu0) / elapsed * 100:.1f} %")
            fig.add("edge RSS", f"{rss / 2**20:.0f} MiB")
            fig.add("poll latency p50 (worst bus)", f"{p50 * 1000:.1f} ms")
            fig.add("poll latency p99 (worst bus)", f"{p99 * 1000:.1f} ms")
            errors = sum(v for _, v in _series(m1, "courtyard_poll_errors_total"))
            fig.add("poll errors during the run", f"{errors:.0f}")
        finally:
            stop(edge, sim)
    return fig
