"""The command runner as the uplink sees it, and the uplink's reply loop.

Kept here rather than in edge/uplink.py so the uplink stays about events: it only hands each
``down/cmd`` to ``received`` and runs ``send_replies`` alongside its event sender.
"""

from __future__ import annotations

from typing import Any, Protocol

from contract import topics


class CommandChannel(Protocol):
    """``received`` must not block (the receive loop also carries the acks); replies come
    back through ``unsent`` and are confirmed with ``sent`` once the broker has them."""

    def received(self, payload: bytes) -> None: ...

    def unsent(self) -> list[tuple[str, bytes]]: ...

    async def sent(self, cmd_id: str) -> None: ...

    async def wait_unsent(self) -> None: ...


async def send_replies(client: Any, commands: CommandChannel, site: str,
                       call_timeout: float, counters: Any) -> None:
    """``up/cmd-reply`` (QoS 1) for every reply the runner holds, oldest first, until the
    session ends. Each is confirmed only once the broker has it (aiomqtt returns from a QoS 1
    publish at PUBACK), so a reply written during an outage goes out after the next connect
    and one cut off mid-publish goes out again: at least once, never lost."""
    topic = topics.up_cmd_reply(site)
    while True:
        for cmd_id, payload in commands.unsent():
            await client.publish(topic, payload, qos=1, timeout=call_timeout)
            counters.cmd_replies += 1
            await commands.sent(cmd_id)
        await commands.wait_unsent()
