"""Commands end to end at the edge on a real Mosquitto: the console publishes ``down/cmd``,
the edge's uplink hands it to the runner, the real gate driver moves the barrier simulator
over Modbus TCP, and the reply arrives on ``up/cmd-reply``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import aiomqtt

from contract import Clock, SystemClock, topics
from contract.commands import (
    Command,
    CommandKind,
    CommandReply,
    CommandResult,
    decode_reply,
    encode_command,
    new_cmd_id,
)
from edge.app import EdgeApp
from edge.commands import CommandRunner, Targets, handlers
from edge.outbox import AsyncOutbox
from edge.uplink import Uplink, UplinkSettings
from tests.drivers.gate.conftest import Rig, rig_running
from tests.edge.helpers_cloud import running, wait_until
from tests.edge.helpers_site import silent_meter_site
from tests.support.services import Mosquitto, free_port

GATE = "gate-out-1"  # the rig's gate id


class Console:
    """The console's end of the channel: publishes commands, collects replies."""

    def __init__(self, url: str, site: str) -> None:
        u = urlparse(url)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 1883
        self.site = site
        self.replies: list[CommandReply] = []
        self.ready = asyncio.Event()
        self._client: aiomqtt.Client | None = None

    async def run(self) -> None:
        """Stay subscribed; a failed connect (a loaded machine) is tried again."""
        ident = f"console-{uuid.uuid4().hex[:12]}"
        while True:
            try:
                async with aiomqtt.Client(self.host, self.port, identifier=ident,
                                          protocol=aiomqtt.ProtocolVersion.V311,
                                          timeout=5) as client:
                    await client.subscribe(topics.up_cmd_reply(self.site), qos=1, timeout=5)
                    self._client = client
                    self.ready.set()
                    async for msg in client.messages:
                        assert isinstance(msg.payload, bytes)
                        self.replies.append(decode_reply(msg.payload))
            except aiomqtt.MqttError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from None  # a failed disconnect at the end
                self.ready.clear()
                await asyncio.sleep(0.2)

    async def started(self) -> None:
        async with asyncio.timeout(20):
            await self.ready.wait()

    async def send(self, cmd: Command) -> None:
        assert self._client is not None
        await self._client.publish(topics.down_cmd(self.site), encode_command(cmd), qos=1,
                                   timeout=5)

    def of(self, cmd: Command) -> list[CommandReply]:
        return [r for r in self.replies if r.cmd_id == cmd.cmd_id]


def gate_command(rig: Rig, gate: str = GATE, *, ttl: float = 30.0,
                 kind: CommandKind = CommandKind.GATE_OPEN) -> Command:
    return Command(cmd_id=new_cmd_id(), kind=kind, issued_by="staff:9 值班 张强",
                   not_after=rig.clock.now() + timedelta(seconds=ttl),
                   args={"gate": gate, "reason": "访客车辆无牌"})


@asynccontextmanager
async def edge(tmp: Path, url: str, site: str, targets: Targets,
               clock: Clock) -> AsyncIterator[CommandRunner]:
    """The edge's outbox, command runner and uplink (the parts EdgeApp wires together)."""
    runner = await CommandRunner.open(tmp / "commands.db", handlers(targets), clock, site=site)
    try:
        async with await AsyncOutbox.open(tmp / "outbox.db") as box:
            uplink = Uplink(UplinkSettings(site=site, mqtt_url=url, backoff_initial=0.1,
                                           backoff_cap=0.5), box, commands=runner)
            async with running(uplink.run):
                await wait_until(lambda: uplink.connected, what="uplink connected")
                yield runner
    finally:
        await runner.aclose()


def site_name() -> str:
    return f"cmd{uuid.uuid4().hex[:8]}"


