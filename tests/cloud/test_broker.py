"""The console's managed Mosquitto: its generated files, logins, per-site topics, persistent
sessions, supervision (killed -9 → restarted, edge and ingest reconnect), and the console's MQTT
clients riding out a broker outage instead of ending the process."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import signal
import stat
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

import cloud.broker as broker_mod
from cloud.broker import BrokerError, ManagedMosquitto
from cloud.mosquitto_acl import password_line
from cloud.parking.sync import SyncPublisher
from contract import topics
from tests.support import services
from tests.support.managed_broker import (
    CLOUD_USER,
    SITES,
    client,
    console,
    edge,
    need_mosquitto,
    next_message,
    private_dir,
)
from tests.support.services import free_port

CLOUD_PW = "cloud-password-for-tests-0001"


def _code(granted: object) -> int:
    """paho reports a SUBACK entry as an int or as a ReasonCode, depending on version."""
    value = getattr(granted, "value", granted)
    assert isinstance(value, int)
    return value


@pytest.fixture
async def managed() -> AsyncIterator[ManagedMosquitto]:
    need_mosquitto()
    d = private_dir("cy-managed-")
    b = ManagedMosquitto("127.0.0.1", free_port(), SITES, CLOUD_USER, CLOUD_PW, d / "mosquitto")
    await b.start()
    try:
        yield b
    finally:
        await b.stop()
        shutil.rmtree(d, ignore_errors=True)


async def _wait(condition: object, within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # type: ignore[operator]  # noqa: ASYNC110
            await asyncio.sleep(0.05)


def test_password_lines_are_what_mosquitto_passwd_writes(tmp_path: Path) -> None:
    """Same salt and rounds → the same ``$7$`` line as Mosquitto 2.0's own tool."""
    tool = shutil.which("mosquitto_passwd")
    services.need(tool is not None, "mosquitto_passwd")
    pw = tmp_path / "pw"
    subprocess.run([str(tool), "-c", "-b", str(pw), "north", "north-secret-0001"], check=True,
                   capture_output=True)
    theirs = pw.read_text().strip()
    _, _, rounds, salt, _ = theirs.split("$")
    ours = password_line("north", "north-secret-0001", iterations=int(rounds),
                         salt=base64.b64decode(salt))
    assert ours == theirs
    with pytest.raises(ValueError, match="username"):
        password_line("bad user", "x")


async def test_files_are_private_and_the_listener_is_loopback_only(
        managed: ManagedMosquitto) -> None:
    d = managed.directory
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    for name in ("mosquitto.conf", "passwd", "acl"):
        assert stat.S_IMODE((d / name).stat().st_mode) == 0o600, name
    conf = (d / "mosquitto.conf").read_text()
    assert f"listener {managed.port} 127.0.0.1" in conf and "allow_anonymous false" in conf
    assert "persistence true" in conf and f"persistence_location {d}/" in conf
    passwd = (d / "passwd").read_text()
    assert "north-secret-0001" not in passwd and passwd.count("$7$") == len(SITES) + 1
    status = managed.status()
    assert status["ok"] and status["pid"] and status["restarts"] == 0
    assert status["address"] == f"127.0.0.1:{managed.port}"
    with pytest.raises(ValueError, match="loopback"):
        ManagedMosquitto("0.0.0.0", 1, {}, CLOUD_USER, CLOUD_PW, d)


async def test_every_client_logs_in(managed: ManagedMosquitto) -> None:
    for user, password in (("north", "wrong-secret-000"), ("nobody", SITES["north"]),
                           (None, None), ("south", SITES["north"])):
        with pytest.raises(aiomqtt.MqttError):
            async with client(managed.port, user, password, f"x-{user}"):
                pass
    async with client(managed.port, "north", SITES["north"], "edge-north"):
        pass


async def test_persistent_session_keeps_qos1_messages_for_offline_site(
        managed: ManagedMosquitto) -> None:
    async with client(managed.port, "north", SITES["north"], "edge-north", clean=False) as e:
        await e.subscribe(topics.down_filter("north"), qos=1)
    # The edge is offline now; the cloud acks two batches meanwhile.
    async with client(managed.port, CLOUD_USER, CLOUD_PW, "cloud-1") as cloud:
        await cloud.publish(topics.down_ack("north"), b'{"upto": 7}', qos=1)
        await cloud.publish(topics.down_ack("north"), b'{"upto": 9}', qos=1)
    async with client(managed.port, "north", SITES["north"], "edge-north", clean=False) as e:
        got = [await next_message(e), await next_message(e)]
    assert [m.payload for m in got if m is not None] == [b'{"upto": 7}', b'{"upto": 9}']


async def test_site_subscribes_only_to_its_own_down_topics(managed: ManagedMosquitto) -> None:
    async with client(managed.port, "north", SITES["north"], "edge-north") as e:
        granted = await e.subscribe(topics.down_filter("north"), qos=1)
        assert [_code(g) for g in granted] == [1]
        async with client(managed.port, CLOUD_USER, CLOUD_PW, "cloud-1") as cloud:
            await cloud.publish(topics.down_cmd("south"), b"open-gate", qos=1)
            await cloud.publish(topics.down_ack("north"), b'{"upto": 1}', qos=1)
        m = await next_message(e)
        assert m is not None and str(m.topic) == topics.down_ack("north")


