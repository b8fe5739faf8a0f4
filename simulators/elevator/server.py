"""Elevator monitoring boxes on a real pymodbus server, told apart by unit id.

An ``ElevatorBox`` is one box: it encodes its car's state in its profile's registers (each
box may use a different profile), accepts a recall written to its control register, and can
misbehave on the wire (``set_fault``: silent, exception replies, garbage). An
``ElevatorSimulator`` serves several boxes on one TCP port (an RS-485-to-Ethernet converter)
or serial port. ``ElevatorBusContext`` is the pymodbus datastore hook, usable by a site
simulator that puts boxes next to other devices on one bus.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusSerialServer, ModbusTcpServer

from simulators.elevator.car import SimCar
from simulators.elevator.layout import PROFILES_DIR, Layout, find_profile, load_layout
from simulators.modbus.serving import FaultyUnit, WireFault, garbling_trace, serve

log = logging.getLogger(__name__)

FAULTS = ("none", "no_reply", "exception", "garbage")
_READ_FCS = (3, 4)
_WRITE_FCS = (6, 16)


class ElevatorBox(FaultyUnit):
    """One monitoring box (unit ``unit``) watching ``car``, with ``layout``'s register map."""

    def __init__(self, unit: int, layout: Layout, car: SimCar | None = None, *,
                 main_landing: int = 1, clock: Callable[[], float] = time.monotonic) -> None:
        if not 1 <= unit <= 247:
            raise ValueError("unit id must be within 1..247")
        self.unit = unit
        self.layout = layout
        self.car = car if car is not None else SimCar(clock=clock)
        if main_landing not in self.car.floors:
            raise ValueError(f"main landing {main_landing} is not one of {self.car.floors}")
        self.main_landing = main_landing
        #: How the box answers on the wire (``set_fault``).
        self.wire = WireFault(unit, FAULTS)
        #: Last value written to each register (the control register), and every write.
        self.holding: dict[int, int] = {}
        self.writes: list[tuple[int, int]] = []
        self._unmapped: set[str] = set()

    @classmethod
    def from_profile(cls, unit: int, profile: str = "generic", car: SimCar | None = None, *,
                     main_landing: int = 1, clock: Callable[[], float] = time.monotonic,
                     directory: Path = PROFILES_DIR) -> ElevatorBox:
        """A box using profile ``profile`` (id, start of an id, or a path)."""
        layout = load_layout(find_profile(profile, directory))
        return cls(unit, layout, car, main_landing=main_landing, clock=clock)

    # -- scripted faults (the car's, here for convenience) ------------------------------------

    async def trap(self, at_landing: bool = False, *, report: bool = True) -> None:
        await self.car.trap(at_landing, report=report)

    async def door_open_while_moving(self) -> None:
        await self.car.door_open_while_moving()

    async def overrun(self, top: bool = True) -> None:
        await self.car.overrun(top)

    async def clear(self) -> None:
        await self.car.clear()

    # -- the car as registers -----------------------------------------------------------------

    def registers(self) -> dict[int, int]:
        """Every register of the map as the box would answer now (reserved ones are 0)."""
        car, items = self.car, self.layout.items
        lo, hi = self.layout.span
        words = dict.fromkeys(range(lo, hi + 1), 0)

        def put(name: str, raw: int) -> None:
            if name in items:
                items[name].put(words, raw)

        put("direction", items["direction"].codes[car.direction])
        put("door", items["door"].codes[car.door])
        put("door_zone", int(car.in_door_zone))
        put("floor", car.floor)
        put("people", int(car.people))
        put("inspection", int(car.inspection))
        put("maintenance", int(car.maintenance))
        codes: list[tuple[bool, int]] = []
        bits = 0
        for key in car.faults:
            fault = self.layout.fault(key)
            if fault is None:
                if key not in self._unmapped:
                    self._unmapped.add(key)
                    log.warning("unit %d: profile %s has no code for %s: not reported",
                                self.unit, self.layout.id, key)
                continue
            if fault.bit is not None and "fault_bits" in items:
                bits |= 1 << fault.bit
            else:
                codes.append((not fault.trapped, fault.code))  # trapped first
        codes.sort()
        put("fault_code", codes[0][1] if codes else 0)
        put("fault_code_2", codes[1][1] if len(codes) > 1 else 0)
        put("fault_bits", bits)
        if self.layout.control_address is not None:
            words[self.layout.control_address] = self.holding.get(
                self.layout.control_address, 0)
        return words

    def read_registers(self, function_code: int, address: int, count: int) -> list[int] | int:
        """The registers asked for, or a Modbus exception code."""
        if function_code != self.layout.function_code:
            return int(ExcCodes.ILLEGAL_FUNCTION)
        lo, hi = self.layout.span
        if count < 1 or address < lo or address + count - 1 > hi:
            return int(ExcCodes.ILLEGAL_ADDRESS)
        words = self.registers()
        return [words[a] for a in range(address, address + count)]

    def write_registers(self, address: int, values: Sequence[int]) -> int | None:
        """A write to the control register: the recall value recalls, any other releases."""
        control = self.layout.control_address
        if control is None or address != control or len(values) != 1:
            return int(ExcCodes.ILLEGAL_ADDRESS)
        value = int(values[0])
        self.holding[address] = value
        self.writes.append((address, value))
        if value == self.layout.recall_value:
            accepted = self.car.recall(self.main_landing)
            log.warning("unit %d: recall to floor %d %s", self.unit, self.main_landing,
                        "accepted" if accepted else "ignored by the controller")
        else:
            self.car.release_recall()
        return None

    def describe(self) -> str:
        wire = "" if self.fault == "none" else f" [{self.fault}]"
        return f"unit {self.unit} ({self.layout.id}): {self.car.describe()}{wire}"


