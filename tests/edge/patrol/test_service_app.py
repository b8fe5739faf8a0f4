"""The edge process with a ``patrol:`` section: the service runs among the producers, its
state is in /healthz, a ``down/sync`` notice for the patrol dataset reaches its puller, and
``patrol.scan`` / ``dataset.resync patrol`` have handlers; it stops cleanly with the rest."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from contract.commands import Command, CommandKind, new_cmd_id
from edge.app import EdgeApp
from edge.commands.handlers import handlers
from edge.commands.outcome import CommandRefused
from edge.commands.wiring import command_targets
from edge.config.model import PatrolConfig, PatrolReceiver
from tests.edge.helpers_cloud import wait_until
from tests.edge.helpers_site import silent_meter_site
from tests.edge.test_app import get_json
from tests.support.services import Mosquitto, free_port


async def test_the_edge_runs_patrol_reports_it_and_answers_its_commands(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    port = free_port()
    cfg = dataclasses.replace(
        silent_meter_site("patrolapp", tmp_path / "edge-data", mosquitto.url, port,
                          free_port()),
        patrol=PatrolConfig(receivers=(
            PatrolReceiver("omg-north", "openmqttgateway", "gw-north"),), broker=mosquitto.url))
    app = EdgeApp(cfg, uplink_overrides={"backoff_initial": 0.1})
    task = asyncio.create_task(app.run())
    try:
        async with asyncio.timeout(10):
            await app.started.wait()
        patrol = app.patrol
        assert patrol is not None and app.uplink is not None
        rx = patrol.site_receivers
        assert rx is not None
        await wait_until(lambda: rx.connected, what="site broker subscribed")
        health = await get_json(f"http://127.0.0.1:{port}/healthz")
        part = health["patrol"]
        assert isinstance(part, dict)
        assert part["receivers"]["omg-north"]["state"] == "silent"
        assert part["sources"]["patrol:site-broker"]["connected"] is True
        assert app.uplink.on_sync is not None
        app.uplink.on_sync("patrol", 7)  # what the uplink does with a down/sync notice
        assert patrol.sync.status()["wanted"] == 7
        run = handlers(command_targets(app))
        cmd = Command(new_cmd_id(), CommandKind.PATROL_SCAN, "staff:1",
                      patrol.clock.now() + timedelta(minutes=1),
                      {"checkpoint": "cp-gate", "guard": "张保安",
                       "at": patrol.clock.now().isoformat()})
        with pytest.raises(CommandRefused, match="not in this site's patrol dataset"):
            await run[CommandKind.PATROL_SCAN](cmd)
        resync = Command(new_cmd_id(), CommandKind.DATASET_RESYNC, "staff:1",
                         patrol.clock.now() + timedelta(minutes=1), {"dataset": "patrol"})
        assert "patrol dataset" in await run[CommandKind.DATASET_RESYNC](resync)
    finally:
        app.request_stop()
        async with asyncio.timeout(15):
            await task
    assert (cfg.edge.data_dir / "patrol.db").exists()
