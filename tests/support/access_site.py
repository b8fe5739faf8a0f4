"""A site with door controllers and an OSDP reader for the access acceptance test: two
simulated 微耕/UHPPOTE controllers on loopback addresses of their own (two egress doors each,
buildings 1 and 2), a simulated OSDP reader (libosdp PD, fresh from the box) on a pty, a
simulated UITD, the site file naming them, and clients for the console's API and the broker.

The console and the edge run as processes (``tests.support.procs.Part``); the simulators run
in the test's event loop so the test can read back what the devices hold.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt

from simulators.access.uhppote_sim import SimController
from tests.support.procs import Part
from tests.support.services import Mosquitto

SITE = "yangguang"
SECRET = "yangguang-site-secret-0001"
CLOUD_USER, CLOUD_PASSWORD = "_courtyard-cloud", "console-broker-password-0001"
SERIALS = {"c1": 405419896, "c2": 303986753}
#: Controller doors: (door id, controller, door number, building); every one an egress door.
DOORS = (("1-east", "c1", 1, "1"), ("1-west", "c1", 2, "1"),
         ("2-east", "c2", 1, "2"), ("2-west", "c2", 2, "2"))
READER, READER_DOOR, READER_ADDRESS = "r-lobby", "lobby", 101
FACILITY = 90  # the cards' Wiegand 26 facility code: number = 90 << 16 | card


def card_number(card: int) -> int:
    return FACILITY << 16 | card


async def until(cond: Callable[[], Any], what: str, within: float = 20.0,
                parts: tuple[Part, ...] = (), every: float = 0.05) -> Any:
    """Wait for ``cond`` (plain or awaitable) to be truthy; fails with the parts' log tails."""
    deadline = time.monotonic() + within
    while True:
        got = cond()
        if inspect.isawaitable(got):
            got = await got
        if got:
            return got
        if time.monotonic() > deadline:
            logs = "\n".join(p.tail(40) for p in parts)
            raise AssertionError(f"timed out after {within}s waiting for {what}\n{logs}")
        await asyncio.sleep(every)


def loopback(n: int) -> str:
    """A loopback address of this run's own (several sessions test on one machine)."""
    seed = uuid.uuid4().int
    return f"127.{seed % 250 + 2}.{seed // 250 % 250 + 2}.{n + 10}"


async def start_controllers() -> dict[str, SimController]:
    sims: dict[str, SimController] = {}
    host = loopback(0).rsplit(".", 1)[0]
    for n, (cid, serial) in enumerate(SERIALS.items(), start=1):
        sims[cid] = await SimController(serial, f"{host}.{n + 10}", 0, doors=2).start()
    return sims


def site_yaml(tmp: Path, *, broker: int, http: int, health: int, operator: int, fire: int,
              line: Path, sims: dict[str, SimController]) -> Path:
    controllers = "\n".join(
        f"    - {{id: {cid}, serial: {s.state.serial}, address: \"{s.address}\", doors: 2}}"
        for cid, s in sims.items())
    doors = "\n".join(f"    - {{id: {d}, controller: {c}, door: {n}, building: \"{b}\", "
                      f"egress: true, open_delay: 2}}" for d, c, n, b in DOORS)
    path = tmp / "site.yaml"
    path.write_text(f"""\
site: {{id: {SITE}, name: 阳光花园, timezone: Asia/Shanghai}}
cloud: {{mqtt_url: "mqtt://127.0.0.1:{broker}", username: {SITE}, password: {SECRET},
        http_url: "http://127.0.0.1:{http}"}}
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
        - {{zone: 10, building: "1", floor: "3", area: 东侧走廊}}
access:
  listen: 127.0.0.1:0
  bind: 127.0.0.1
  timeout: 0.5
  poll_interval: 0.5
  controllers:
{controllers}
  doors:
{doors}
  readers:
    - {{id: {READER}, line: "{line}", address: {READER_ADDRESS}, door: {READER_DOOR},
       building: "1"}}
""", encoding="utf-8")
    return path


@dataclass
class Console:
    """The console's API as a staff token sees it."""

    base: str
    headers: dict[str, str]
    http: aiohttp.ClientSession

    async def get(self, path: str) -> Any:
        async with self.http.get(self.base + path, headers=self.headers) as r:
            assert r.status == 200, f"GET {path}: {r.status} {await r.text()}"
            return await r.json()

    async def post(self, path: str, body: dict[str, Any], status: int = 201) -> Any:
        async with self.http.post(self.base + path, headers=self.headers, json=body) as r:
            assert r.status == status, f"POST {path}: {r.status} {await r.text()}"
            return await r.json()

    async def events(self, kind: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        after = 0
        while True:
            page = await self.get(f"/api/sites/{SITE}/events?kind={kind}&after_seq={after}"
                                  f"&limit=1000")
            out += page["events"]
            if not page["events"]:
                return out
            after = page["events"][-1]["seq"]

    async def command(self, kind: str, args: dict[str, Any], ttl_s: int = 60) -> dict[str, Any]:
        return dict(await self.post(f"/api/sites/{SITE}/commands",
                                    {"kind": kind, "args": args, "ttl_s": ttl_s}))

    async def command_state(self, cid: int) -> dict[str, Any]:
        return dict(await self.get(f"/api/sites/{SITE}/commands/{cid}"))

    async def settled(self, cid: int, within: float = 20.0,
                      parts: tuple[Part, ...] = ()) -> dict[str, Any]:
        async def final() -> dict[str, Any] | None:
            row = await self.command_state(cid)
            return row if row["final"] else None
        return dict(await until(final, f"command {cid} settled", within, parts, every=0.1))


async def health(http: aiohttp.ClientSession, port: int) -> dict[str, Any] | None:
    try:
        async with http.get(f"http://127.0.0.1:{port}/healthz",
                            timeout=aiohttp.ClientTimeout(total=2)) as r:
            return dict(await r.json()) if r.status == 200 else None
    except (aiohttp.ClientError, TimeoutError):
        return None


def mqtt(broker: Mosquitto, user: str, password: str, name: str) -> aiomqtt.Client:
    return aiomqtt.Client(broker.host, broker.port, username=user, password=password,
                          identifier=f"{name}-{uuid.uuid4().hex[:6]}", timeout=5,
                          protocol=aiomqtt.ProtocolVersion.V311)


async def next_payload(client: aiomqtt.Client, within: float = 10.0) -> bytes:
    async with asyncio.timeout(within):
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            return message.payload
    raise AssertionError("the broker closed the subscription")
