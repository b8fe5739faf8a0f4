"""Helpers for tests of the console's managed Mosquitto: a console in-process on free ports,
MQTT clients, a raw CONNECT (to leave a Last Will behind by dropping the socket) and bounded
waits for messages."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import aiomqtt

import cloud.broker as broker_mod
from cloud.settings import DEFAULT_INGEST_USER, Settings
from contract import NewEvent, SystemClock
from edge.outbox import AsyncOutbox
from edge.uplink import Uplink, UplinkSettings
from tests.support import services
from tests.support.services import free_port

CLOUD_USER = DEFAULT_INGEST_USER
#: The console's own broker password in these tests (serve otherwise makes and keeps one).
CLOUD_PASSWORD = "console-broker-password-0001"
#: Three sites, strong secrets (a console outside demo mode refuses weak ones).
SITES = {"north": "north-secret-0001", "south": "south-secret-0002", "east": "east-secret-0003"}


def need_mosquitto() -> None:
    """The managed broker needs the mosquitto program (skip locally, fail in CI)."""
    services.need(Path(shutil.which("mosquitto") or broker_mod.MOSQUITTO_PATH).exists(),
                  "mosquitto binary")


def private_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def client(port: int, user: str | None, password: str | None, ident: str, *,
           clean: bool = True, host: str = "127.0.0.1", **kw: object) -> aiomqtt.Client:
    return aiomqtt.Client(host, port, username=user, password=password, identifier=ident,
                          clean_session=clean, timeout=5,
                          protocol=aiomqtt.ProtocolVersion.V311, **kw)  # type: ignore[arg-type]


async def next_message(c: aiomqtt.Client, wait: float = 3.0) -> aiomqtt.Message | None:
    """The next message within ``wait`` seconds, or None."""
    try:
        async with asyncio.timeout(wait):
            async for m in c.messages:
                return m
    except TimeoutError:
        return None
    return None


async def messages_until(c: aiomqtt.Client, marker: bytes,
                         wait: float = 5.0) -> list[aiomqtt.Message]:
    """Every message up to and including the one whose payload is ``marker``; fails if the
    marker does not come within ``wait``."""
    got: list[aiomqtt.Message] = []
    async with asyncio.timeout(wait):
        async for m in c.messages:
            got.append(m)
            if m.payload == marker:
                return got
    raise AssertionError("message stream ended")


def _s(b: bytes) -> bytes:
    return len(b).to_bytes(2, "big") + b


def connect_packet(client_id: str, user: str | None, password: str | None, *,
                   will_topic: str | None = None, will_payload: bytes = b"",
                   will_retain: bool = False, clean: bool = True) -> bytes:
    """An MQTT 3.1.1 CONNECT, written by hand so the test controls every flag."""
    flags = 0x02 if clean else 0
    payload = _s(client_id.encode())
    if will_topic is not None:
        flags |= 0x04 | (1 << 3) | (0x20 if will_retain else 0)
        payload += _s(will_topic.encode()) + _s(will_payload)
    if user is not None:
        flags |= 0x80
        payload += _s(user.encode())
    if password is not None:
        flags |= 0x40
        payload += _s(password.encode())
    body = _s(b"MQTT") + bytes([4, flags]) + (60).to_bytes(2, "big") + payload
    n, length = len(body), b""
    while True:
        byte, n = n % 128, n // 128
        length += bytes([byte | (0x80 if n else 0)])
        if not n:
            break
    return b"\x10" + length + body


async def raw_connect_and_drop(port: int, packet: bytes) -> int | None:
    """Send ``packet``, read the CONNACK's return code (None: the broker closed the socket),
    then drop the TCP connection without DISCONNECT, as a crashed client would."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(packet)
        await writer.drain()
        try:
            async with asyncio.timeout(5):
                ack = await reader.readexactly(4)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        return ack[3]
    finally:
        writer.transport.abort()


@dataclass
class RunningConsole:
    settings: Settings
    http: str
    task: asyncio.Task[None]

    @property
    def mqtt_port(self) -> int:
        return self.settings.broker_port

    async def healthz(self) -> dict[str, object]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s, \
                s.get(f"{self.http}/healthz") as resp:
            return dict(await resp.json())


@contextlib.asynccontextmanager
async def console(directory: Path, sites: dict[str, str] | None = None,
                  **overrides: object) -> AsyncIterator[RunningConsole]:
    """``cloud.serve.serve`` in this process with its managed Mosquitto, on free ports."""
    from cloud.serve import serve

    overrides.setdefault("mqtt_password", CLOUD_PASSWORD)
    settings = Settings(database_url=f"sqlite+aiosqlite:///{directory / 'cloud.db'}",
                        broker_port=free_port(), http_port=free_port(),
                        site_credentials=dict(SITES if sites is None else sites),
                        data_dir=str(directory), **overrides)  # type: ignore[arg-type]
    ready, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(settings, ready, stop=stop))
    try:
        async with asyncio.timeout(30):
            waiter = asyncio.create_task(ready.wait())
            await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                waiter.cancel()
                task.result()
                raise AssertionError("serve returned before it was ready")
        yield RunningConsole(settings, f"http://127.0.0.1:{settings.http_port}", task)
    finally:
        stop.set()
        async with asyncio.timeout(30):
            with contextlib.suppress(asyncio.CancelledError):
                await task


def meter_reading(i: int) -> NewEvent:
    """A small meter reading, numbered so a test can tell events apart."""
    return NewEvent(device=f"meter-{i % 50:03d}", kind="meter.reading",
                    ts=datetime(2026, 3, 1, 2, 0, tzinfo=UTC) + timedelta(milliseconds=i),
                    data={"v": 1, "profile": "eastron_sdm120", "unit": f"1-{i % 50:03d}",
                          "values": {"energy_import_kwh": round(1000 + i / 1000, 3)}})


@dataclass
class Edge:
    """A real edge uplink (outbox + MQTT) for one site."""

    box: AsyncOutbox
    uplink: Uplink
    task: asyncio.Task[None]

    async def send(self, start: int, count: int) -> int:
        """Append ``count`` readings; the outbox's newest seq."""
        await self.box.append_many([meter_reading(start + i) for i in range(count)])
        return await self.box.high_water()

    async def wait_acked(self, upto: int, within: float = 30.0) -> None:
        async with asyncio.timeout(within):
            while await self.box.acked() < upto:  # noqa: ASYNC110
                await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def edge(directory: Path, site: str, secret: str, port: int,
               url: str | None = None, ca_file: str | None = None) -> AsyncIterator[Edge]:
    """An edge for ``site`` on the broker at ``port`` (or ``url``, e.g. ``mqtts://…``)."""
    settings = UplinkSettings(site=site, mqtt_url=url or f"mqtt://127.0.0.1:{port}", username=site,
                              password=secret, ack_timeout=5.0, backoff_cap=2.0,
                              telemetry_linger=0.0, ca_file=ca_file)
    async with await AsyncOutbox.open(directory / f"outbox-{site}.db") as box:
        uplink = Uplink(settings, box, SystemClock())
        task = asyncio.create_task(uplink.run())
        try:
            yield Edge(box, uplink, task)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@dataclass
class Pki:
    """A throwaway CA and a server certificate for 127.0.0.1 / localhost signed by it."""

    ca: Path
    cert: Path
    key: Path


def make_test_pki(directory: Path) -> Pki:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("Courtyard test CA"))
          .issuer_name(name("Courtyard test CA")).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("localhost")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pki = Pki(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    pki.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    os.chmod(pki.key, 0o600)
    return pki
