"""Acceptance (issue 15, live): a fire frame into the edge is on the cockpit's wall within 1 s,
and the wall survives a console restart without anyone touching it.

Real parts: the console (``courtyard cloud serve``, PostgreSQL) and the edge daemon
(``courtyard edge run``) as processes, on a Mosquitto with per-site logins and the production
ACL; a simulated UITD speaking GB/T 26875.3 to the edge's fire receiver; Chromium (Playwright)
showing the site's cockpit at 1920×1080, logged in as the operations lead would be.

1. Five fire frames, each from another detector (a new alarm each): the time from the frame
   leaving the UITD to its place being visible in the alarms ticker, measured in the page's own
   clock against the sender's (one machine, one wall clock). The figures are printed. On a
   loaded 2-core CI box one frame may wait on a busy moment: the median must be ≤ 1 s, each
   ≤ 2 s.
2. The console is stopped and started again. The page, never reloaded (a marker set on its
   window survives), reconnects by itself and shows the next fire in the ticker.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import pytest

from cloud.db.engine import make_engine
from cloud.db.engine import session_factory as make_sessions
from simulators.fire.uitd import VirtualUitd
from tests.browser.conftest import browser, checked_page, chromium  # noqa: F401  (fixtures)
from tests.support import services
from tests.support.access_site import until
from tests.support.auth import browser_login, create_staff
from tests.support.procs import Part, base_env

if TYPE_CHECKING:
    from playwright.async_api import Browser

pytestmark = pytest.mark.slow

SITE = "cockpit-live"
SECRET = "cockpit-live-site-secret-01"
CLOUD_USER, CLOUD_PASSWORD = "_courtyard-cloud", "console-broker-password-0001"
LEAD, LEAD_PASSWORD = "wall-lead", "wall-lead-password-0001"
SMOKE, FIRE_BIT = 40, 0x0002
#: One detector per frame: zone → the area its location names (what the ticker shows).
AREAS = {11: "甲区走廊", 12: "乙区走廊", 13: "丙区走廊", 14: "丁区走廊", 15: "戊区走廊",
         16: "己区走廊"}
MEASURED = (11, 12, 13, 14, 15)
AFTER_RESTART = 16
#: The ticker contains ``text`` (a frame's area): the page's clock (ms) when it first does,
#: checked on every animation frame.
SEEN = """(text) => {
  const t = document.querySelector('.ck-ticker');
  return t && t.textContent.includes(text) ? Date.now() : false;
}"""


@pytest.fixture
def broker() -> Iterator[services.Mosquitto]:
    from cloud.mosquitto_acl import acl_text

    with services.own_mosquitto(users={CLOUD_USER: CLOUD_PASSWORD, SITE: SECRET},
                                acl=acl_text([CLOUD_USER])) as m:
        yield m


def site_yaml(tmp: Path, *, broker: int, health: int, operator: int, fire: int) -> Path:
    zones = "\n".join(f'        - {{zone: {z}, building: "1", floor: "2", area: {a}}}'
                      for z, a in AREAS.items())
    path = tmp / "site.yaml"
    path.write_text(f"""\
