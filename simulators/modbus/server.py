"""Several simulated meters behind one Modbus endpoint, as on a real RS-485 line.

One TCP port stands for an RS-485-to-Ethernet converter (meters told apart by unit id); one
serial port stands for a local RS-485 line. pymodbus's own server does the framing; this module
decides, per unit id, what a meter answers and how it misbehaves (silence, exception, delay,
line noise), because the edge must be tested against exactly those failures.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusSerialServer, ModbusTcpServer

from simulators.modbus.meter import SimMeter
from simulators.modbus.profile import ILLEGAL_FUNCTION
from simulators.modbus.serving import WireFault, garbling_trace, serve

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
        if meter is None:
            raise NoSuchIdException(f"unit {device_id} is silent")
        exc = await meter.wire.apply()
        return meter if exc is None else exc

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
        #: Replaces a reply by bytes that are not a valid frame, for a unit in ``garbage``.
        self._trace_packet = garbling_trace(self._wire_of, rtu=serial_port is not None)

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

    def _wire_of(self, unit: int) -> WireFault | None:
        meter = self.meters.get(unit)
        return meter.wire if meter is not None else None

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
