"""Attacks on the broker the console really starts (its managed Mosquitto), each performed and
shown to fail: a site's credential forging another site's events or acks (published, or left
behind as a Last Will), taking over the ingest's session by client id (wrong and right
credentials), reading other sites' retained messages, anonymous logins, and a console started
with the documented demo secret."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import ssl
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from cloud.serve import ingest_client_id
from cloud.settings import Settings, SettingsError
from contract import topics
from courtyard.cli import main as cli_main
from tests.support import services
from tests.support.managed_broker import (
    CLOUD_PASSWORD,
    CLOUD_USER,
    SITES,
    RunningConsole,
    client,
    connect_packet,
    console,
    edge,
    make_test_pki,
    messages_until,
    need_mosquitto,
    next_message,
    raw_connect_and_drop,
)
from tests.support.services import free_port

REPO = Path(__file__).resolve().parents[2]
FORGED_ACK = b'{"upto": 999999999}'


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[RunningConsole]:
    need_mosquitto()
    async with console(tmp_path) as c:
        yield c


def _cloud(c: RunningConsole, ident: str) -> aiomqtt.Client:
    """A client with the console's own broker credential (sees every site's uplink)."""
    return client(c.mqtt_port, CLOUD_USER, c.settings.mqtt_password, ident)


def _site(c: RunningConsole, site: str, ident: str) -> aiomqtt.Client:
    return client(c.mqtt_port, site, SITES[site], ident)


async def _healthz_ingest(c: RunningConsole) -> dict[str, object]:
    ingest = (await c.healthz())["ingest"]
    assert isinstance(ingest, dict)
    return ingest


async def test_forged_last_will_never_reaches_the_cloud_as_another_sites_events(
        running: RunningConsole) -> None:
    """north connects with a Will on south's ``up/events`` and drops the socket; then (control)
    a Will on its own uplink. The cloud sees the control Will and nothing from south."""
    async with _cloud(running, "watch-up") as cloud:
        await cloud.subscribe(topics.INGEST_FILTER, qos=1)
        for victim_topic in (topics.up_events("south"), topics.up_status("south")):
            code = await raw_connect_and_drop(running.mqtt_port, connect_packet(
                "north-forger", "north", SITES["north"], will_topic=victim_topic,
                will_payload=b"forged-fire-alarm", will_retain=True))
            assert code in (0, 5, None)  # accepted (the Will is then dropped) or refused
        marker = b"north-own-will"
        assert await raw_connect_and_drop(running.mqtt_port, connect_packet(
            "north-control", "north", SITES["north"], will_topic=topics.up_status("north"),
            will_payload=marker)) == 0
        got = await messages_until(cloud, marker)
        assert [(str(m.topic), m.payload) for m in got] == [(topics.up_status("north"), marker)]
        assert await next_message(cloud, 0.5) is None
    # Nor was the forgery retained for a later subscriber.
    async with _cloud(running, "watch-retained") as late:
        await late.subscribe(topics.up_events("south"), qos=1)
        await late.subscribe(topics.up_status("south"), qos=1)
        assert await next_message(late, 0.5) is None


async def test_forged_last_will_never_acks_the_victim_edge(running: RunningConsole) -> None:
    """A Will on south's ``down/ack`` with ``upto: 999999999`` (which would make the edge delete
    its outbox) never reaches south; the console's real ack after it does."""
    async with _site(running, "south", "south-edge") as victim:
        await victim.subscribe(topics.down_filter("south"), qos=1)
        for forger in ("north", "south"):  # another site, and the site itself
            await raw_connect_and_drop(running.mqtt_port, connect_packet(
                f"{forger}-forger", forger, SITES[forger], will_topic=topics.down_ack("south"),
                will_payload=FORGED_ACK))
        marker = b"cloud-marker"
        async with _cloud(running, "cloud-marker") as cloud:
            await cloud.publish(topics.down_cmd("south"), marker, qos=1)
        got = await messages_until(victim, marker)
        assert [m.payload for m in got] == [marker]


