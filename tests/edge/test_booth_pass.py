"""A visitor pass scanned at the guard booth (``POST /access/pass`` on the operators' listener):
the text a USB QR scanner types, or the 9-digit code typed by hand, checked offline with the
same ``PassGate`` the readers use and opening a simulated 微耕/UHPPOTE controller's door by
remote open; every refusal leaves the door shut; the listener's guard holds for this route."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from contract import SystemClock
from contract.visitor_pass import PassClaims, sign
from drivers.access.osdp_model import PassPresented
from edge.access.booth_pass import BoothPasses, booth_doors, pass_routes
from edge.access.credentials import CredentialStore
from edge.access.decide import AccessPoint, Decider
from edge.access.egress import ReaderEgress
from edge.access.reader_config import ReaderEntry, ReadersConfig
from edge.access.visitor_passes import PASSES_FILE, PassGate, PassUses
from edge.app import EdgeApp
from edge.config import load_site
from edge.operator import OperatorServer
from simulators.access import uhppote_wire as w
from tests.support.operator import bearer, mint
from tests.support.services import free_port
from tests.support.uhppote_rig import Outbox, Rig, rig

PROFILES = Path(__file__).resolve().parents[2] / "configs" / "profiles"
SITE, SECRET = "booth", "booth-site-secret"
GUARD_LABEL = "值班保安 Wang (guard, user:7)"
CODE = "418204719"
LOBBY = ("c1", 3)  # door 1-lobby is c1's door 3 (tests/support/uhppote_rig.py)


def a_pass(pid: int = 12, *, doors: tuple[str, ...] = ("1-lobby",), uses: int = 1,
           start: timedelta = timedelta(hours=-1), end: timedelta = timedelta(hours=1),
           site: str = SITE, secret: str = SECRET) -> str:
    now = int(datetime.now(UTC).timestamp())
    return sign(secret, PassClaims(pid, site, doors, now + int(start.total_seconds()),
                                   now + int(end.total_seconds()), uses))


def dataset(**extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"version": 3,
            "passes": {CODE: {"id": 40, "doors": ["1-lobby"], "uses": 2,
                              "valid_from": (now - timedelta(hours=1)).isoformat(),
                              "valid_to": (now + timedelta(hours=1)).isoformat()}},
            "passes_revoked": [9], **extra}


def remote_opens(r: Rig, door: tuple[str, int] = LOBBY) -> int:
    cid, number = door
    return sum(1 for e in r.sims[cid].state.events
               if e.reason == w.REASON_REMOTE_OPEN and e.door == number)


@dataclass
class Booth:
    client: TestClient[Any, Any]
    events: Outbox
    gate: PassGate
    server: OperatorServer

    async def scan(self, token: Any, door: Any = "1-lobby", *,
                   headers: dict[str, str] | None = None, **body: Any
                   ) -> tuple[int, dict[str, Any]]:
        resp = await self.client.post(
            "/access/pass", json={"token": token, "door": door, **body},
            headers=bearer(mint(SECRET, SITE)) if headers is None else headers)
        return resp.status, await resp.json()

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e.data for e in self.events.of(kind)]


@asynccontextmanager
async def booth(r: Rig, uses: PassUses, store: Callable[[], CredentialStore] | None = None
                ) -> AsyncIterator[Booth]:
    assert r.driver is not None
    gate = PassGate(SITE, SECRET, uses)
    events = Outbox()
    credentials = CredentialStore.from_dataset(dataset())
    passes = BoothPasses(gate, store or (lambda: credentials),
                         booth_doors(r.driver, None, lambda _: None), events, SystemClock())
    server = OperatorServer(SITE, SECRET, SystemClock(), pass_routes(passes))
    client = TestClient(TestServer(server.app()))
    await client.start_server()
    try:
        yield Booth(client, events, gate, server)
    finally:
        await client.close()


async def test_a_scanned_pass_opens_its_door_once_and_names_the_guard(tmp_path: Path) -> None:
    token = a_pass(uses=1)
    async with rig() as r:
        uses = await PassUses.open(tmp_path / PASSES_FILE)
        async with booth(r, uses) as b:
            # The scanner types the text and Enter; a body's "operator" is not who acted.
            status, answer = await b.scan(f"{token}\r\n", operator="冒名 someone")
            assert status == 200, answer
            assert answer["opened"] is True and answer["holder"] == "visitor-12"
            assert answer["operator"] == {"sub": "user:7", "name": "值班保安 Wang",
                                          "role": "guard"}
            await r.until(lambda: remote_opens(r) == 1, what="the remote open")
            (granted,) = b.of("access.granted")
            assert granted["method"] == "pass" and granted["holder"] == "visitor-12"
            assert granted["operator"] == GUARD_LABEL and granted["door"] == "1-lobby"
            assert token not in str(granted)  # the token is never recorded

            status, answer = await b.scan(token)
            assert status == 403 and answer["code"] == "pass_used_up", answer
            assert "no uses left" in answer["error"] and "次数已用完" in answer["error"]
            (denied,) = b.of("access.denied")
            assert denied["reason"] == "pass_used_up" and denied["operator"] == GUARD_LABEL
        await uses.flush()
        await uses.aclose()

        reopened = await PassUses.open(tmp_path / PASSES_FILE)  # as after a restart
        try:
            async with booth(r, reopened) as b:
                status, answer = await b.scan(token)
                assert status == 403 and answer["code"] == "pass_used_up", answer
        finally:
            await reopened.aclose()
        assert remote_opens(r) == 1


async def test_refused_passes_give_the_reason_and_move_no_door(tmp_path: Path) -> None:
    good = a_pass(uses=5)
    head, body, mac = good.split(".")
    tampered = f"{head}.{body[:-1]}{'A' if body[-1] != 'A' else 'B'}.{mac}"
    cases = {
        "pass_bad_signature": tampered,
        "pass_expired": a_pass(start=timedelta(hours=-3), end=timedelta(hours=-1)),
        "pass_not_yet_valid": a_pass(start=timedelta(hours=1), end=timedelta(hours=2)),
        "pass_no_permission": a_pass(doors=("1-east",)),
        "pass_revoked": a_pass(9),
        "pass_other_site": a_pass(site="elsewhere"),
        "pass_malformed": "https://example.com/not-a-pass",
        "pass_unknown_code": "123456789",
    }
    uses = await PassUses.open(tmp_path / PASSES_FILE)
    try:
        async with rig() as r, booth(r, uses) as b:
            for reason, text in cases.items():
                status, answer = await b.scan(text)
                assert status == 403, (reason, answer)
                assert answer["code"] == reason and answer["granted"] is False
                zh, _, en = answer["error"].partition(" / ")
                assert zh.startswith("拒绝开门") and en.startswith("access denied"), answer
            assert [d["reason"] for d in b.of("access.denied")] == list(cases)
            assert b.of("access.granted") == []
            assert remote_opens(r) == 0 and sum(
                1 for s in r.sims.values() for e in s.state.events
                if e.reason == w.REASON_REMOTE_OPEN) == 0
    finally:
        await uses.aclose()


async def test_the_nine_digit_code_typed_in_the_field_shares_the_count(tmp_path: Path) -> None:
    uses = await PassUses.open(tmp_path / PASSES_FILE)
    try:
        async with rig() as r, booth(r, uses) as b:
            status, answer = await b.scan("418 204 719")  # as read off the printed pass
            assert status == 200 and answer["pass_id"] == 40, answer
            status, answer = await b.scan(a_pass(40, uses=2))  # its QR: the last use
            assert status == 200 and answer["used"] == 2, answer
            status, answer = await b.scan(CODE)
            assert status == 403 and answer["code"] == "pass_used_up"
            await r.until(lambda: remote_opens(r) == 2, what="two remote opens")
            assert [d["credential"] for d in b.of("access.granted")] == ["pass-40"] * 2
    finally:
        await uses.aclose()


async def test_a_reader_and_the_booth_share_a_pass_s_uses(tmp_path: Path) -> None:
    token = a_pass(uses=1)
    uses = await PassUses.open(tmp_path / PASSES_FILE)
    try:
        async with rig() as r, booth(r, uses) as b:
            reader = Decider(CredentialStore.from_dataset(dataset()),
                             [AccessPoint("r-lobby", "1-lobby")], "UTC", b.gate)
            assert reader.decide(PassPresented("r-lobby", token, 0.0), datetime.now(UTC)).granted
            status, answer = await b.scan(token)
            assert status == 403 and answer["code"] == "pass_used_up", answer
            assert remote_opens(r) == 0
    finally:
        await uses.aclose()


async def test_a_revocation_takes_effect_with_the_dataset_in_force(tmp_path: Path) -> None:
    token = a_pass(21, uses=3)
    box = [CredentialStore.from_dataset(dataset())]
    uses = await PassUses.open(tmp_path / PASSES_FILE)
    try:
        async with rig() as r, booth(r, uses, lambda: box[0]) as b:
            assert (await b.scan(token))[0] == 200
            box[0] = CredentialStore.from_dataset(dataset(version=4, passes_revoked=[21]))
            status, answer = await b.scan(token)
            assert status == 403 and answer["code"] == "pass_revoked"
            await r.until(lambda: remote_opens(r) == 1, what="the first remote open")
            assert remote_opens(r) == 1
    finally:
        await uses.aclose()


async def test_no_token_a_wrong_role_or_a_cross_origin_page_cannot_open(tmp_path: Path) -> None:
    token = a_pass(uses=5)
    uses = await PassUses.open(tmp_path / PASSES_FILE)
    try:
        async with rig() as r, booth(r, uses) as b:
            assert (await b.scan(token, headers={}))[0] == 401
            forged = bearer(mint("a-guessed-secret", SITE))
            assert (await b.scan(token, headers=forged))[0] == 401
            for role in ("technician", "customer_service", "finance", "installer"):
                status, answer = await b.scan(
                    token, headers=bearer(mint(SECRET, SITE, role=role, sub="user:30")))
                assert status == 403 and answer["code"] == "role", (role, answer)
            guard = bearer(mint(SECRET, SITE))
            for extra in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                          {"Sec-Fetch-Site": "cross-site"}):
                status, answer = await b.scan(token, headers={**guard, **extra})
                assert status == 403 and answer["code"] == "cross_origin", (extra, answer)
            resp = await b.client.post("/access/pass", data=f'{{"token": "{token}", '
                                       '"door": "1-lobby"}', headers={
                                           **guard, "Content-Type": "text/plain"})
            assert resp.status == 415
            assert b.events.events == [] and remote_opens(r) == 0
            assert b.gate.uses.used(12) == 0
            assert b.server.stats.get("operator_refused_cross_origin") == 3
    finally:
        await uses.aclose()


async def test_a_bad_body_names_the_field_and_counts_no_use(tmp_path: Path) -> None:
    token = a_pass(uses=5)
    uses = await PassUses.open(tmp_path / PASSES_FILE)
    try:
        async with rig() as r, booth(r, uses) as b:
            status, answer = await b.scan(token, door="9-nowhere")
            assert status == 404 and answer["field"] == "door", answer
            assert "unknown door" in answer["error"] and "未知的门" in answer["error"]
            for body, field in (({"door": "1-lobby"}, "token"),
                                ({"token": "  ", "door": "1-lobby"}, "token"),
                                ({"token": 418204719, "door": "1-lobby"}, "token"),
                                ({"token": "x" * 600, "door": "1-lobby"}, "token"),
                                ({"token": token}, "door"),
                                ({"token": token, "door": ["1-lobby"]}, "door")):
                resp = await b.client.post("/access/pass", json=body,
                                           headers=bearer(mint(SECRET, SITE)))
                assert resp.status == 400, body
                assert (await resp.json())["field"] == field, body
            resp = await b.client.post("/access/pass", json=[token],
                                       headers=bearer(mint(SECRET, SITE)))
            assert resp.status == 400 and (await resp.json())["field"] is None
            assert b.events.events == [] and remote_opens(r) == 0
            assert b.gate.uses.used(12) == 0
    finally:
        await uses.aclose()


async def test_an_offline_controller_spends_no_use(tmp_path: Path) -> None:
    token = a_pass(uses=1)
    uses = await PassUses.open(tmp_path / PASSES_FILE)
    try:
        async with rig() as r, booth(r, uses) as b:
            await r.sims["c1"].stop()  # the controller is unplugged
            driver = r.driver
            assert driver is not None
            await r.until(lambda: driver.online["c1"] is False, within=10,
                          what="c1 seen offline")
            status, answer = await b.scan(token)
            assert status == 503 and answer["code"] == "door_offline", answer
            assert answer["field"] == "door" and "offline" in answer["error"]
            assert b.gate.uses.used(12) == 0 and b.events.events == []
            await _stop_driver(r)
    finally:
        await uses.aclose()


async def _stop_driver(r: Rig) -> None:
    """Stop the driver even if a cancel is lost: with a controller unplugged its requests time
    out all the time, and on Python 3.11 ``asyncio.wait_for`` (drivers/access/uhppote.py,
    uhppote_client.py) drops a cancel that lands as its inner call finishes."""
    task = r.task
    while task is not None and not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=1.0)
    r.task = None


async def test_a_reader_door_opens_by_its_relay_pulse(tmp_path: Path) -> None:
    """An OSDP reader door: the first online reader's relay, pulsed for its ``relay_pulse_s``."""
    pulses: list[tuple[str, float | None]] = []

    class Line:  # the reader line's seam (drivers.access.osdp.OsdpBus)
        def is_online(self, reader: str) -> bool:
            return reader != "r-gate-a"

        async def grant(self, reader: str, pulse_s: float | None = None) -> float:
            pulses.append((reader, pulse_s))
            return 0.0

        async def hold_open(self, reader: str) -> None:
            raise AssertionError("not for a pass")

        async def release(self, reader: str) -> None:
            raise AssertionError("not for a pass")

    config = ReadersConfig(tuple(
        ReaderEntry(rid, "rs485-1", n, "gate", tmp_path / f"{rid}.key", relay_pulse_s=pulse)
        for n, (rid, pulse) in enumerate((("r-gate-a", 3.0), ("r-gate-b", 1.5)), start=1)))
    line = Line()
    egress = ReaderEgress(config, {r.id: line for r in config.readers})
    pulse = {r.id: r.relay_pulse_s for r in config.readers}
    uses = await PassUses.open(tmp_path / PASSES_FILE)
    events = Outbox()
    try:
        passes = BoothPasses(PassGate(SITE, SECRET, uses),
                             lambda: CredentialStore.from_dataset(dataset()),
                             booth_doors(None, egress, pulse.get), events, SystemClock())
        server = OperatorServer(SITE, SECRET, SystemClock(), pass_routes(passes))
        async with TestClient(TestServer(server.app())) as client:
            resp = await client.post("/access/pass", json={"token": a_pass(doors=("gate",)),
                                                          "door": "gate"},
                                     headers=bearer(mint(SECRET, SITE)))
            assert resp.status == 200, await resp.json()
        assert pulses == [("r-gate-b", 1.5)]
        (granted,) = [e.data for e in events.of("access.granted")]
        assert granted["reader"] == "r-gate-b" and granted["operator"] == GUARD_LABEL
    finally:
        await uses.aclose()


