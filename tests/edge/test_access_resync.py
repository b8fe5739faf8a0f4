"""``dataset.resync`` of the access dataset (``AccessSync.pull_now``) against a real console:
with nothing newer at the console, the version in use is handed to the readers and the
controllers again, so a controller that lost its cards (reset, replaced) gets them back; a
newer version is taken as with any pull."""

from __future__ import annotations

from pathlib import Path

from edge.access.credentials import CredentialStore
from edge.access.decide import Decider
from tests.edge.test_access_sync import LOBBY, SITE, edge, real_console, running, until
from tests.support.services import Mosquitto


async def test_resync_hands_the_version_in_use_out_again_and_takes_a_newer_one(
        sqlite_url: str, mosquitto: Mosquitto, tmp_path: Path) -> None:
    decider = Decider(CredentialStore.from_dataset({"version": 0}), [LOBBY])
    controllers: list[int] = []
    async with real_console(sqlite_url, mosquitto.url) as (client, cs):
        resp = await client.post(f"/api/sites/{SITE}/access/cards", headers=cs, json={
            "number": "5898564", "staff_name": "保洁刘芳", "doors": ["b1-lobby"]})
        assert resp.status == 201, await resp.text()
        url = str(client.make_url("/")).rstrip("/")
        sync = edge(tmp_path, url, decider, controllers)
        async with running(sync.run()):
            await until(lambda: controllers == [1])
            assert sync.pull_now()
            await until(lambda: controllers == [1, 1])  # same version, handed out again
            assert sync.stats.get("access_sync_reapplied") == 1
            resp = await client.post(f"/api/sites/{SITE}/access/cards", headers=cs, json={
                "number": "5898565", "staff_name": "保洁王强", "doors": ["b1-lobby"]})
            assert resp.status == 201, await resp.text()
            sync.pull_now()  # the notice is not listened to here: the resync finds it
            await until(lambda: controllers == [1, 1, 2])
            assert sync.stats.get("access_sync_reapplied") == 1