async def test_a_site_cannot_publish_into_another_site_or_its_own_downlink(
        running: RunningConsole) -> None:
    async with _cloud(running, "watch") as cloud, \
            _site(running, "south", "south-edge") as victim:
        await cloud.subscribe(topics.INGEST_FILTER, qos=1)
        await victim.subscribe(topics.down_filter("south"), qos=1)
        async with _site(running, "north", "north-forger") as forger:
            await forger.publish(topics.up_events("south"), b"forged", qos=1)
            await forger.publish(topics.down_ack("south"), FORGED_ACK, qos=1)
            await forger.publish(topics.down_ack("north"), FORGED_ACK, qos=1)
            await forger.publish(topics.up_status("north"), b"north-marker", qos=1)
        got = await messages_until(cloud, b"north-marker")
        assert [(str(m.topic), m.payload) for m in got] == [
            (topics.up_status("north"), b"north-marker")]
        async with _cloud(running, "cloud-marker") as c2:
            await c2.publish(topics.down_cmd("south"), b"south-marker", qos=1)
        assert [m.payload for m in await messages_until(victim, b"south-marker")] == [
            b"south-marker"]


async def test_retained_messages_of_another_site_are_not_delivered(
        running: RunningConsole) -> None:
    """south's retained uplink and the cloud's retained notices for south stay out of north's
    reach, whatever filter north subscribes with."""
    async with _site(running, "south", "south-edge") as south:
        await south.publish(topics.up_status("south"), b"south-retained", qos=1, retain=True)
    async with _cloud(running, "cloud-retain") as cloud:
        await cloud.publish(topics.down_sync("south"), b"south-sync", qos=1, retain=True)
        await cloud.publish(topics.down_sync("north"), b"north-sync", qos=1, retain=True)
    async with _site(running, "north", "north-reader") as reader:
        for pattern in ("#", "courtyard/#", "courtyard/v1/+/down/#", "courtyard/v1/south/#",
                        topics.down_filter("south"), topics.down_filter("north")):
            await reader.subscribe(pattern, qos=1)
        # Retained messages come right after each SUBACK; collect until the line is quiet.
        got = []
        while (m := await next_message(reader, 0.7)) is not None:
            got.append(m.payload)
        assert got and set(got) == {b"north-sync"}


async def test_anonymous_and_wrong_credentials_are_refused(running: RunningConsole) -> None:
    for user, password in ((None, None), ("north", "wrong-secret-0000"), ("nobody", "x"),
                           ("south", SITES["north"]), (CLOUD_USER, "guess")):
        with pytest.raises(aiomqtt.MqttError):
            async with client(running.mqtt_port, user, password, f"anon-{user}"):
                pass


async def test_nobody_takes_over_the_ingest_session(running: RunningConsole,
                                                    tmp_path: Path) -> None:
    """A CONNECT with a wrong password and the ingest's exact client id is refused without
    touching the ingest; a site's RIGHT credential with the ingest's well-known old id (or its
    per-host form) does not reach it either, because the real id is derived from the console's
    broker password. The ingest still stores and acks afterwards."""
    real_id = ingest_client_id(running.settings.mqtt_password, shared=False)
    assert real_id.startswith("courtyard-ingest-") and len(real_id) > len("courtyard-ingest-")
    async with edge(tmp_path, "east", SITES["east"], running.mqtt_port) as e:
        await e.wait_acked(await e.send(0, 5))
        before = (await _healthz_ingest(running))["counters"]
        assert isinstance(before, dict)
        code = await raw_connect_and_drop(running.mqtt_port, connect_packet(
            real_id, CLOUD_USER, "wrong-password", clean=True))
        assert code == 5  # not authorised
        for guess in ("courtyard-ingest", f"courtyard-ingest-{socket.gethostname()[:40]}"):
            assert await raw_connect_and_drop(running.mqtt_port, connect_packet(
                guess, "north", SITES["north"], clean=True)) == 0
        await e.wait_acked(await e.send(5, 5), within=15)
        after = await _healthz_ingest(running)
        counters = after["counters"]
        assert isinstance(counters, dict) and after["connected"] is True
        # The ingest's session was never ended: same connection, no reconnect.
        assert counters["ingest_worker_connects"] == before["ingest_worker_connects"] == 1
        assert counters["ingest_worker_disconnects"] == 0


