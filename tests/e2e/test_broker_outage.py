"""Acceptance: the console outlives its broker. An external Mosquitto (logins and the Courtyard
ACL on) is stopped for 60 s and started again on the same port, twice, while an edge feeds it
readings: the console process stays up and keeps serving pages, ``/healthz`` says the broker is
down meanwhile, ingest resumes by itself, and every event sent is stored exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from cloud.mosquitto_acl import acl_text
from contract import SystemClock
from edge.outbox import AsyncOutbox
from edge.uplink import Uplink, UplinkSettings
from tests.support import services
from tests.support.managed_broker import meter_reading
from tests.support.procs import Part, base_env, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

SITE = "outage"
SECRET = "outage-site-secret-0001"
INGEST, INGEST_PW = "ingest", "ingest-password-0001"
OUTAGE_S = 60.0
RATE = 400  # readings per second offered by the edge


class Feeder(threading.Thread):
    """An edge (outbox + uplink) in its own thread and event loop, appending readings at RATE
    until told to stop; ``sent`` and ``acked`` are the outbox's high-water and acked marks."""

    def __init__(self, outbox: Path, url: str) -> None:
        super().__init__(name="feeder", daemon=True)
        self.outbox, self.url = outbox, url
        self.sent = self.acked = 0
        self.producing = threading.Event()
        self.producing.set()
        self.done = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the test thread
            self.error = exc

    async def _main(self) -> None:
        settings = UplinkSettings(site=SITE, mqtt_url=self.url, username=SITE, password=SECRET,
                                  ack_timeout=10.0, backoff_cap=3.0)
        async with await AsyncOutbox.open(self.outbox) as box:
            task = asyncio.create_task(Uplink(settings, box, SystemClock()).run())
            n, tick, t0 = 0, 0.05, time.monotonic()
            try:
                while not self.done.is_set():
                    self.acked = await box.acked()
                    if not self.producing.is_set():
                        await asyncio.sleep(0.2)
                        continue
                    per_tick = int(RATE * tick)
                    await box.append_many([meter_reading(n + k) for k in range(per_tick)])
                    n += per_tick
                    self.sent = await box.high_water()
                    await asyncio.sleep(max(0.005, t0 + n / RATE - time.monotonic()))
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def _stored(pg_url: str) -> tuple[int, int]:
    """(rows, distinct event ids) of the site's readings, straight from the database."""
    u = urlparse(pg_url)
    dsn = f"postgresql://{u.netloc}{u.path}"
    out = subprocess.run(
        [shutil.which("psql") or "psql", dsn, "-At", "-c",
         "SELECT count(*), count(DISTINCT uuid) FROM events WHERE kind = 'meter.reading'"],
        capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    rows, distinct = out.split("|")
    return int(rows), int(distinct)


def _health(api: str) -> dict[str, Any] | None:
    """The console's /healthz body, 200 or 503 alike (None: no answer)."""
    try:
        with urllib.request.urlopen(f"{api}/healthz", timeout=3) as resp:
            return dict(json.loads(resp.read()))
    except urllib.error.HTTPError as exc:
        return dict(json.loads(exc.read()))
    except (urllib.error.URLError, TimeoutError, ConnectionError):
        return None


def _page_ok(api: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api}/", timeout=3) as resp:
            return resp.status == 200 and "智慧社区控制台" in resp.read().decode()
    except (urllib.error.URLError, TimeoutError, ConnectionError):
        return False


def test_console_survives_two_broker_outages_under_load_and_stores_every_event_once(
        tmp_path: Path, pg_url: str) -> None:
    users = {INGEST: INGEST_PW, SITE: SECRET}
    with services.own_mosquitto(users=users, acl=acl_text([INGEST])) as mosq:
        http_port = services.free_port()
        api = f"http://127.0.0.1:{http_port}"
        env = base_env(COURTYARD_DATABASE_URL=pg_url, COURTYARD_MQTT_URL=mosq.url,
                       COURTYARD_MQTT_USERNAME=INGEST, COURTYARD_MQTT_PASSWORD=INGEST_PW,
                       COURTYARD_SITE_CREDENTIALS=f"{SITE}:{SECRET}",
                       COURTYARD_HTTP_PORT=str(http_port), COURTYARD_DATA_DIR=str(tmp_path))
        cloud = Part("cloud", ["cloud", "serve"], env, tmp_path)
        feeder = Feeder(tmp_path / "outbox.db", mosq.url)
        try:
            cloud.start()
            wait_until(lambda: (_health(api) or {}).get("status") == "ok", 60,
                       "console healthy", [cloud])
            feeder.start()
            wait_until(lambda: feeder.acked > 0, 30, "first readings acked", [cloud])

            for outage in (1, 2):
                before = feeder.acked
                mosq.stop()
                down_seen = pages = 0
                until = time.monotonic() + OUTAGE_S
                while time.monotonic() < until:  # the outage itself: a fixed 60 s
                    assert cloud.alive(), f"console exited during outage {outage}\n{cloud.tail()}"
                    health = _health(api)
                    assert health is not None, "console stopped answering /healthz"
                    if not health["broker"]["ok"] and not health["ingest"]["connected"]:
                        down_seen += 1
                    pages += _page_ok(api)
                    time.sleep(1.0)
                assert down_seen >= OUTAGE_S / 2, f"/healthz never said broker down ({outage})"
                assert pages >= OUTAGE_S / 2, "pages were not served during the outage"
                assert health is not None and health["status"] == "degraded"
                mosq.start()
                wait_until(lambda: (_health(api) or {}).get("status") == "ok", 30,
                           f"ingest reconnected after outage {outage}", [cloud])
                wait_until(lambda b=before: feeder.acked > b + RATE, 60,  # type: ignore[misc]
                           f"acks flowing again after outage {outage}", [cloud])
                assert feeder.error is None, feeder.error

            feeder.producing.clear()
            wait_until(lambda: feeder.sent and feeder.acked == feeder.sent and
                       feeder.sent == _stored(pg_url)[0], 180,
                       "every event stored and acked", [cloud])
            assert cloud.alive()
        finally:
            feeder.done.set()
            if feeder.is_alive():
                feeder.join(30)
            cloud.stop()
        rows, distinct = _stored(pg_url)
        assert feeder.error is None, feeder.error
        assert rows == distinct == feeder.sent > OUTAGE_S * RATE, (rows, distinct, feeder.sent)