site: {{id: {SITE}, name: 驾驶舱验收小区, timezone: Asia/Shanghai}}
cloud: {{mqtt_url: "mqtt://127.0.0.1:{broker}", username: {SITE}, password: {SECRET}}}
edge: {{data_dir: "{tmp / 'edge'}", health_host: 127.0.0.1, health_port: {health}}}
operator: {{port: {operator}}}
fire:
  host: 127.0.0.1
  port: {fire}
  centre_address: 88888
  uitds:
    - id: uitd-1
      address: 889
      building: "1"
      peers: [127.0.0.1]
      locations:
{zones}
""", encoding="utf-8")
    return path


async def test_a_fire_frame_reaches_the_wall_within_a_second_and_a_restart_is_survived(
        tmp_path: Path, pg_url: str, broker: services.Mosquitto,
        browser: Browser) -> None:  # noqa: F811
    started = time.monotonic()
    http_port, health_port, op_port, fire_port = (services.free_port() for _ in range(4))
    base = f"http://127.0.0.1:{http_port}"
    env = base_env(COURTYARD_DATABASE_URL=pg_url, COURTYARD_MQTT_URL=broker.url,
                   COURTYARD_MQTT_USERNAME=CLOUD_USER, COURTYARD_MQTT_PASSWORD=CLOUD_PASSWORD,
                   COURTYARD_SITE_CREDENTIALS=f"{SITE}:{SECRET}",
                   COURTYARD_HTTP_PORT=str(http_port), COURTYARD_DATA_DIR=str(tmp_path / "cloud"))
    cloud = Part("cloud", ["cloud", "serve"], env, tmp_path)
    site = site_yaml(tmp_path, broker=broker.port, health=health_port, operator=op_port,
                     fire=fire_port)
    edge = Part("edge", ["edge", "run", str(site)], base_env(), tmp_path)
    parts = (cloud, edge)
    engine = make_engine(pg_url)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(engine.dispose)
        await create_staff(make_sessions(engine), LEAD, LEAD_PASSWORD, role="operations_lead",
                           sites=[SITE], display_name="值班主管")
        http = await stack.enter_async_context(aiohttp.ClientSession())
        cloud.start()
        stack.callback(lambda: cloud.alive() and cloud.proc.kill())  # type: ignore[union-attr]
        edge.start()
        stack.callback(lambda: edge.alive() and edge.proc.kill())  # type: ignore[union-attr]

        async def cloud_up() -> bool:
            try:
                async with http.get(f"{base}/healthz") as r:
                    return r.status == 200
            except aiohttp.ClientError:
                return False

        async def fire_ready() -> bool:
            try:
                async with http.get(f"http://127.0.0.1:{health_port}/healthz") as r:
                    return r.status == 200
            except aiohttp.ClientError:
                return False

        await until(cloud_up, "the console's /healthz", 60, parts, every=0.2)
        await until(fire_ready, "the edge's health listener", 40, parts, every=0.2)
        uitd = VirtualUitd("127.0.0.1", fire_port, source_address=889, centre_address=88888,
                           heartbeat_s=0)
        await until(lambda: services.port_open("127.0.0.1", fire_port), "the fire receiver",
                    20, parts, every=0.2)
        await uitd.connect()
        stack.push_async_callback(uitd.close)

        page = await stack.enter_async_context(checked_page(browser, 1920, 1080))
        await browser_login(page, base, LEAD, LEAD_PASSWORD, then=f"/cockpit/sites/{SITE}")
        logs: list[str] = []
        page.on("console", lambda m: logs.append(f"{m.type}: {m.text}"))
        try:
            await page.wait_for_selector('[data-panel="alarms"]', timeout=30_000)
        except Exception:
            await page.screenshot(path=str(tmp_path / "cockpit.png"))
            raise AssertionError(f"no alarms panel on {page.url}: "
                                 f"{await page.inner_text('body')!r}\n" + "\n".join(logs)
                                 + "\n" + cloud.tail()) from None
        await page.evaluate("() => { window.__sameDocument = 'yes'; }")

        async def fire(zone: int) -> float:
            """Send a fire from ``zone``'s detector; seconds until the ticker shows it."""
            sent_ms = time.time() * 1000
            sent = await uitd.send_component(1, 1, SMOKE, zone, 1, FIRE_BIT,
                                             f"{AREAS[zone]}烟感")
            assert sent.ok, f"the edge did not confirm the frame of zone {zone}"
            seen = await page.wait_for_function(SEEN, arg=AREAS[zone], polling="raf",
                                                timeout=20_000)
            return (float(await seen.json_value()) - sent_ms) / 1000

        # -- 1. fire frame → the wall, five times ---------------------------------------------
        delays = [await fire(zone) for zone in MEASURED]
        median = statistics.median(delays)
        print("\nfire frame → cockpit ticker (s): "
              + ", ".join(f"{d:.3f}" for d in delays) + f"; median {median:.3f}")
        assert median <= 1.0, f"median {median:.3f} s > 1 s: {delays}"
        assert max(delays) <= 2.0, f"a frame took {max(delays):.3f} s (> 2 s): {delays}"

        # -- 2. the console restarts; the page comes back by itself ---------------------------
        assert cloud.stop() == 0, cloud.tail()
        badge = page.locator("#ck-badge")
        await until(badge.is_visible, "the page saying it is reconnecting", 20, parts)
        restarted = time.monotonic()
        cloud.start()
        await until(cloud_up, "the console back", 60, parts, every=0.2)
        await until(lambda: badge.is_hidden(), "the page reconnected by itself", 40, parts,
                    every=0.2)
        print(f"console restart → page live again: {time.monotonic() - restarted:.1f} s")
        after = await fire(AFTER_RESTART)
        print(f"fire frame after the restart → ticker: {after:.3f} s")
        assert await page.evaluate("() => window.__sameDocument") == "yes", "the page reloaded"
        assert time.monotonic() - started < 90, "the scenario is meant to take under 90 s"