async def test_missing_mosquitto_names_the_debian_package(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(broker_mod, "MOSQUITTO_PATH", str(tmp_path / "none"))
    b = ManagedMosquitto("127.0.0.1", free_port(), SITES, CLOUD_USER, CLOUD_PW, tmp_path / "m")
    with pytest.raises(BrokerError) as info:
        await b.start()
    assert "apt-get install mosquitto" in str(info.value)
    assert "COURTYARD_MQTT_URL" in str(info.value)


async def test_busy_port_is_a_clear_start_error(tmp_path: Path) -> None:
    need_mosquitto()
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        b = ManagedMosquitto("127.0.0.1", port, SITES, CLOUD_USER, CLOUD_PW, tmp_path / "m")
        with pytest.raises(BrokerError, match="port in use"):
            await b.start()
        await b.stop()
    finally:
        server.close()


async def test_killed_broker_is_restarted_and_edge_and_ingest_reconnect(
        tmp_path: Path) -> None:
    """kill -9 the console's broker: it is back within seconds on the same port, the edge and
    the ingest reconnect by themselves, and the edge's next events are stored and acked."""
    need_mosquitto()
    async with console(tmp_path) as c, \
            edge(tmp_path, "north", SITES["north"], c.mqtt_port) as e:
        await e.wait_acked(await e.send(0, 20))
        health = await c.healthz()
        broker = health["broker"]
        assert isinstance(broker, dict) and broker["ok"] and broker["restarts"] == 0
        os.kill(int(broker["pid"]), signal.SIGKILL)
        async with asyncio.timeout(20):
            while True:
                b = (await c.healthz())["broker"]
                assert isinstance(b, dict)
                if b["ok"] and b["restarts"] == 1 and b["pid"] != broker["pid"]:
                    break
                await asyncio.sleep(0.1)
        assert not c.task.done()
        await e.wait_acked(await e.send(20, 20), within=30)
        ingest = (await c.healthz())["ingest"]
        assert isinstance(ingest, dict) and ingest["connected"]
        assert ingest["counters"]["ingest_worker_connects"] >= 2


async def test_sync_publisher_rides_out_a_broker_outage() -> None:
    """The MQTT error of a dropped link must cost a reconnect, not end the publisher (and with
    it the console's TaskGroup)."""
    with services.own_mosquitto() as mosq:
        publisher = SyncPublisher(mosq.url, None, None)
        task = asyncio.create_task(publisher.run())
        try:
            await _wait(lambda: publisher.connected)
            mosq.stop()
            # Reconnect attempts fail while the broker is away; the publisher keeps trying.
            await _wait(lambda: publisher.counters["disconnects"] >= 3)
            assert not task.done() and not publisher.connected
            mosq.start()
            await _wait(lambda: publisher.connected, within=10)
            assert publisher.counters["connects"] == 2
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


def test_mosquitto_acl_command_prints_and_writes_the_same_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from courtyard.cli import main

    assert main(["cloud", "mosquitto-acl"]) == 0
    assert "pattern write courtyard/v1/%u/up/#" in capsys.readouterr().out
    assert main(["cloud", "mosquitto-acl", "--conf", "--cafile", "ca.pem"]) == 2
    assert "--certfile" in capsys.readouterr().err
    monkeypatch.setenv("COURTYARD_MQTT_PASSWORD", "ingest-password-0001")
    monkeypatch.setenv("COURTYARD_SITE_CREDENTIALS", "north:demo-secret")
    assert main(["cloud", "mosquitto-acl", "--out", str(tmp_path / "x")]) == 2
    assert "COURTYARD_SITE_CREDENTIALS" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    monkeypatch.setenv("COURTYARD_SITE_CREDENTIALS", f"north:{SITES['north']}")
    assert main(["cloud", "mosquitto-acl", "--out", str(tmp_path / "etc")]) == 0
    conf = (tmp_path / "etc" / "courtyard.conf").read_text()
    assert "listener 1883\n" in conf and "allow_anonymous false" in conf
    passwd = (tmp_path / "etc" / "courtyard.passwd").read_text()
    assert [line.split(":")[0] for line in passwd.splitlines()] == ["north", "ingest"]


async def test_a_broker_left_by_a_killed_console_is_stopped_at_the_next_start(
        managed: ManagedMosquitto) -> None:
    """SIGKILL gives the console no time to stop its broker; the next start finds the old
    process by its pid file, stops it, and takes the port with the current logins."""
    old_pid = managed.pid
    assert old_pid is not None
    successor = ManagedMosquitto(managed.host, managed.port, {"north": SITES["north"]},
                                 CLOUD_USER, CLOUD_PW, managed.directory)
    await successor.start()
    try:
        assert successor.running and successor.pid != old_pid
        assert managed.pid is None  # the old process is gone
        with pytest.raises(aiomqtt.MqttError):  # the old broker's logins are gone with it
            async with client(managed.port, "south", SITES["south"], "edge-south"):
                pass
        async with client(managed.port, "north", SITES["north"], "edge-north"):
            pass
    finally:
        await successor.stop()