async def test_the_edge_serves_the_booth_route_for_its_controller_doors(tmp_path: Path) -> None:
    """As deployed: a site file with an ``access`` section and an operator port; the cloud
    unreachable. A guard's scan opens 1-lobby; ``passes.db`` is in the data directory."""
    op, health = free_port(), free_port()
    async with rig(start=False) as r:
        site = tmp_path / "site.yaml"
        site.write_text(f"""\
site: {{id: {SITE}, name: 岗亭测试}}
cloud: {{mqtt_url: "mqtt://127.0.0.1:{free_port()}", username: {SITE}, password: {SECRET}}}
edge: {{data_dir: "{tmp_path / 'edge'}", health_port: {health}}}
operator: {{port: {op}}}
access:
  listen: 127.0.0.1:0
  bind: 127.0.0.1
  timeout: 0.5
  poll_interval: 0.2
  controllers:
    - {{id: c1, serial: 405419896, address: "{r.sims['c1'].address}", doors: 4}}
  doors:
    - {{id: 1-lobby, controller: c1, door: 3, building: "1"}}
""", encoding="utf-8")
        app = EdgeApp(load_site(site, PROFILES),
                      uplink_overrides={"backoff_initial": 0.2, "backoff_cap": 0.5})
        task = asyncio.create_task(app.run())
        try:
            await r.until(lambda: app.operator is not None and app.operator.ready.is_set()
                          and app.safety is not None and app.safety.access is not None
                          and all(e.is_set() for e in app.safety.access.ready.values()),
                          within=15, what="edge ready")
            async with aiohttp.ClientSession() as http, http.post(
                    f"http://127.0.0.1:{op}/access/pass",
                    json={"token": a_pass(uses=1), "door": "1-lobby"},
                    headers=bearer(mint(SECRET, SITE))) as resp:
                assert resp.status == 200, await resp.text()
            await r.until(lambda: remote_opens(r) == 1, what="the remote open")
            assert (tmp_path / "edge" / PASSES_FILE).is_file()
        finally:
            app.request_stop()
            await asyncio.wait_for(task, 15)
