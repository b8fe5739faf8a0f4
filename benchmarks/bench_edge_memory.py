"""Edge memory with 1,000 simulated meters (issue 10): RSS of the running edge, what importing
it costs, and whether OpenCV/numpy were loaded at all (a meters-only site must not pay for
them). Simulators and edge run as separate processes, as on a site.

Target: < 100 MB RSS with 1,000 meters (a peer gateway measured 114–145 MB).
"""

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

BUSES = 40
PER_BUS = 25
PROFILES = ["eastron_sdm120", "chint_ddsu666", "eastron_sdm630", "chint_dtsu666", "xintai_water"]
HEAVY = ("cv2", "numpy")
TARGET_MB = 100


def _site(tmp: Path, broker: str) -> tuple[Path, int, list[int]]:
    health = free_port()
    ports = [free_port() for _ in range(BUSES)]
    lines = [
        "site: {id: bench-mem, name: 内存测试小区}",
        f"cloud: {{mqtt_url: \"{broker}\", username: bench, password: bench}}",
        f"edge: {{data_dir: \"{tmp / 'edge'}\", health_host: 127.0.0.1, health_port: {health}}}",
        "buses:",
        *(f"  - {{id: tcp{b}, type: modbus_tcp, host: 127.0.0.1, port: {port}, timeout: 1.0}}"
          for b, port in enumerate(ports)),
        "devices:",
    ]
    for b in range(BUSES):
        for a in range(1, PER_BUS + 1):
            prof = PROFILES[(b * PER_BUS + a) % len(PROFILES)]
            lines.append(f"  - {{id: m{b:02d}-{a:02d}, bus: tcp{b}, profile: {prof}, "
                         f"address: {a}, poll_interval: 10}}")
    path = tmp / "bench-site.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path, health, ports


def _online(port: int) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return 0.0
    return sum(float(m) for m in re.findall(r"^courtyard_devices_online\S*\s+(\S+)$", text,
                                             re.M))


def _loaded(pid: int, names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` have a shared object mapped in process ``pid``."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return [n for n in names if re.search(rf"/{n}/[^/\s]*\.so", maps)
            or re.search(rf"/{n}\.[^/\s]*\.so", maps)]


def _import_cost(runs: int) -> tuple[float, float, list[str]]:
    """Best-of-``runs`` wall time and peak RSS (MiB) of ``import edge.app`` in a fresh
    interpreter, and which heavy libraries that import pulls in."""
    probe = ("import resource, sys, time; t = time.perf_counter(); import edge.app; "
             "dt = time.perf_counter() - t; "
             "print(dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "
             f"','.join(m for m in {HEAVY!r} if m in sys.modules))")
    best_t, best_rss, heavy = float("inf"), float("inf"), [""]
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                             check=True, timeout=60).stdout.split()
        best_t, best_rss = min(best_t, float(out[0])), min(best_rss, float(out[1]))
        heavy = out[2:]
    return best_t, best_rss, [h for h in ",".join(heavy).split(",") if h]




def run(quick: bool = False) -> Figures:
    fig = header(f"edge memory: {BUSES * PER_BUS} meters on {BUSES} Modbus TCP ports")
    t, rss, heavy = _import_cost(3 if quick else 7)
    fig.add("import edge.app: time (best)", f"{t * 1000:.0f} ms")
    fig.add("import edge.app: peak RSS (best)", f"{rss:.0f} MiB")
    fig.add("import edge.app: heavy libraries loaded", ", ".join(heavy) or "none", "none")
    settle = 20 if quick else 60
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        site, health, ports = _site(tmp, mqtt_url())
        sim = subprocess.Popen([sys.executable, "-m", "courtyard", "sim", "site", str(site)],
                               stdout=(tmp / "sim.log").open("w"), stderr=subprocess.STDOUT)
        edge = None
        try:
            wait_for(lambda: all(port_open("127.0.0.1", p) for p in ports), 90, "simulators")
            edge = subprocess.Popen([sys.executable, "-m", "courtyard", "edge", "run", str(site)],
                                    stdout=(tmp / "edge.log").open("w"),
                                    stderr=subprocess.STDOUT)
            pid = edge.pid
            wait_for(lambda: _online(health) >= BUSES * PER_BUS, 90, "every meter online")
            peak = 0
            end = time.monotonic() + settle
            while time.monotonic() < end:  # a few full poll rounds
                peak = max(peak, proc_cpu_rss(pid)[1])
                time.sleep(1.0)
            fig.add("meters online", f"{_online(health):.0f} / {BUSES * PER_BUS}")
            fig.add("edge RSS, peak over the run", f"{peak / 2**20:.0f} MiB", f"< {TARGET_MB}")
            fig.add("heavy libraries mapped in the edge",
                    ", ".join(_loaded(pid, HEAVY)) or "none", "none")
        finally:
            stop(edge, sim)
    return fig
