"""Attacks on the fire receiver: a fake UITD from a host nobody listed, a rogue connection
claiming a live UITD's address, and a site file that forgets ``peers``.

The receiver is the real ``FireServer`` wired to the real linkage engine (store, then
``Linkage.notice``, as ``edge.safety`` does), so "no alarm" also means "no barrier raised".
The attacker connects from a second loopback address (127.0.0.2, which Linux lets a socket
bind).
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from contract import NewEvent
from drivers.base import DriverStats
from drivers.fire.model import FireConfig, UitdConfig
from drivers.fire.server import FireServer
from edge.config.cli import validate_main
from edge.linkage import Linkage
from tests.drivers.fire.vectors import CENTRE_ADDRESS, V1_FIRE, hx
from tests.edge.linkage.conftest import Site, running

ROGUE = "127.0.0.2"
HEARTBEAT = hx("40 40 00 00 01 01 20 3A 09 1A 09 0C 79 03 00 00 00 00 38 5B 01 00 00 00 00 00 02")


def _framed(head: bytes) -> bytes:
    return head + bytes([sum(head[2:]) % 256]) + b"##"


def _can_bind_rogue() -> bool:
    try:
        with socket.socket() as s:
            s.bind((ROGUE, 0))
        return True
    except OSError:
        return False


needs_rogue = pytest.mark.skipif(not _can_bind_rogue(),
                                 reason="needs a second loopback address (Linux)")


@dataclass
class Receiver:
    server: FireServer
    stats: DriverStats
    events: list[NewEvent]
    linkage: Linkage
    site: Site

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


@asynccontextmanager
async def receiving(tmp: Path, *uitds: UitdConfig) -> AsyncIterator[Receiver]:
    site = Site(tmp)
    events: list[NewEvent] = []
    async with running(site.linkage()) as linkage:
        async def emit(event: NewEvent) -> None:
            events.append(event)
            linkage.notice(event)

        stats = DriverStats()
        config = FireConfig(port=0, host="0.0.0.0", centre_address=CENTRE_ADDRESS,
                            uitds=uitds or (UitdConfig(id="uitd-1", address=889, building="1",
                                                       peers=("127.0.0.1",)),))
        server = FireServer(config, emit, site.clock, ZoneInfo("Asia/Shanghai"), "demo", stats)
        task = asyncio.create_task(server.run())
        try:
            async with asyncio.timeout(5):
                await server.ready.wait()
            yield Receiver(server, stats, events, linkage, site)
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task


class Device:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int, source: str = "127.0.0.1") -> Device:
        reader, writer = await asyncio.open_connection("127.0.0.1", port,
                                                       local_addr=(source, 0))
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def confirm(self) -> bytes:
        """The next confirm (command 3); our clock sync and status requests are skipped."""
        async with asyncio.timeout(5):
            while True:
                head = await self.reader.readexactly(27)
                rest = await self.reader.readexactly(
                    int.from_bytes(head[24:26], "little") + 3)
                if head[26] == 3:
                    return head + rest

    async def closed_by_server(self) -> bool:
        async with asyncio.timeout(5):
            while True:
                try:
                    chunk = await self.reader.read(4096)
                except ConnectionResetError:
                    return True
                if not chunk:
                    return True

    def close(self) -> None:
        self.writer.close()


@needs_rogue
async def test_a_fake_uitd_from_an_unlisted_host_raises_nothing(tmp_path: Path) -> None:
    async with receiving(tmp_path) as rx:
        assert rx.server.port is not None
        rogue = await Device.connect(rx.server.port, ROGUE)
        with suppress(ConnectionError):
            await rogue.send(V1_FIRE)
        assert await rogue.closed_by_server()
        rogue.close()
        assert rx.stats.get("connections_refused") == 1
        assert rx.events == []
        assert rx.linkage.status()["active"] is False
        assert not any(g.held for g in rx.site.gates.values() if hasattr(g, "held"))
        # The same frame from the listed host does raise the alarm and the linkage: the
        # refusal above was the address, nothing else.
        real = await Device.connect(rx.server.port)
        await real.send(V1_FIRE)
        await real.confirm()
        real.close()
        assert "fire.alarm" in rx.kinds()
        await rx.linkage.wait_idle()
        assert rx.linkage.status()["active"] is True


@needs_rogue
async def test_another_uitds_host_cannot_claim_this_uitd(tmp_path: Path) -> None:
    uitds = (UitdConfig(id="uitd-1", address=889, peers=("127.0.0.1",)),
             UitdConfig(id="uitd-2", address=890, peers=(ROGUE,)))
    async with receiving(tmp_path, *uitds) as rx:
        assert rx.server.port is not None
        rogue = await Device.connect(rx.server.port, ROGUE)  # admitted: uitd-2 lists it
        with suppress(ConnectionError):
            await rogue.send(V1_FIRE)                         # …but claims uitd-1 (889)
        assert await rogue.closed_by_server()
        rogue.close()
        assert rx.events == [] and rx.linkage.status()["active"] is False
        assert rx.server.status()["uitds"]["uitd-1"]["connected"] is False


@needs_rogue
async def test_a_live_connection_is_not_displaced(tmp_path: Path) -> None:
    async with receiving(tmp_path) as rx:
        assert rx.server.port is not None
        real = await Device.connect(rx.server.port)
        await real.send(_framed(HEARTBEAT))
        await real.confirm()
        assert rx.server.status()["uitds"]["uitd-1"]["peer"] == "127.0.0.1"

        unlisted = await Device.connect(rx.server.port, ROGUE)
        with suppress(ConnectionError):
            await unlisted.send(_framed(HEARTBEAT))
        assert await unlisted.closed_by_server()
        unlisted.close()

        # A second connection from a listed host (another process there, or a replayed
        # session) while the real one is alive: refused, the real one stays.
        second = await Device.connect(rx.server.port)
        await second.send(_framed(HEARTBEAT))
        assert await second.closed_by_server()
        second.close()
        assert rx.stats.get("connections_displace_refused") == 1
        assert rx.stats.get("connections_replaced") == 0

        await real.send(V1_FIRE)                 # the real UITD is still heard
        await real.confirm()
        assert rx.kinds().count("fire.alarm") == 1
        status = rx.server.status()["uitds"]["uitd-1"]
        assert status["connected"] is True and status["peer"] == "127.0.0.1"
        real.close()


def _validate(tmp: Path, uitd: str, capsys: Any) -> tuple[int, str, str]:
    path = tmp / "site.yaml"
    path.write_text(f"""\
