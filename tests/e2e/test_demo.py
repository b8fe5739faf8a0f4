"""Acceptance: the README's demo command shows readings at the API within 60 s and stops
cleanly on Ctrl-C."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from tests.support import services
from tests.support.auth import cli_token_headers
from tests.support.procs import REPO, DemoRun, base_env, get_json

pytestmark = pytest.mark.slow

DEMO_PORTS = (15020, 18830, 19100, 19180)  # fixed in configs/sites/demo.yaml


def test_demo_shows_readings_within_60_s_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    busy = [p for p in DEMO_PORTS if services.port_open("127.0.0.1", p)]
    services.need(not busy, f"demo ports free (busy: {busy})")
    http_port = services.free_port()
    env = base_env(COURTYARD_DEMO_DIR=str(tmp_path / "demo"))
    demo = DemoRun([sys.executable, "-m", "courtyard", "demo", "--port", str(http_port)],
                   REPO, env)
    try:
        demo.wait_ready(60)
        lines = demo.lines
        assert any("密码 password:" in line for line in lines), "the demo prints its login"
        auth = cli_token_headers(base_env(COURTYARD_DATABASE_URL="sqlite+aiosqlite:///"
                                          f"{tmp_path / 'demo' / 'cloud.db'}"))
        page = get_json(f"http://127.0.0.1:{http_port}/api/sites/demo/events"
                        "?kind=meter.reading&limit=10", headers=auth)
        assert page is not None and page["events"], "the API shows no readings"
        values = page["events"][0]["data"]["values"]
        assert any(name.startswith("energy") or name.startswith("water") for name in values)
        # Buses start at spread phases: the RTU line's meter reports within one poll interval
        # of the first reading, not with it.
        deadline = time.monotonic() + 60
        keys: set[str] = set()
        while not keys >= {"meter-1-101", "meter-2-201"}:
            assert time.monotonic() < deadline, f"devices seen: {sorted(keys)}"
            devices = get_json(f"http://127.0.0.1:{http_port}/api/sites/demo/devices",
                               headers=auth)
            keys = {d["key"] for d in (devices or {}).get("devices", [])}
            time.sleep(0.5)

        assert demo.ctrl_c() == 0, demo.tail(40)
        assert any("已停止 / stopped" in line for line in lines)
    finally:
        demo.kill()
