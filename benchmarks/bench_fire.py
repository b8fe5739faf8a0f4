"""Safety: UITD frame → guard board (browser) latency (issue 4 target: p99 < 1 s over 200
alarms).

The whole path, as deployed: a simulated UITD sends a GB/T 26875.3 fire frame to the edge
(`courtyard edge run`, its own process) → durable outbox → Mosquitto → the console's ingest on
PostgreSQL opens the alarm → NOTIFY → the console's live feed → the guard board in Chromium,
where a MutationObserver notes when the alarm's card appears. Latency is that moment minus
the wall-clock time just before the frame's first byte was written. Alarms are sent one at a
time (each from its own detector, so none folds into another).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Figures, header
from tests.support.services import free_port, fresh_pg_database, own_mosquitto, port_open

SITE = "bench-fire"
SMOKE = 40
FIRE = 0x0003  # normal + fire alarm
CHROMIUM = "/usr/bin/chromium"

GUARD, GUARD_PASSWORD = "bench-guard", "bench-guard-Pa55word!"

_OBSERVER = """
() => {
  window.__cards = [];
  const seen = new Set();
  const note = () => {
    for (const el of document.querySelectorAll('[data-alarm-id]')) {
      const id = el.dataset.alarmId;
      if (!seen.has(id)) { seen.add(id); window.__cards.push([id, Date.now()]); }
    }
  };
  new MutationObserver(note).observe(document.body, {childList: true, subtree: true});
  note();
}
"""


def _site(tmp: Path, broker: str, fire_port: int) -> Path:
    path = tmp / "site.yaml"
    path.write_text(f"""\
site: {{id: {SITE}, name: 消防基准}}
cloud: {{mqtt_url: "{broker}", username: {SITE}, password: bench-fire-secret}}
edge: {{data_dir: "{tmp / 'edge'}", health_port: {free_port()}}}
fire:
  host: 127.0.0.1
  port: {fire_port}
  centre_address: 88888
  uitds:
    - {{id: uitd-1, address: 889, building: "1", heartbeat_timeout: 600, peers: [127.0.0.1]}}
linkage: {{rules: []}}
""", encoding="utf-8")
    return path


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + 60
    while not port_open("127.0.0.1", port):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"{what} did not start:\n" + log.read_text()[-3000:])
        time.sleep(0.2)


async def _bench(fig: Figures, http_port: int, fire_port: int, n: int) -> None:
    from playwright.async_api import async_playwright

    from simulators.fire.uitd import VirtualUitd

    latencies: list[float] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM,
                                          args=["--no-sandbox", "--disable-gpu"])
        try:
            # The page's CSP forbids eval; the measuring probe needs it (the page doesn't).
            page = await browser.new_page(viewport={"width": 1920, "height": 1080},
                                          bypass_csp=True)
            base = f"http://127.0.0.1:{http_port}"
            await page.goto(f"{base}/login?next=/guard%3Fsite%3D{SITE}")
            await page.fill("#username", GUARD)
            await page.fill("#password", GUARD_PASSWORD)
            async with page.expect_navigation():
                await page.click("#submit")
            await page.goto(f"{base}/guard?site={SITE}")
            await page.wait_for_function("document.body.dataset.connection === 'up'",
                                         timeout=30_000)
            await page.evaluate(_OBSERVER)
            uitd = VirtualUitd("127.0.0.1", fire_port, heartbeat_s=0)
            await uitd.connect()
            try:
                for i in range(n):
                    sent = await uitd.send_component(1, 1, SMOKE, 100 + i // 50, i % 50 + 1,
                                                     FIRE, f"基准烟感 {i}")
                    if not sent.ok:
                        raise RuntimeError(f"frame {i} {sent.outcome}")
                    await page.wait_for_function(f"window.__cards.length >= {i + 1}",
                                                 timeout=30_000, polling="raf")
                    shown_ms = await page.evaluate(f"window.__cards[{i}][1]")
                    latencies.append(shown_ms / 1000 - sent.sent_at.timestamp())
            finally:
                await uitd.close()
        finally:
            await browser.close()
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    fig.add("alarms shown", f"{len(latencies)}")
    fig.add("frame → board p50", f"{q[49] * 1000:.0f} ms")
    fig.add("frame → board p99", f"{q[98] * 1000:.0f} ms", "< 1000 ms")
    fig.add("frame → board max", f"{max(latencies) * 1000:.0f} ms")


def run(quick: bool = False) -> Figures:
    fig = header("safety: UITD fire frame → edge → cloud → guard board (Chromium)")
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: run scripts/bootstrap.sh --test")
    n = 50 if quick else 200
    http_port, fire_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as d, own_mosquitto() as mosq, \
            fresh_pg_database() as db:
        tmp = Path(d)
        env = {k: v for k, v in os.environ.items() if not k.startswith("COURTYARD_")}
        env.update(COURTYARD_DATABASE_URL=db, COURTYARD_MQTT_URL=mosq.url,
                   COURTYARD_HTTP_PORT=str(http_port), COURTYARD_LOG_LEVEL="warning",
                   COURTYARD_SITE_CREDENTIALS=f"{SITE}:bench-fire-secret")
        site = _site(tmp, mosq.url, fire_port)
        cloud_log, edge_log = tmp / "cloud.log", tmp / "edge.log"
        cloud = subprocess.Popen([sys.executable, "-m", "courtyard", "cloud", "serve"], env=env,
                                 stdout=cloud_log.open("w"), stderr=subprocess.STDOUT)
        edge = subprocess.Popen([sys.executable, "-m", "courtyard", "edge", "run", str(site)],
                                env=env, stdout=edge_log.open("w"), stderr=subprocess.STDOUT)
        try:
            _wait_port(http_port, cloud, cloud_log, "console")
            # The guard board is for a logged-in guard, as on site.
            subprocess.run([sys.executable, "-m", "courtyard", "cloud", "user", "create",
                            "--username", GUARD, "--role", "guard", "--site", SITE,
                            "--password-stdin"], env=env, input=GUARD_PASSWORD.encode(),
                           check=True, capture_output=True, timeout=60)
            _wait_port(fire_port, edge, edge_log, "edge")
            asyncio.run(_bench(fig, http_port, fire_port, n))
        finally:
            for proc in (edge, cloud):
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
    return fig
