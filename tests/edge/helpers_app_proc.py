"""Subprocess for the signal test: ``asyncio.run(EdgeApp(cfg).run())`` as the CLI does."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from edge.app import EdgeApp
from edge.log import configure_logging
from tests.edge.helpers_site import silent_meter_site

if __name__ == "__main__":
    site, data_dir, url, health, dead = sys.argv[1:6]
    configure_logging(json=True)
    cfg = silent_meter_site(site, Path(data_dir), url, int(health), int(dead))
    asyncio.run(EdgeApp(cfg).run())
