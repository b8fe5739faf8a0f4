"""A console whose command link runs on a real Mosquitto with the production ACL, for the pages
that issue commands (guard board, door view, device page).

The test plays the site's edge with the site's own credential: it reads ``down/cmd`` and
answers on ``up/cmd-reply`` (``Rig.reply``). The ``rig`` fixture is in conftest.py.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiomqtt
from aiohttp import web

from cloud.commands.link import CommandLink
from cloud.commands.routes import configure_commands
from cloud.mosquitto_acl import acl_text
from cloud.web.keys import SESSIONS
from contract import SystemClock, topics
from contract.commands import CommandReply, CommandResult, encode_reply
from tests.support import services
from tests.support.staff_console import StaffConsole, staff_console

SITE = "sunny"
CLOUD_USER, CLOUD_PASSWORD = "_courtyard-cloud", "cloud-pw"
SITE_SECRET = "sunny-secret"


@dataclass
class Rig:
    staff: StaffConsole
    link: CommandLink
    broker: services.Mosquitto

    async def reply(self, cmd_id: str, result: CommandResult, detail: str = "") -> None:
        """Answer as the site's edge, with the site's own credential."""
        async with aiomqtt.Client("127.0.0.1", self.broker.port, username=SITE,
                                  password=SITE_SECRET, timeout=5,
                                  identifier=f"edge-reply-{uuid.uuid4().hex[:6]}") as edge:
            await edge.publish(topics.up_cmd_reply(SITE), encode_reply(CommandReply(
                cmd_id=cmd_id, result=result, at=datetime.now(UTC), detail=detail)), qos=1)


@asynccontextmanager
async def command_rig() -> AsyncIterator[Rig]:
    """The staff console (PostgreSQL) with its command link connected to a private broker."""
    links: list[CommandLink] = []

    def wire(app: web.Application) -> None:
        link = CommandLink(broker.url, CLOUD_USER, CLOUD_PASSWORD, app[SESSIONS], SystemClock(),
                           max_backoff=1.0)
        configure_commands(app, link)
        links.append(link)

    with services.own_mosquitto(users={CLOUD_USER: CLOUD_PASSWORD, SITE: SITE_SECRET},
                                acl=acl_text([CLOUD_USER])) as broker, \
            services.fresh_pg_database(migrated=True) as url:
        async with staff_console(url, setup=wire) as staff:
            [link] = links
            task = asyncio.create_task(link.run())
            try:
                async with asyncio.timeout(10):
                    while not link.connected:  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
                yield Rig(staff, link, broker)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)


async def next_commands(client: aiomqtt.Client, within: float) -> list[dict[str, Any]]:
    """The commands the site's edge receives in the next ``within`` seconds (an "exactly one"
    or "none" check must listen for a while after the first)."""
    out: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(within):
            async for message in client.messages:
                assert message.topic.value == topics.down_cmd(SITE)
                assert isinstance(message.payload, bytes)
                out.append(json.loads(message.payload))
    except TimeoutError:
        pass
    return out
