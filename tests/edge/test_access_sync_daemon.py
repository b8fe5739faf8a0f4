"""The access dataset end to end through the edge daemon: a real console (API and
``down/sync`` publisher), a real Mosquitto, the edge process with an OSDP reader on a pty (a
simulated reader). A card issued by customer service opens the door; revoked, it is refused;
with the broker down after the revoke got through it is still refused; restarted with the
broker still down, the edge decides from the stored version."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from contract import Kind
from edge.app import EdgeApp
from edge.config import load_site
from tests.drivers.osdp_rig import DOOR, OWNER_CARD
from tests.edge.test_access_sync import SECRET, SITE, real_console
from tests.edge.test_osdp_daemon import ADDRESS, READER, outbox_of, reader_on_pty, until
from tests.support.services import Mosquitto, free_port

CARD = "5898564"  # OWNER_CARD, test vector 5


def site_file(tmp: Path, line: Path, mqtt_port: int, http_url: str) -> Path:
    text = f"""\
site: {{id: {SITE}, name: 阳光花园, timezone: Asia/Shanghai}}
cloud: {{mqtt_url: "mqtt://127.0.0.1:{mqtt_port}", username: {SITE}, password: {SECRET},
        http_url: "{http_url}"}}
edge: {{data_dir: {tmp / 'edge'}, health_port: {free_port()}}}
operator: {{port: {free_port()}}}
access:
  readers:
    - {{id: {READER}, line: {line}, address: {ADDRESS}, door: {DOOR}}}
"""
    path = tmp / "site.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@asynccontextmanager
async def daemon(site: Path) -> AsyncIterator[EdgeApp]:
    app = EdgeApp(load_site(site), uplink_overrides={"backoff_initial": 0.1},
                  reader_options={"offline_after_s": 2.0, "retry_s": 1.0})
    task = asyncio.create_task(app.run())
    try:
        async with asyncio.timeout(15):
            await app.started.wait()
        assert app.readers is not None and app.access_sync is not None
        bus = app.readers.buses[str(site.parent / "edge.pty")]
        await until(lambda: bus.is_online(READER) and bus.is_secure(READER), "reader online",
                    within=15)
        yield app
        assert not task.done(), f"the edge stopped on its own: {task!r}"
    finally:
        app.request_stop()
        async with asyncio.timeout(20):
            await task


async def test_issue_and_revoke_in_the_console_decide_at_the_door_with_the_broker_down(
        sqlite_url: str, mosquitto: Mosquitto, tmp_path: Path) -> None:
    async with real_console(sqlite_url, mosquitto.url) as (client, cs), \
            reader_on_pty(tmp_path) as (line, sim):
        url = str(client.make_url("/")).rstrip("/")
        site = site_file(tmp_path, line, mosquitto.port, url)
        async with daemon(site) as app:
            sync = app.access_sync
            assert sync is not None and app.readers is not None
            resp = await client.post(f"/api/sites/{SITE}/access/cards", headers=cs, json={
                "number": CARD, "resident_id": None, "staff_name": "保洁刘芳",
                "doors": [DOOR]})
            assert resp.status == 201, await resp.text()
            card_id = (await resp.json())["id"]
            await until(lambda: sync.version == 1, "version 1 at the edge")
            assert app.readers.status()["dataset_version"] == 1
            await sim.present_card(*OWNER_CARD)
            await sim.wait_command("output")
            await until(lambda: outbox_of(app, Kind.ACCESS_GRANTED), "granted")

            resp = await client.post(f"/api/sites/{SITE}/access/cards/{card_id}/revoke",
                                     headers=cs, json={"reason": "合同到期"})
            assert resp.status == 200, await resp.text()
            await until(lambda: sync.version == 2, "version 2 at the edge")
            await sim.present_card(*OWNER_CARD)
            await until(lambda: outbox_of(app, Kind.ACCESS_DENIED), "denied")

            mosquitto.stop()
            await sim.present_card(*OWNER_CARD)

            async def two_denials() -> bool:
                return len(await outbox_of(app, Kind.ACCESS_DENIED)) == 2
            await until(two_denials, "denied with the broker down")
            assert len(await outbox_of(app, Kind.ACCESS_GRANTED)) == 1
        stored = tmp_path / "edge" / "datasets" / "access.json"
        assert stored.exists()
        # Restarted with the broker still down: the stored version decides at once.
        async with daemon(site) as app:
            await until(lambda: app.readers is not None
                        and app.readers.status()["dataset_version"] == 2, "stored version")
            denied = len(await outbox_of(app, Kind.ACCESS_DENIED))
            await sim.present_card(*OWNER_CARD)

            async def one_more() -> bool:
                return len(await outbox_of(app, Kind.ACCESS_DENIED)) == denied + 1
            await until(one_more, "denied after the restart")
    mosquitto.start()
