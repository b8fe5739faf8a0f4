"""Several simulated meters behind one Modbus endpoint, as on a real RS-485 line.

One TCP port stands for an RS-485-to-Ethernet converter (meters told apart by unit id); one
serial port stands for a local RS-485 line. pymodbus's own server does the framing; this module
decides, per unit id, what a meter answers and how it misbehaves (silence, exception, delay,
line noise), because the edge must be tested against exactly those failures.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusSerialServer, ModbusTcpServer

from simulators.modbus.encode import crc16_modbus
from simulators.modbus.meter import SimMeter
from simulators.modbus.profile import ILLEGAL_FUNCTION
from simulators.modbus.serving import serve

log = logging.getLogger(__name__)

_READ_FCS = (3, 4)
_WRITE_FCS = (6, 16)


class MeterBusContext(ModbusServerContext):
    """pymodbus datastore hook: every request for a unit id is answered by its SimMeter.

    The base initialiser is not called on purpose: it wants pymodbus's own (deprecated) data
    blocks; ``old_simulator = True`` makes the server hand every request to the two methods
    below instead.
    """

    def __init__(self, meters: dict[int, SimMeter]) -> None:
        self._meters = meters
        self.old_simulator = True
        self.simdevices = []

    def device_ids(self) -> list[int]:
        return list(self._meters)

    async def _misbehave(self, device_id: int) -> SimMeter | ExcCodes:
        """Apply the unit's fault mode before it answers (no_reply raises: no answer at all)."""
        meter = self._meters.get(device_id)
        if meter is None or meter.fault == "no_reply":
            raise NoSuchIdException(f"unit {device_id} is silent")
        if meter.fault == "exception":
            return ExcCodes(meter.exception_code)
        if meter.fault == "slow" and meter.slow_ms > 0:
            await asyncio.sleep(meter.slow_ms / 1000.0)
        return meter

    async def async_getValues(self, device_id: int, func_code: int, address: int,
                              count: int = 1) -> list[int] | list[bool] | ExcCodes:
        if func_code in _WRITE_FCS:
            # pymodbus reads back what a single-register write stored, to echo it.
            meter = self._meters[device_id]
            words = meter.read_registers(3, address, count)
            return ExcCodes(words) if isinstance(words, int) else words
        meter_or_exc = await self._misbehave(device_id)
        if isinstance(meter_or_exc, ExcCodes):
            return meter_or_exc
        if func_code not in _READ_FCS:
            return ExcCodes(ILLEGAL_FUNCTION)
        words = meter_or_exc.read_registers(func_code, address, count)
        if isinstance(words, int):
            log.debug("unit %d refused fc=%d addr=0x%04X count=%d: exception %d",
                      device_id, func_code, address, count, words)
            return ExcCodes(words)
        return words

    async def async_setValues(self, device_id: int, func_code: int, address: int,
                              values: Sequence[int] | Sequence[bool]) -> ExcCodes | None:
        meter_or_exc = await self._misbehave(device_id)
        if isinstance(meter_or_exc, ExcCodes):
            return meter_or_exc
        if func_code not in _WRITE_FCS:
            return ExcCodes(ILLEGAL_FUNCTION)
        rc = meter_or_exc.write_registers(address, [int(v) for v in values])
        return None if rc is None else ExcCodes(rc)


class MeterBusSimulator:
    """Serve ``meters`` on a TCP port (``tcp=(host, port)``) or a serial port."""

    def __init__(self, meters: list[SimMeter], *, tcp: tuple[str, int] | None = None,
                 serial_port: str | None = None, baudrate: int = 9600) -> None:
        if (tcp is None) == (serial_port is None):
            raise ValueError("give exactly one of tcp=(host, port) or serial_port=")
        by_id: dict[int, SimMeter] = {}
        for meter in meters:
            if meter.address in by_id:
                raise ValueError(f"two meters share unit id {meter.address}")
            by_id[meter.address] = meter
        self.meters = by_id
        self.tcp = tcp
        self.serial_port = serial_port
        self.baudrate = baudrate
        self._server: ModbusTcpServer | ModbusSerialServer | None = None
        self._garbage_rng = random.Random(0)

    # -- what a user of the simulator touches ----------------------------------------------------
    def meter(self, address: int) -> SimMeter:
        try:
            return self.meters[address]
        except KeyError:
            raise KeyError(f"no simulated meter at unit id {address}") from None

    def set_fault(self, address: int, fault: str, **kw: Any) -> None:
        """Switch a unit's fault mode at run time (``slow_ms=``, ``exception_code=``)."""
        self.meter(address).set_fault(fault, **kw)
        log.info("unit %d fault → %s %s", address, fault, kw or "")

    def value(self, address: int, name: str) -> float:
        return self.meter(address).value(name)

    def set_value(self, address: int, name: str, v: float | None) -> None:
        self.meter(address).set_value(name, v)

    def describe(self) -> str:
        where = f"tcp://{self.tcp[0]}:{self.tcp[1]}" if self.tcp else f"{self.serial_port}"
        units = ", ".join(f"{a}={m.profile.id}" + ("" if m.fault == "none" else f"[{m.fault}]")
                          for a, m in sorted(self.meters.items()))
        return f"{where} {units}"

    # -- line noise -------------------------------------------------------------------------------
    def _trace_packet(self, sending: bool, data: bytes) -> bytes:
        """Replace an outgoing reply by bytes that are not a valid frame, for garbage units."""
        if not sending or len(data) < 2:
            return data
        rtu = self.serial_port is not None
        unit = data[0] if rtu else (data[6] if len(data) > 6 else -1)
        meter = self.meters.get(unit)
        if meter is None or meter.fault != "garbage":
            return data
        return self._garbage(data, rtu)

    def _garbage(self, reply: bytes, rtu: bool) -> bytes:
        noise = bytes(self._garbage_rng.getrandbits(8) for _ in range(max(4, len(reply) - 2)))
        if rtu:
            # Looks like it comes from the right unit, but the CRC can never match.
            body = reply[:1] + noise
            good = crc16_modbus(body)
            return body + bytes((good[0] ^ 0xA5, good[1] ^ 0x5A))
        # Keep the transaction id, break the protocol id (must be 0) and the length field.
        return reply[:2] + b"\xde\xad" + b"\xff\xff" + noise

    # -- life cycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("already started")
        self._server = await serve(MeterBusContext(self.meters), tcp=self.tcp,
                                   serial_port=self.serial_port, baudrate=self.baudrate,
                                   trace_packet=self._trace_packet)
        log.info("modbus simulator serving %s", self.describe())

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()
            log.info("modbus simulator stopped: %s", self.tcp or self.serial_port)

    async def __aenter__(self) -> MeterBusSimulator:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()
