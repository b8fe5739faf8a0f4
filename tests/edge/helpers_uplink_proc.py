"""Subprocess for the Last Will test: an edge uplink that the parent kills with SIGKILL."""

from __future__ import annotations

import asyncio
import sys

from edge.outbox import AsyncOutbox
from edge.uplink import Uplink, UplinkSettings


async def main(url: str, site: str, db: str) -> None:
    box = await AsyncOutbox.open(db)
    async with box:
        await Uplink(UplinkSettings(site=site, mqtt_url=url, keepalive=5), box).run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