class ElevatorBusContext(ModbusServerContext):
    """pymodbus datastore hook answering for ``boxes`` by unit id (``old_simulator`` path;
    the base initialiser is skipped on purpose, it insists on the deprecated data blocks)."""

    def __init__(self, boxes: dict[int, ElevatorBox]) -> None:
        self._boxes = boxes
        self.old_simulator = True
        self.simdevices = []

    def device_ids(self) -> list[int]:
        return list(self._boxes)

    def _box(self, device_id: int) -> ElevatorBox:
        box = self._boxes.get(device_id)
        if box is None:
            raise NoSuchIdException(f"no box at unit {device_id}")
        return box

    async def async_getValues(self, device_id: int, func_code: int, address: int,
                              count: int = 1) -> list[int] | list[bool] | ExcCodes:
        box = self._box(device_id)
        if func_code in _WRITE_FCS:  # pymodbus reads back what a write stored, to echo it
            return [box.holding.get(address + i, 0) for i in range(count)]
        exc = await box.wire.apply()
        if exc is not None:
            return exc
        if func_code not in _READ_FCS:
            return ExcCodes.ILLEGAL_FUNCTION
        words = box.read_registers(func_code, address, count)
        return ExcCodes(words) if isinstance(words, int) else words

    async def async_setValues(self, device_id: int, func_code: int, address: int,
                              values: Sequence[int] | Sequence[bool]) -> ExcCodes | None:
        box = self._box(device_id)
        exc = await box.wire.apply()
        if exc is not None:
            return exc
        if func_code not in _WRITE_FCS:
            return ExcCodes.ILLEGAL_FUNCTION
        rc = box.write_registers(address, [int(v) for v in values])
        return None if rc is None else ExcCodes(rc)


class ElevatorSimulator:
    """Serve ``boxes`` on a TCP port (``tcp=(host, port)``) or a serial port (RTU)."""

    def __init__(self, boxes: Sequence[ElevatorBox], *, tcp: tuple[str, int] | None = None,
                 serial_port: str | None = None, baudrate: int = 9600) -> None:
        if (tcp is None) == (serial_port is None):
            raise ValueError("give exactly one of tcp=(host, port) or serial_port=")
        by_unit: dict[int, ElevatorBox] = {}
        for box in boxes:
            if box.unit in by_unit:
                raise ValueError(f"two boxes share unit id {box.unit}")
            by_unit[box.unit] = box
        self.boxes = by_unit
        self.tcp = tcp
        self.serial_port = serial_port
        self.baudrate = baudrate
        self._server: ModbusTcpServer | ModbusSerialServer | None = None
        #: Replaces a reply by bytes that are no valid frame, for a box in ``garbage``.
        self.trace_packet = garbling_trace(
            lambda unit: box.wire if (box := self.boxes.get(unit)) is not None else None,
            rtu=serial_port is not None)

    def box(self, unit: int) -> ElevatorBox:
        try:
            return self.boxes[unit]
        except KeyError:
            raise KeyError(f"no simulated elevator box at unit {unit}") from None

    @property
    def serving(self) -> bool:
        return self._server is not None

    def describe(self) -> str:
        where = f"tcp://{self.tcp[0]}:{self.tcp[1]}" if self.tcp else f"{self.serial_port}"
        return f"{where} " + "; ".join(b.describe() for _, b in sorted(self.boxes.items()))

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("already started")
        self._server = await serve(ElevatorBusContext(self.boxes), tcp=self.tcp,
                                   serial_port=self.serial_port, baudrate=self.baudrate,
                                   trace_packet=self.trace_packet)
        log.info("elevator simulator serving %s", self.describe())

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()
            log.info("elevator simulator stopped")

    async def __aenter__(self) -> ElevatorSimulator:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()
