"""``dataset.resync`` from the console makes the edge pull its parking dataset now, even when
the ``down/sync`` notice of the newer version never arrived."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from contract import SystemClock
from contract.commands import Command, CommandKind, CommandResult, new_cmd_id
from edge.parking.sync import Outcome
from tests.edge.helpers_cloud import running, wait_until
from tests.edge.parking.test_sync import (
    NEWCOMER,
    OWNER,
    SITE,
    FakeConsole,
    _start_edge,
    _write_site,
    dataset,
)
from tests.edge.test_commands_mqtt import Console
from tests.support.services import Mosquitto, free_port


def resync(name: str) -> Command:
    return Command(cmd_id=new_cmd_id(), kind=CommandKind.DATASET_RESYNC, issued_by="staff:1",
                   not_after=SystemClock().now() + timedelta(seconds=30),
                   args={"dataset": name})


async def test_resync_pulls_a_version_whose_notice_was_lost(tmp_path: Path,
                                                            mosquitto: Mosquitto) -> None:
    web_console = FakeConsole(doc=dataset(1, OWNER))
    base = await web_console.start()
    site = _write_site(tmp_path, mqtt_url=mosquitto.url, http_url=base, http_port=free_port())
    mqtt_console = Console(mosquitto.url, SITE)
    edge = await _start_edge(site)
    try:
        async with running(mqtt_console.run):
            await mqtt_console.started()
            await wait_until(lambda: edge.sync.last_outcome is Outcome.SAME, what="start pull")
            await wait_until(lambda: edge.app.uplink is not None and edge.app.uplink.connected,
                             what="uplink connected")
            web_console.doc = dataset(2, OWNER, NEWCOMER)  # published, notice lost
            assert edge.version == 1
            cmd, other = resync("parking"), resync("access")
            await mqtt_console.send(cmd)
            await mqtt_console.send(other)
            await wait_until(lambda: len(mqtt_console.replies) >= 2, what="two replies")
            assert mqtt_console.of(cmd)[0].result == CommandResult.OK
            [refused] = mqtt_console.of(other)
            assert refused.result == CommandResult.REFUSED and "access" in refused.detail
            await wait_until(lambda: edge.version == 2, what="version 2 in use")
    finally:
        await edge.stop()
        await web_console.stop()
