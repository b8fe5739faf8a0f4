"""Acceptance (issue 13): a site's access control end to end, with real processes and parts.

The console (``courtyard cloud serve``, PostgreSQL) and the edge daemon (``courtyard edge
run``) run as processes on a Mosquitto with per-site logins and the production ACL. The site
has two simulated 微耕/UHPPOTE controllers (four egress doors, two in building 1, two in
building 2), a simulated OSDP reader on a pty (enrolled by the edge) and a simulated UITD.

1. 200 cards issued through the console API reach both controllers (read back from them);
   the reader grants an issued card and refuses an unknown one; both reach the console.
2. A controller that lost its cards gets them back on ``dataset.resync``.
3. Swipes before, during and after a SIGKILL of the edge: the console holds each controller
   event exactly once (by index); a ``door.open`` that waited out its ``not_after`` while the
   edge was down is ``expired`` and nothing opened.
4. A revoked card, once the edge holds that version, is refused at the reader with the broker
   down; the refusal reaches the console when the broker is back.
5. A fire in building 1 sets building 1's egress doors normally open within 2 s (each result
   recorded), building 2's stay controlled; ``door.mode`` may not lock them meanwhile;
   ``linkage.reset`` from the console (after the panel cleared) puts them back.
6. ``door.open`` delivered twice on ``down/cmd`` opens the door once.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from contract import topics
from edge.app import OUTBOX_FILE
from simulators.access import uhppote_wire as w
from simulators.access.osdp_sim import OsdpReaderSim
from simulators.access.uhppote_sim import SimController
from simulators.fire.uitd import VirtualUitd
from simulators.pty import pty_pair
from tests.support import services
from tests.support.access_site import (
    CLOUD_PASSWORD,
    CLOUD_USER,
    READER,
    READER_ADDRESS,
    READER_DOOR,
    SECRET,
    SITE,
    Console,
    card_number,
    health,
    mqtt,
    next_payload,
    site_yaml,
    start_controllers,
    until,
)
from tests.support.auth import cli_token_headers
from tests.support.procs import Part, base_env

pytestmark = pytest.mark.slow

CARDS = 200
SMOKE, FIRE_BIT = 40, 0x0002
ALL_DOORS = ["1-east", "1-west", "2-east", "2-west", READER_DOOR]
UNKNOWN = 77  # a card number below every issued one (issued: FACILITY << 16 | 1 … 200)
figures: dict[str, float] = {}


@pytest.fixture
def broker() -> Iterator[services.Mosquitto]:
    from cloud.mosquitto_acl import acl_text

    with services.own_mosquitto(users={CLOUD_USER: CLOUD_PASSWORD, SITE: SECRET},
                                acl=acl_text([CLOUD_USER])) as m:
        yield m


def outbox(data_dir: Path, kind: str) -> list[dict[str, Any]]:
    """``kind`` in the edge's outbox, read while it runs (what no ack has removed yet)."""
    with sqlite3.connect(data_dir / OUTBOX_FILE) as db:
        rows = db.execute("SELECT data FROM events WHERE kind = ? ORDER BY seq", (kind,))
        return [json.loads(d) for (d,) in rows.fetchall()]


def remote_opens(sim: SimController, door: int) -> int:
    return sum(1 for e in sim.state.events if e.door == door
               and e.reason == w.REASON_REMOTE_OPEN)