def test_console_refuses_the_demo_secret_outside_demo_mode(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURTYARD_")}
    env.update(COURTYARD_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'c.db'}",
               COURTYARD_DATA_DIR=str(tmp_path), COURTYARD_BROKER_PORT="1",
               COURTYARD_HTTP_PORT="1")
    for creds in ("demo:demo-secret", "north:north-secret-0001,south:demo-secret",
                  "north:short"):
        proc = subprocess.run([sys.executable, "-m", "courtyard", "cloud", "serve"],
                              env={**env, "COURTYARD_SITE_CREDENTIALS": creds}, cwd=REPO,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, proc.stderr
        assert "COURTYARD_SITE_CREDENTIALS" in proc.stderr and "demo" in proc.stderr
        assert not (tmp_path / "c.db").exists()  # refused before anything started
    # In-process too; demo mode (courtyard demo) is the one place the demo secret is allowed.
    with pytest.raises(SettingsError):
        Settings(site_credentials={"demo": "demo-secret"}).check_site_secrets()
    Settings(site_credentials={"demo": "demo-secret"}, demo=True).check_site_secrets()
    assert dict(Settings.from_env({}).site_credentials) == {}


async def test_tls_listener_admits_only_clients_that_trust_its_ca(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The files ``courtyard cloud mosquitto-acl --out`` writes for a production broker, with a
    TLS listener: the console (``COURTYARD_MQTT_CA``) and an edge (``cloud.ca_file``) connect
    over ``mqtts://`` and deliver; a client that does not
    trust the CA, and a plaintext client, are refused."""
    need_mosquitto()
    pki = make_test_pki(tmp_path)
    out, data, port = tmp_path / "etc", tmp_path / "data", free_port()
    data.mkdir()
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("COURTYARD_MQTT_URL", raising=False)
    monkeypatch.setenv("COURTYARD_SITE_CREDENTIALS", f"north:{SITES['north']}")
    monkeypatch.setenv("COURTYARD_MQTT_USERNAME", "ingest")
    monkeypatch.setenv("COURTYARD_MQTT_PASSWORD", CLOUD_PASSWORD)
    assert cli_main(["cloud", "mosquitto-acl", "--out", str(out), "--port", str(port),
                     "--host", "127.0.0.1", "--cafile", str(pki.ca), "--certfile", str(pki.cert),
                     "--keyfile", str(pki.key), "--persistence-dir", str(data),
                     "--user", pwd.getpwuid(os.geteuid()).pw_name]) == 0
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == dict.fromkeys(
        ("courtyard.acl", "courtyard.passwd", "courtyard.conf"), 0o600)
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    broker = await asyncio.create_subprocess_exec(
        exe, "-c", str(out / "courtyard.conf"), stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    try:
        await asyncio.to_thread(services.wait_port, "127.0.0.1", port)
        untrusted = ssl.create_default_context()  # the system's CAs only
        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client("127.0.0.1", port, username="north",
                                      password=SITES["north"], tls_context=untrusted, timeout=5):
                pass
        with pytest.raises(aiomqtt.MqttError):  # plaintext to the TLS listener
            async with client(port, "north", SITES["north"], "north-plain"):
                pass
        url = f"mqtts://127.0.0.1:{port}"
        async with console(tmp_path / "console", sites={"north": SITES["north"]}, mqtt_url=url,
                           mqtt_username="ingest", mqtt_ca=str(pki.ca)) as c:
            async with edge(tmp_path, "north", SITES["north"], port, url=url,
                            ca_file=str(pki.ca)) as e:
                await e.wait_acked(await e.send(0, 10))
            ingest = await _healthz_ingest(c)
            assert ingest["connected"] is True
    finally:
        broker.terminate()
        await asyncio.wait_for(broker.wait(), 10)
