"""A real pymodbus server holding many meters, each of which can be made to misbehave.

The driver under test talks to it over real TCP or a real pty pair; only the register store is
ours, so unit ids can be silent (no reply at all), answer exceptions, send garbage or be slow.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path

from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusSerialServer, ModbusTcpServer

from drivers.modbus.codec import encode
from drivers.modbus.model import Profile

FAULTS = ("none", "no_reply", "exception", "slow", "garbage_nan", "garbage_short")
NAN_WORDS = (0x7FC0, 0x0000)


class MeterBank(ModbusServerContext):
    """Register store for several unit ids, built from driver profiles and fixed values."""

    def __init__(self) -> None:  # the base __init__ insists on its own deprecated stores
        self.old_simulator = True
        self.simdevices = []
        self._words: dict[int, dict[tuple[int, int], int]] = {}
        self.faults: dict[int, str] = {}
        self.slow_s = 0.0
        self.requests: Counter[int] = Counter()

    def add(self, unit: int, profile: Profile, values: dict[str, float],
            fault: str = "none") -> None:
        words: dict[tuple[int, int], int] = {}
        for spec in profile.registers:
            regs = encode(values.get(spec.name, 0.0), spec.data_type, spec.order, spec.scale)
            for i, word in enumerate(regs):
                words[(spec.function_code, spec.address + i)] = word
        self._words[unit] = words
        self.set_fault(unit, fault)

    def set_value(self, unit: int, profile: Profile, name: str, value: float) -> None:
        spec = next(s for s in profile.registers if s.name == name)
        for i, word in enumerate(encode(value, spec.data_type, spec.order, spec.scale)):
            self._words[unit][(spec.function_code, spec.address + i)] = word

    def set_fault(self, unit: int, fault: str) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        self.faults[unit] = fault

    def device_ids(self) -> list[int]:
        return list(self._words)

    async def async_getValues(  # type: ignore[override]
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        self.requests[device_id] += 1
        fault = self.faults.get(device_id, "no_reply")
        if device_id not in self._words or fault == "no_reply":
            raise NoSuchIdException(f"unit {device_id} is silent")
        if fault == "exception":
            return ExcCodes.ILLEGAL_ADDRESS
        if fault == "slow":
            await asyncio.sleep(self.slow_s)
        store = self._words[device_id]
        words = [store.get((func_code, address + i), 0) for i in range(count)]
        if fault == "garbage_nan":
            return [NAN_WORDS[i % 2] for i in range(count)]
        if fault == "garbage_short":
            return words[:-1]
        return words


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def serve_tcp(bank: MeterBank, port: int) -> AsyncIterator[ModbusTcpServer]:
    server = ModbusTcpServer(bank, address=("127.0.0.1", port), ignore_missing_devices=True)
    await server.serve_forever(background=True)
    try:
        yield server
    finally:
        await server.shutdown()


@asynccontextmanager
async def serve_rtu(bank: MeterBank, port: str) -> AsyncIterator[ModbusSerialServer]:
    server = ModbusSerialServer(bank, framer=FramerType.RTU, port=port, baudrate=9600,
                                ignore_missing_devices=True)
    await server.serve_forever(background=True)
    try:
        yield server
    finally:
        await server.shutdown()


@contextmanager
def pty_pair(tmp: Path) -> Iterator[tuple[str, str]]:
    """Two linked serial ports (a null-modem cable) made by socat."""
    socat = shutil.which("socat")
    if socat is None:
        raise RuntimeError("socat is required for the RTU tests (apt-get install socat)")
    a, b = tmp / "ttyA", tmp / "ttyB"
    proc = subprocess.Popen(
        [socat, "-d", "-d", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if a.exists() and b.exists():
                break
            if proc.poll() is not None:
                raise RuntimeError(f"socat exited with {proc.returncode}")
            time.sleep(0.05)
        else:
            raise RuntimeError("socat did not create the pty pair")
        yield os.fspath(a), os.fspath(b)
    finally:
        proc.terminate()
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
