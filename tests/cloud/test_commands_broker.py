"""Commands through a real Mosquitto with the production ACL: the console publishes a command
once on the site's own ``down/cmd`` with the login as ``issued_by``, the site's reply on its
``up/cmd-reply`` settles it, another site's credential cannot, and a command nobody answers
is expired by the link's sweep (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import aiomqtt
from sqlalchemy import select

from cloud.commands.states import EXPIRY_GRACE_S
from cloud.commands.tables import RemoteCommand
from cloud.mosquitto_acl import acl_text
from contract import topics
from contract.commands import CommandReply, CommandResult, decode_command, encode_reply
from tests.cloud.test_commands import Console, P, console
from tests.support import services

CLOUD_USER, CLOUD_PASSWORD = "_courtyard-cloud", "cloud-pw"
SITES = {"demo": "demo-secret", "north": "north-secret"}


@asynccontextmanager
async def edge(port: int, site: str) -> AsyncIterator[aiomqtt.Client]:
    """A site's edge: its own credential, subscribed to its own downlink."""
    async with aiomqtt.Client("127.0.0.1", port, username=site, password=SITES[site],
                              identifier=f"edge-{site}-{uuid.uuid4().hex[:6]}",
                              timeout=5) as client:
        await client.subscribe(topics.down_filter(site), qos=1)
        yield client


async def received(client: aiomqtt.Client, within: float) -> list[tuple[str, dict[str, Any]]]:
    """Every message ``client`` gets within ``within`` seconds."""
    out: list[tuple[str, dict[str, Any]]] = []
    try:
        async with asyncio.timeout(within):
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                out.append((message.topic.value, json.loads(message.payload)))
    except TimeoutError:
        pass
    return out


async def state_of(c: Console, command_id: int, want: str, within: float = 10.0) -> None:
    """Wait until the stored state is ``want`` (read from the table, not through the API)."""
    async with asyncio.timeout(within):
        while True:
            async with c.sessions() as session:
                row = await session.get(RemoteCommand, command_id)
                if row is not None and row.state == want:
                    return
            await asyncio.sleep(0.05)


@asynccontextmanager
async def with_broker(db_url: str) -> AsyncIterator[tuple[Console, services.Mosquitto]]:
    """A console whose command link runs against a Mosquitto with the production ACL."""
    with services.own_mosquitto(users={CLOUD_USER: CLOUD_PASSWORD, **SITES},
                                acl=acl_text([CLOUD_USER])) as broker:
        async with console(db_url, broker=broker.url, user=CLOUD_USER,
                           password=CLOUD_PASSWORD) as c:
            assert c.link is not None
            task = asyncio.create_task(c.link.run())
            try:
                async with asyncio.timeout(10):
                    while not c.link.connected:  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
                yield c, broker
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)


async def test_a_command_is_published_once_to_its_site_and_settled_by_that_sites_reply(
        db_url: str) -> None:
    async with with_broker(db_url) as (c, broker), \
            edge(broker.port, "demo") as demo, edge(broker.port, "north") as north:
        guard = await c.as_role("guard")
        me = await c.call("GET", "/api/me", guard, 200)
        cmd = await c.call("POST", P, guard, 201, {"kind": "gate.open",
                                                  "args": {"gate": "gate-out-1"}})
        got = await received(demo, 1.5)
        assert [t for t, _ in got] == [topics.down_cmd("demo")], got  # once, to its site
        wire = decode_command(json.dumps(got[0][1]).encode())
        assert (wire.cmd_id, str(wire.kind), wire.args, wire.issued_by) == (
            cmd["cmd_id"], "gate.open", {"gate": "gate-out-1"}, me["name"])
        assert wire.not_after == c.clock.now() + timedelta(seconds=60)
        assert await received(north, 0.3) == []  # another site's edge hears nothing
        await state_of(c, cmd["id"], "sent")

        # North's credential answers for demo's command: on its own topic the console matches
        # no command of north's; on demo's topic the broker drops it (ACL).
        foreign = encode_reply(CommandReply(cmd_id=cmd["cmd_id"], result=CommandResult.OK,
                                            at=c.clock.now()))
        assert c.link is not None
        await north.publish(topics.up_cmd_reply("north"), foreign, qos=1)
        await north.publish(topics.up_cmd_reply("demo"), foreign, qos=1)
        async with asyncio.timeout(5):
            while c.link.counters["replies"] < 1:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # the ACL-dropped one never arrives
        assert (c.link.counters["replies"], c.link.counters["replies_applied"]) == (1, 0)
        assert (await c.call("GET", f"{P}/{cmd['id']}", guard, 200))["state"] == "sent"

        await demo.publish(topics.up_cmd_reply("demo"), encode_reply(CommandReply(
            cmd_id=cmd["cmd_id"], result=CommandResult.OK, at=c.clock.now(),
            detail="道闸已抬起 / barrier raised")), qos=1)
        await state_of(c, cmd["id"], "done")
        done = await c.call("GET", f"{P}/{cmd['id']}", guard, 200)
        assert (done["result"], done["detail"]) == ("ok", "道闸已抬起 / barrier raised")
        assert await received(demo, 0.3) == []  # still published only once


async def test_the_sweep_expires_a_command_nobody_answers(db_url: str) -> None:
    async with with_broker(db_url) as (c, broker), edge(broker.port, "demo") as demo:
        guard = await c.as_role("guard")
        cmd = await c.call("POST", P, guard, 201, {"kind": "linkage.reset", "ttl_s": 2})
        await state_of(c, cmd["id"], "sent")
        assert len(await received(demo, 0.5)) == 1
        c.clock.advance(2 + EXPIRY_GRACE_S + 1)
        await state_of(c, cmd["id"], "expired")  # by the link's sweep, no read needed
        async with c.sessions() as session:
            row = (await session.scalars(select(RemoteCommand))).one()
        assert (row.result, row.finished_at) == (None, c.clock.now())

