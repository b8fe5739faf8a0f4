"""`run_site` / `courtyard sim site` on a generated site file: every declared device answers."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.framer import FramerType

from simulators.site import main, run_site
from simulators.siteconfig import expand_env, load_site
from tests.simulators.wire import f32
from tests.support import services

REPO = Path(__file__).resolve().parents[2]


SITE = """\
site: {id: t1, name: 测试小区, timezone: Asia/Shanghai}
cloud: {mqtt_url: "mqtt://127.0.0.1:1883", username: t1, password: "${NO_SUCH_SECRET}"}
buses:
  - {id: tcp1, type: modbus_tcp, host: 127.0.0.1, port: "${SIM_TEST_PORT:-1}"}
  - {id: rtu1, type: modbus_rtu, port: "${SIM_TEST_RTU}", baudrate: 9600}
  - {id: gates, type: http_push}
devices:
  - {id: m-101, bus: tcp1, profile: eastron_sdm120, address: 1, unit: "1-101"}
  - {id: m-102, bus: tcp1, profile: chint_ddsu666, address: 2, unit: "1-102",
     simulate: {fault: exception, exception_code: 6}}
  - {id: m-201, bus: rtu1, profile: chint_dtsu666, address: 1, unit: "2-201"}
  - {id: w-201, bus: rtu1, profile: xintai_water, address: 2, unit: "2-201"}
  - {id: cam-1, bus: gates, profile: vzenith, address: 1}
"""


@pytest.fixture
def site_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, int, Path]:
    services.need(shutil.which("socat") is not None, "socat (apt-get install -y socat)")
    port = services.free_port()
    rtu = tmp_path / "dev" / "ttyRS485-1"
    monkeypatch.setenv("SIM_TEST_PORT", str(port))
    monkeypatch.setenv("SIM_TEST_RTU", str(rtu))
    path = tmp_path / "site.yaml"
    path.write_text(SITE, encoding="utf-8")
    return path, port, rtu


@pytest.fixture
async def running_site(site_file: tuple[Path, int, Path], profiles: Path
                       ) -> AsyncIterator[tuple[int, Path]]:
    path, port, rtu = site_file
    ready = asyncio.Event()
    task = asyncio.create_task(run_site(path, profiles, speedup=60.0, ready=ready))
    try:
        async with asyncio.timeout(10):
            await ready.wait()
        yield port, rtu
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_env_expansion() -> None:
    env = {"A": "x"}
    assert expand_env({"k": ["${A}", "${B:-7}", "${B}", 3]}, env) == {"k": ["x", "7", "", 3]}


def test_site_file_is_read_with_simulate_blocks(site_file: tuple[Path, int, Path]) -> None:
    path, port, rtu = site_file
    spec = load_site(path)
    tcp, serial = spec.buses
    assert (tcp.port, serial.path) == (port, str(rtu))
    assert [(d.address, d.fault, d.exception_code) for d in tcp.devices] == [
        (1, "none", 4), (2, "exception", 6)]
    assert spec.skipped_buses == ["gates"]


async def test_run_site_serves_every_declared_device(running_site: tuple[int, Path]) -> None:
    port, rtu = running_site
    tcp = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=1.0, retries=0)
    assert await tcp.connect()
    try:
        r = await tcp.read_input_registers(0x0048, count=2, device_id=1)
        assert f32(r.registers) > 0.0
        r = await tcp.read_holding_registers(0x2000, count=2, device_id=2)
        assert r.isError() and r.exception_code == 6  # simulate: {fault: exception, code 6}
    finally:
        tcp.close()

    # The edge's end of the RS-485 line is exactly the path the site file declares.
    assert rtu.exists()
    rtu_client = AsyncModbusSerialClient(str(rtu), framer=FramerType.RTU, baudrate=9600,
                                         timeout=1.0, retries=0)
    assert await rtu_client.connect()
    try:
        r = await rtu_client.read_holding_registers(0x2006, count=2, device_id=1)
        assert 220.0 <= 0.1 * f32(r.registers) <= 235.0  # DTSU666: V × 10
        r = await rtu_client.read_holding_registers(0x001C, count=1, device_id=2)
        assert r.registers == [1]
    finally:
        rtu_client.close()


async def test_prints_buses_then_stops_and_releases_port_and_line(
        site_file: tuple[Path, int, Path], profiles: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path, port, rtu = site_file
    ready = asyncio.Event()
    task = asyncio.create_task(run_site(path, profiles, ready=ready))
    async with asyncio.timeout(10):
        await ready.wait()
    out = capsys.readouterr().out
    assert f"Modbus TCP 127.0.0.1:{port}" in out and f"Modbus RTU {rtu}" in out
    assert out.index("总线 rtu1") < out.index("bus rtu1")  # Chinese first
    assert "bus gates: not Modbus" in out
    assert services.port_open("127.0.0.1", port)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not rtu.exists()
    assert not services.port_open("127.0.0.1", port)


def test_main_reports_a_missing_profile_bilingually(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "s.yaml"
    site.write_text(f"site: {{id: x}}\nbuses: [{{id: b, type: modbus_tcp, port: "
                    f"{services.free_port()}}}]\n"
                    "devices: [{id: d, bus: b, profile: no_such_meter, address: 1}]\n")
    assert main([str(site), "--profiles", str(tmp_path)]) == 2
    out = capsys.readouterr().out
    assert "型号文件不存在" in out and "not found" in out


def test_cli_runs_until_sigterm(site_file: tuple[Path, int, Path], profiles: Path) -> None:
    path, port, rtu = site_file

    proc = subprocess.Popen(
        [sys.executable, "-m", "courtyard", "sim", "site", str(path), "--profiles",
         str(profiles), "--speedup", "10"],
        cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: list[str] = []
    try:
        services.wait_port("127.0.0.1", port, timeout=20)
        deadline = time.monotonic() + 10
        while not rtu.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rtu.exists()
        assert proc.stdout is not None
        while not any("总线 tcp1" in line for line in seen):  # serving: its summary is out
            line = proc.stdout.readline()
            assert line, "".join(seen)
            seen.append(line)
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=15)
        out = "".join(seen) + rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert "总线 tcp1" in out and "模拟器已停止" in out
    assert not rtu.exists()