site: {{id: demo, name: 演示}}
cloud: {{mqtt_url: "mqtt://127.0.0.1:1883", username: demo, password: x}}
edge: {{data_dir: "{tmp / 'edge'}"}}
fire:
  port: 19001
  uitds:
    - {uitd}
""", encoding="utf-8")
    code = validate_main(str(path))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_edge_validate_refuses_a_uitd_without_peers(tmp_path: Path, capsys: Any) -> None:
    for uitd in ("{id: uitd-1, address: 889}", "{id: uitd-1, address: 889, peers: []}"):
        code, _out, err = _validate(tmp_path, uitd, capsys)
        assert code == 2, err
        assert re.search(r"site\.yaml:7:\d+: .*UITD uitd-1 lists no peers", err), err
        assert "peers: any" in err                  # the fix names the explicit way out


def test_edge_validate_warns_on_peers_any(tmp_path: Path, capsys: Any) -> None:
    code, out, err = _validate(tmp_path, "{id: uitd-1, address: 889, peers: any}", capsys)
    assert code == 0, err
    assert re.search(r"site\.yaml:7:\d+: 警告 / warning: .*accepts a connection from any host",
                     out), out


def test_edge_validate_refuses_a_peer_that_is_not_an_address(tmp_path: Path,
                                                             capsys: Any) -> None:
    code, _out, err = _validate(tmp_path, "{id: uitd-1, address: 889, peers: [fire-box]}",
                                capsys)
    assert code == 2 and re.search(r"site\.yaml:7:\d+: .*not an IP address", err), err