async def test_an_access_site_end_to_end(tmp_path: Path, pg_url: str,
                                         broker: services.Mosquitto) -> None:
    started = time.monotonic()
    http_port, health_port, op_port, fire_port = (services.free_port() for _ in range(4))
    env = base_env(COURTYARD_DATABASE_URL=pg_url, COURTYARD_MQTT_URL=broker.url,
                   COURTYARD_MQTT_USERNAME=CLOUD_USER, COURTYARD_MQTT_PASSWORD=CLOUD_PASSWORD,
                   COURTYARD_SITE_CREDENTIALS=f"{SITE}:{SECRET}",
                   COURTYARD_HTTP_PORT=str(http_port), COURTYARD_DATA_DIR=str(tmp_path / "cloud"))
    cloud = Part("cloud", ["cloud", "serve"], env, tmp_path)
    parts: tuple[Part, ...] = (cloud,)
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(aiohttp.ClientSession())
        cloud.start()
        stack.callback(lambda: cloud.alive() and cloud.proc.kill())  # type: ignore[union-attr]
        sims = await start_controllers()
        for sim in sims.values():
            stack.push_async_callback(sim.stop)
        line, pd_end = await stack.enter_async_context(
            pty_pair(tmp_path / "edge.pty", tmp_path / "reader.pty"))
        reader = OsdpReaderSim(pd_end, address=READER_ADDRESS, install=True)
        await reader.start()
        stack.push_async_callback(reader.stop)
        site = site_yaml(tmp_path, broker=broker.port, http=http_port, health=health_port,
                         operator=op_port, fire=fire_port, line=line, sims=sims)
        edge = Part("edge", ["edge", "run", str(site)], base_env(), tmp_path)
        parts = (cloud, edge)
        data_dir = tmp_path / "edge"
        stack.callback(lambda: edge.alive() and edge.proc.kill())  # type: ignore[union-attr]

        async def cloud_up() -> bool:
            try:
                async with http.get(f"http://127.0.0.1:{http_port}/healthz") as r:
                    return r.status == 200
            except aiohttp.ClientError:
                return False
        await until(cloud_up, "the console's /healthz", 60, parts, every=0.2)
        edge.start()
        headers = await asyncio.to_thread(cli_token_headers, env)
        api = Console(f"http://127.0.0.1:{http_port}", headers, http)

        async def edge_ready() -> bool:
            h = await health(http, health_port)
            if h is None:
                return False
            ctl = h["safety"]["access"]["controllers"]
            return bool(h["readers"]["readers"][READER]["online"]
                        and all(c["online"] for c in ctl.values()))
        await until(edge_ready, "the edge with its reader and controllers", 40, parts, 0.2)

        async def site_known() -> bool:
            return SITE in [s["slug"] for s in (await api.get("/api/sites"))["sites"]]
        await until(site_known, "the site at the console (first events ingested)", 20, parts)

        # -- 1. 200 cards: console → dataset → edge → both controllers and the reader ------
        t0 = time.monotonic()
        gate = asyncio.Semaphore(8)

        async def issue(n: int) -> int:
            async with gate:
                got = await api.post(f"/api/sites/{SITE}/access/cards", {
                    "number": str(card_number(n)), "staff_name": f"员工{n:03d}",
                    "doors": ALL_DOORS})
                return int(got["id"])
        ids = await asyncio.gather(*(issue(n) for n in range(1, CARDS + 1)))
        issued = time.monotonic()
        figures["issue 200 cards through the API (s)"] = issued - t0
        wanted = {card_number(n) for n in range(1, CARDS + 1)}
        await until(lambda: all(set(s.state.cards) == wanted for s in sims.values()),
                    "200 cards on both controllers", 60, parts)
        figures["200 cards: first issue → on both controllers (s)"] = time.monotonic() - t0
        figures["200 cards: last issue → on both controllers (s)"] = time.monotonic() - issued
        for s in sims.values():
            assert s.state.cards[card_number(7)].doors[:2] == (1, 1)
        await reader.present_card(90, 1)
        await reader.wait_command("output", within=10)
        granted = len(reader.seen("output"))
        await reader.present_card(91, 1)  # never issued

        async def reader_log() -> bool:
            ok = [e for e in await api.events("access.granted") if e["device"] == READER_DOOR]
            no = [e for e in await api.events("access.denied") if e["device"] == READER_DOOR]
            return len(ok) == 1 and len(no) == 1 and no[0]["data"]["reason"] == "unknown_card"
        await until(reader_log, "the reader's grant and refusal at the console", 20, parts)
        assert len(reader.seen("output")) == granted, "an unknown card released the door"

        # -- 2. dataset.resync gives a controller that lost its cards the version again -----
        sims["c2"].state.delete_all_cards()
        row = await api.command("dataset.resync", {"dataset": "access"})
        assert (await api.settled(row["id"], parts=parts))["state"] == "done"
        await until(lambda: set(sims["c2"].state.cards) == wanted,
                    "c2's cards back after dataset.resync", 30, parts)

        # -- 3. swipes through a SIGKILL of the edge: each event once -----------------------
        async def controller_events() -> list[dict[str, Any]]:
            serials = {s.state.serial for s in sims.values()}
            return [e for kind in ("access.granted", "access.denied")
                    for e in await api.events(kind) if e["data"].get("controller") in serials]

        c1, c2 = sims["c1"], sims["c2"]
        c1.swipe(card_number(1), 1)
        c2.swipe(card_number(2), 2)
        c1.swipe(UNKNOWN, 2)

        async def three_swipes() -> bool:
            return len(await controller_events()) == 3
        await until(three_swipes, "the first swipes at the console", 10, parts)
        edge.kill9()
        late = await api.command("door.open", {"door": "2-west"}, ttl_s=1)
        for n in range(3, 6):
            c1.swipe(card_number(n), 1 + n % 2)
            c2.swipe(card_number(n), 1 + n % 2)
        c2.swipe(UNKNOWN, 1)
        not_after = datetime.fromisoformat(late["not_after"])
        await until(lambda: datetime.now(UTC) > not_after, "door.open past its not_after", 5)
        edge.start()
        c1.swipe(card_number(9), 2)
        c2.swipe(card_number(9), 1)
        await until(edge_ready, "the edge back", 40, parts, 0.2)
        c1.swipe(card_number(10), 1)

        async def controller_log() -> dict[int, list[int]] | None:
            got: dict[int, list[int]] = {s.state.serial: [] for s in sims.values()}
            for e in await controller_events():
                got[e["data"]["controller"]].append(e["data"]["index"])
            want = {s.state.serial: [e.index for e in s.state.events] for s in sims.values()}
            return got if {k: sorted(set(v)) for k, v in got.items()} == want else None
        seen = await until(controller_log, "every controller event at the console", 40, parts,
                           every=0.3)
        for serial, indexes in seen.items():
            doubled = [i for i, n in Counter(indexes).items() if n > 1]
            assert doubled == [], f"controller {serial}: events stored twice {doubled}"
        assert len(seen[c1.state.serial]) == 7 and len(seen[c2.state.serial]) == 6

        async def expired_at_edge() -> dict[str, Any] | None:
            row = await api.command_state(late["id"])
            return row if row["result"] == "expired" else None  # the edge's own answer
        expired = await until(expired_at_edge, "the late door.open answered expired", 20, parts)
        assert expired["state"] == "expired" and "not_after" in expired["detail"], expired
        assert remote_opens(c2, 2) == 0, "an expired door.open opened the door"

        # -- 4. revoke; the broker goes away; the reader still refuses; the log comes later --
        version = (await health(http, health_port) or {})["access_dataset"]["version"]
        await api.post(f"/api/sites/{SITE}/access/cards/{ids[0]}/revoke",
                       {"reason": "离职 / left the company"}, status=200)

        async def revoked_at_edge() -> bool:
            h = await health(http, health_port)
            return bool(h and h["access_dataset"]["version"] > version
                        and all(card_number(1) not in s.state.cards for s in sims.values()))
        await until(revoked_at_edge, "the revoke at the edge and the controllers", 20, parts)
        broker.stop()
        outputs = len(reader.seen("output"))
        await reader.present_card(90, 1)
        await until(lambda: any(d.get("reason") == "blocked"
                                for d in outbox(data_dir, "access.denied")),
                    "the revoked card refused with the broker down", 10, parts)
        assert len(reader.seen("output")) == outputs, "a revoked card released the door"
        broker.start()

        async def denial_at_console() -> bool:
            return any(e["device"] == READER_DOOR and e["data"].get("reason") == "blocked"
                       for e in await api.events("access.denied"))
        await until(denial_at_console, "the refusal at the console after the outage", 40,
                    parts, every=0.3)

        # -- 5. fire in building 1: its egress doors open within 2 s, building 2's do not ---
        uitd = VirtualUitd("127.0.0.1", fire_port, source_address=889, centre_address=88888,
                           heartbeat_s=0)
        await uitd.connect()
        stack.push_async_callback(uitd.close)
        t0 = time.monotonic()
        sent = await uitd.send_component(1, 1, SMOKE, 10, 2, FIRE_BIT, "三层东侧走廊烟感")
        assert sent.ok
        await until(lambda: c1.state.doors[1].mode == c1.state.doors[2].mode == w.NORMALLY_OPEN,
                    "building 1's egress doors normally open", 2.0, parts, every=0.01)
        figures["fire frame → building 1's egress doors normally open (s)"] = (
            time.monotonic() - t0)
        assert c2.state.doors[1].mode == c2.state.doors[2].mode == w.CONTROLLED

        async def unlock_recorded() -> dict[str, Any] | None:
            for e in await api.events("linkage.action"):
                if e["data"]["action"] == "unlock_doors":
                    return dict(e["data"])
            return None
        action = await until(unlock_recorded, "the unlock's result at the console", 20, parts)
        assert action["result"] == "ok" and action["target"] == "1", action
        assert "1-east ok" in action["detail"] and "1-west ok" in action["detail"], action
        assert "2-east" not in action["detail"]
        lock = await api.command("door.mode", {"door": "1-east", "mode": "normally_closed"})
        refused = await api.settled(lock["id"], parts=parts)
        assert refused["state"] == "refused" and "火警联动" in refused["detail"], refused
        assert c1.state.doors[1].mode == w.NORMALLY_OPEN
        assert (await uitd.send_component(1, 1, SMOKE, 10, 2, 0, "三层东侧走廊烟感")).ok

        async def reset() -> bool:
            row = await api.settled((await api.command("linkage.reset", {}))["id"], parts=parts)
            return row["state"] == "done"
        await until(reset, "linkage reset once the panel cleared", 20, parts, every=0.5)
        await until(lambda: c1.state.doors[1].mode == c1.state.doors[2].mode == w.CONTROLLED,
                    "building 1's egress doors controlled again", 10, parts)

        # -- 6. door.open delivered twice opens the door once ---------------------------------
        async with mqtt(broker, SITE, SECRET, "tap") as tap, \
                mqtt(broker, CLOUD_USER, CLOUD_PASSWORD, "replay") as console_side:
            await tap.subscribe(topics.down_cmd(SITE), qos=1)
            await console_side.subscribe(topics.up_cmd_reply(SITE), qos=1)
            row = await api.command("door.open", {"door": "2-east",
                                                  "reason": "住户忘带卡 / no card"})
            payload = await next_payload(tap)
            assert json.loads(payload)["cmd_id"] == row["cmd_id"]
            assert (await api.settled(row["id"], parts=parts))["state"] == "done"
            first = json.loads(await next_payload(console_side))
            # The site's login may only read down/ (ACL): the same bytes again, as the console.
            await console_side.publish(topics.down_cmd(SITE), payload, qos=1)
            again = json.loads(await next_payload(console_side))
            assert again["cmd_id"] == first["cmd_id"] == row["cmd_id"]
            assert again["result"] == first["result"] == "ok"
        assert remote_opens(c2, 1) == 1, "door.open delivered twice opened the door twice"
        assert await asyncio.to_thread(edge.stop) == 0
        figures["scenario (s)"] = time.monotonic() - started
    print("\n".join(f"{k}: {v:.2f}" for k, v in figures.items()))
