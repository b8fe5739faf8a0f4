"""Acceptance: the README's demo command shows readings at the API within 60 s and stops
cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support import services
from tests.support.auth import cli_token_headers
from tests.support.procs import REPO, base_env, get_json

pytestmark = pytest.mark.slow

DEMO_PORTS = (15020, 18830, 19100)  # fixed in configs/sites/demo.yaml


def test_demo_shows_readings_within_60_s_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    busy = [p for p in DEMO_PORTS if services.port_open("127.0.0.1", p)]
    services.need(not busy, f"demo ports free (busy: {busy})")
    http_port = services.free_port()
    env = base_env(COURTYARD_DEMO_DIR=str(tmp_path / "demo"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "courtyard", "demo", "--port", str(http_port)], cwd=REPO, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    out = proc.stdout
    assert out is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(out.readline, "")), daemon=True)
    reader.start()
    started = time.monotonic()
    try:
        while time.monotonic() - started < 60:
            if any("readings reached the console" in line for line in lines):
                break
            assert proc.poll() is None, "demo exited early:\n" + "".join(lines[-40:])
            time.sleep(0.5)
        else:
            pytest.fail("no readings within 60 s:\n" + "".join(lines[-60:]))

        assert any("密码 password:" in line for line in lines), "the demo prints its login"
        auth = cli_token_headers(base_env(COURTYARD_DATABASE_URL="sqlite+aiosqlite:///"
                                          f"{tmp_path / 'demo' / 'cloud.db'}"))
        page = get_json(f"http://127.0.0.1:{http_port}/api/sites/demo/events"
                        "?kind=meter.reading&limit=10", headers=auth)
        assert page is not None and page["events"], "the API shows no readings"
        values = page["events"][0]["data"]["values"]
        assert any(name.startswith("energy") or name.startswith("water") for name in values)
        devices = get_json(f"http://127.0.0.1:{http_port}/api/sites/demo/devices",
                           headers=auth)
        assert devices is not None
        assert {d["key"] for d in devices["devices"]} >= {"meter-1-101", "meter-2-201"}

        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        assert proc.wait(45) == 0, "".join(lines[-40:])
        reader.join(5)
        assert any("已停止 / stopped" in line for line in lines)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
