"""An MQTT client stand-in that turns a cancel into ``MqttError`` on the way out, as aiomqtt
does when its disconnect wait times out (a loaded host, a broker gone quiet).

Connecting succeeds at once; every call then waits (forever, or its ``timeout`` and then
fails), so a test's cancel lands inside the caller's session; ``__aexit__`` replaces that
``CancelledError`` with ``MqttError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

import aiomqtt


class LosesTheCancel:
    entered = 0

    def __init__(self, *_: Any, **__: Any) -> None:
        pass

    async def __aenter__(self) -> LosesTheCancel:
        LosesTheCancel.entered += 1
        return self

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        if t is asyncio.CancelledError:
            raise aiomqtt.MqttError("Operation timed out")

    def __getattr__(self, name: str) -> Any:
        async def call(*_: Any, timeout: float | None = None,  # noqa: ASYNC109 (aiomqtt's)
                       **__: Any) -> None:
            if timeout is None:
                await asyncio.Event().wait()
            else:
                await asyncio.sleep(timeout)  # the broker never answers
            raise aiomqtt.MqttError("Operation timed out")
        return call

    @property
    def messages(self) -> AsyncIterator[Any]:
        async def none() -> AsyncIterator[Any]:
            await asyncio.Event().wait()
            yield None
        return none()


async def stops_when_cancelled(run: Any, what: str) -> None:
    """Start ``run()``, cancel it once it is connected, and show it ends cancelled."""
    LosesTheCancel.entered = 0
    task = asyncio.create_task(run())
    async with asyncio.timeout(5):
        while not LosesTheCancel.entered:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # let it reach its first call on the client
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=10)
    assert task in done, f"{what} kept reconnecting after it was cancelled"
    assert task.cancelled()
    assert LosesTheCancel.entered == 1, f"{what} reconnected after it was cancelled"