async def test_gate_open_published_twice_opens_the_barrier_once(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    site = site_name()
    console = Console(mosquitto.url, site)
    async with rig_running() as rig, running(console.run):
        await rig.polls()
        await console.started()
        targets = Targets(gates=lambda: {GATE: rig.gate})
        async with edge(tmp_path, mosquitto.url, site, targets, rig.clock):
            cmd = gate_command(rig)
            await console.send(cmd)
            await console.send(cmd)  # QoS 1 redelivery, or the console sending again
            await wait_until(lambda: len(console.of(cmd)) >= 1, what="the reply")
            await rig.until(lambda: len(rig.sim.presses("open")) >= 1)
            await console.send(cmd)  # once more, after it finished
            await wait_until(lambda: len(console.of(cmd)) >= 2, what="the stored reply again")
            first, *rest = console.of(cmd)
            assert first.result == CommandResult.OK, first
            assert all(r == first for r in rest), "a redelivery gets the very same reply"
            assert len(rig.sim.presses("open")) == 1, "one command, one press"
            [opened] = rig.rec.of("gate.opened")
            assert opened.data["cause"] == "remote"
            assert opened.data["by"] == "staff:9 值班 张强"
            assert opened.data["reason"] == "访客车辆无牌"


async def test_expired_unknown_and_malformed_commands_do_nothing_and_say_why(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    site = site_name()
    console = Console(mosquitto.url, site)
    async with rig_running() as rig, running(console.run):
        await rig.polls()
        await console.started()
        targets = Targets(gates=lambda: {GATE: rig.gate})
        async with edge(tmp_path, mosquitto.url, site, targets, rig.clock):
            late = gate_command(rig, ttl=-1)
            unknown = gate_command(rig, "gate-north-9")
            await console.send(late)
            await console.send(unknown)
            assert console._client is not None
            bad_id = new_cmd_id()
            await console._client.publish(
                topics.down_cmd(site), qos=1, timeout=5,
                payload=(b'{"cmd_id": "%s", "kind": "gate.close", "args": {"gat": "x"}, '
                         b'"issued_by": "staff:9", "not_after": "2099-01-01T00:00:00Z"}'
                         % bad_id.encode()))
            await wait_until(lambda: len(console.replies) >= 3, what="three replies")
            [expired] = console.of(late)
            assert expired.result == CommandResult.EXPIRED
            [refused] = console.of(unknown)
            assert refused.result == CommandResult.REFUSED
            assert "gate-north-9" in refused.detail
            [malformed] = [r for r in console.replies if r.cmd_id == bad_id]
            assert malformed.result == CommandResult.REFUSED and "cmd.args.gat" in malformed.detail
            assert rig.sim.presses() == [] and rig.rec.of("gate.opened") == []


async def test_a_reply_held_over_a_restart_and_a_broker_outage_reaches_the_console(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    site = site_name()
    async with rig_running() as rig:
        await rig.polls()
        targets = Targets(gates=lambda: {GATE: rig.gate})
        cmd = gate_command(rig)
        # Delivered and run while the broker is unreachable; the edge then restarts.
        mosquitto.stop()
        try:
            runner = await CommandRunner.open(tmp_path / "commands.db", handlers(targets),
                                              rig.clock, site=site)
            reply = await runner.handle(encode_command(cmd))
            assert reply is not None and reply.result == CommandResult.OK
            await runner.aclose()
        finally:
            mosquitto.start()
        console = Console(mosquitto.url, site)
        async with running(console.run):
            await console.started()
            async with edge(tmp_path, mosquitto.url, site, targets, rig.clock):
                await wait_until(lambda: len(console.of(cmd)) >= 1, what="the held reply")
                assert console.of(cmd)[0] == reply
                await console.send(cmd)  # delivered again after the restart: not run again
                await wait_until(lambda: len(console.of(cmd)) >= 2, what="the reply again")
        assert len(rig.sim.presses("open")) == 1


class LobbyDoor:
    """A door as an access driver registers it."""

    def __init__(self) -> None:
        self.opened_by: list[str] = []

    async def open(self, *, by: str, reason: str) -> str:
        self.opened_by.append(by)
        return "门已开 / door opened"

    async def set_mode(self, mode: object, *, by: str, reason: str) -> str:
        raise ValueError("该门不支持常开 / this door has no normally-open mode")


async def test_the_edge_process_wires_commands_to_its_parts(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    site = site_name()
    cfg = silent_meter_site(site, tmp_path / "edge-data", mosquitto.url, free_port(),
                            free_port())
    app = EdgeApp(cfg, uplink_overrides={"backoff_initial": 0.1})
    door = LobbyDoor()
    app.doors.register("b1.lobby", door)
    console = Console(mosquitto.url, site)
    clock = SystemClock()

    def cmd(kind: CommandKind, **args: str) -> Command:
        return Command(cmd_id=new_cmd_id(), kind=kind, issued_by="staff:1 admin",
                       not_after=clock.now() + timedelta(seconds=30), args=args)

    sent = [cmd(CommandKind.DEVICE_RECONNECT, device="m-101"),
            cmd(CommandKind.GATE_OPEN, gate="gate-1"),
            cmd(CommandKind.DOOR_OPEN, door="b1.lobby"),
            cmd(CommandKind.DOOR_MODE, door="b1.lobby", mode="normally_open"),
            cmd(CommandKind.LINKAGE_RESET)]
    async with running(console.run):
        await console.started()
        task = asyncio.create_task(app.run())
        try:
            await wait_until(lambda: app.uplink is not None and app.uplink.connected,
                             what="uplink connected")
            for c in sent:
                await console.send(c)
            await wait_until(lambda: len(console.replies) >= len(sent), what="all replies")
        finally:
            app.request_stop()
            async with asyncio.timeout(15):
                await task
    got = [console.of(c)[0] for c in sent]
    assert [r.result for r in got] == [CommandResult.OK, CommandResult.REFUSED,
                                       CommandResult.OK, CommandResult.REFUSED,
                                       CommandResult.REFUSED]
    assert "tcp1" in got[0].detail  # the meter's bus was dropped, to be dialled afresh
    assert "gate-1" in got[1].detail
    assert door.opened_by == ["staff:1 admin"]
    assert "normally-open" in got[3].detail
    assert "no fire linkage" in got[4].detail
    assert (cfg.edge.data_dir / "commands.db").exists()
