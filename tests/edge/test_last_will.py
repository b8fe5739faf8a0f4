"""After an edge uplink dies without a goodbye, the cloud sees a retained ``offline``."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiomqtt

from contract import topics
from tests.support.services import Mosquitto

REPO = Path(__file__).resolve().parents[2]


async def retained_status(m: Mosquitto, site: str, want: bytes, within: float = 10.0) -> bytes:
    """Connect afresh (so only retained messages arrive) until the status reads ``want``."""
    last = b""
    async with asyncio.timeout(within):
        while True:
            async with aiomqtt.Client(m.host, m.port, timeout=5) as c:
                await c.subscribe(topics.up_status(site), qos=1, timeout=5)
                try:
                    async with asyncio.timeout(1.0):
                        async for msg in c.messages:
                            if msg.retain:  # a live publish racing with us is not the state
                                last = bytes(msg.payload)  # type: ignore[arg-type]
                                break
                except TimeoutError:
                    pass
            if last == want:
                return last
            await asyncio.sleep(0.1)


async def test_last_will_marks_a_killed_edge_offline(tmp_path: Path,
                                                     mosquitto: Mosquitto) -> None:
    site = "willsite"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.edge.helpers_uplink_proc", mosquitto.url, site,
        str(tmp_path / "o.db"), cwd=REPO, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    try:
        assert await retained_status(mosquitto, site, b"online", within=20) == b"online"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        async with asyncio.timeout(10):
            await proc.wait()
    assert await retained_status(mosquitto, site, b"offline") == b"offline"
