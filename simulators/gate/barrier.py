"""A Modbus relay board driving a barrier arm, with the arm's physics, on a real pymodbus server.

The board is what is sold for parking lanes: N relay outputs (coils) and N opto inputs
(discrete inputs), Modbus TCP (or RTU on a serial port). Relays are wired to the barrier
controller's OPEN / CLOSE / STOP contacts: a relay switching on is a button press (the rising
edge counts; holding it changes nothing). Inputs carry the open and closed limit switches and
the vehicle loop detector's output.

The arm travels between closed (0.0) and open (1.0) in ``travel_s`` seconds, computed from the
clock whenever someone looks, so a test with a hand-moved clock decides exactly where it is.
This barrier has **no safety of its own**: it comes down on a car if told to. That is on
purpose: the edge's rules are what is under test, and the simulator keeps the evidence
(``commands`` with the loop state at each press, and ``crushes``).

Faults to inject: ``jam()`` (the arm stops moving until ``free()``), ``break_limit()`` (a limit
input stuck at a value), and ``set_fault()`` for the unit: ``no_reply`` (silent), ``exception``
(every request answered with an exception code) or ``garbage`` (bytes that are not a frame),
optionally for only the next few requests.

Run one for a bench: ``python -m simulators.gate.barrier --port 1502`` and type ``help``.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusSerialServer, ModbusTcpServer

from simulators.bench import configure_logging, console, run
from simulators.modbus.serving import FaultyUnit, WireFault, garbling_trace, serve

log = logging.getLogger(__name__)

FAULTS = ("none", "no_reply", "exception", "garbage")
Limit = Literal["open", "closed"]
#: Below this arm position (0 closed … 1 open) a lowering arm touches a vehicle on the loop.
CONTACT_POSITION = 0.35
_EPS = 1e-9
_READ_BITS = (1, 2)
_WRITE_COILS = (5, 15)


@dataclass(frozen=True, slots=True)
class BarrierCommand:
    """One button press the board passed to the barrier, with what the loop saw then."""

    t: float
    command: str  # open | close | stop
    position: float
    loop_occupied: bool
    #: ``relay``: through the board (the edge); ``remote``: the barrier's own remote control.
    source: str = "relay"


@dataclass(frozen=True, slots=True)
class Crush:
    """The arm came down to vehicle height while the loop was occupied."""

    t: float
    position: float


class BarrierSimulator(FaultyUnit):
    """One relay board (unit ``unit``) and the barrier it drives; see the module docstring.

    ``clock`` returns seconds (monotonic); pass a test's clock to move the arm by hand.
    ``active_low`` inverts every input on the wire (a closed contact reads 0).
    """

    def __init__(self, *, tcp: tuple[str, int] | None = None, serial_port: str | None = None,
                 baudrate: int = 9600, unit: int = 1, channels: int = 8, travel_s: float = 2.0,
                 open_coil: int = 0, close_coil: int = 1, stop_coil: int | None = 2,
                 open_limit_input: int = 0, closed_limit_input: int = 1, loop_input: int = 2,
                 active_low: bool = False, start_position: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if (tcp is None) == (serial_port is None):
            raise ValueError("give exactly one of tcp=(host, port) or serial_port=")
        if travel_s <= 0:
            raise ValueError("travel_s must be > 0")
        if not 0.0 <= start_position <= 1.0:
            raise ValueError("start_position must be within [0, 1]")
        wired = [c for c in (open_coil, close_coil, stop_coil) if c is not None]
        wired += [open_limit_input, closed_limit_input, loop_input]
        if any(not 0 <= x < channels for x in wired):
            raise ValueError(f"coils and inputs must be within the board's {channels} channels")
        self.tcp = tcp
        self.serial_port = serial_port
        self.baudrate = baudrate
        self.unit = unit
        self.channels = channels
        self.travel_s = travel_s
        self.active_low = active_low
        self._clock = clock
        self._coil_role: dict[int, str] = {open_coil: "open", close_coil: "close"}
        if stop_coil is not None:
            self._coil_role[stop_coil] = "stop"
        self._inputs = {"open": open_limit_input, "closed": closed_limit_input,
                        "loop": loop_input}
        self.coils = [False] * channels
        self._pos = start_position
        self._dir = 0
        self._t = clock()
        self._jammed = False
        self._loop = False
        self._broken: dict[str, bool] = {}
        #: How the board answers on the wire (``set_fault``).
        self.wire = WireFault(unit, FAULTS)
        self._trace_packet = garbling_trace(lambda _unit: self.wire,
                                            rtu=serial_port is not None)
        self.commands: list[BarrierCommand] = []
        self._crushes: list[Crush] = []
        #: Times two different button relays were on at once (the edge must never do that).
        self.relay_conflicts = 0
        self._server: ModbusTcpServer | ModbusSerialServer | None = None

    # -- what a test reads ------------------------------------------------------------------

    @property
    def arm_position(self) -> float:
        """0.0 closed … 1.0 open, now."""
        self._advance()
        return self._pos

    @property
    def moving(self) -> int:
        """+1 rising, -1 lowering, 0 still (a jammed arm that is driven still counts)."""
        self._advance()
        return self._dir

    @property
    def loop_occupied(self) -> bool:
        return self._loop

    @property
    def jammed(self) -> bool:
        return self._jammed

    @property
    def crushes(self) -> list[Crush]:
        """Every time the arm came down to vehicle height on an occupied loop, up to now."""
        self._advance()
        return list(self._crushes)

    def limit(self, which: Limit) -> bool:
        """What the limit switch reports (True = active), broken or not."""
        self._advance()
        if which in self._broken:
            return self._broken[which]
        return self._pos >= 1.0 - _EPS if which == "open" else self._pos <= _EPS

    def presses(self, command: str | None = None,
                source: str | None = "relay") -> list[BarrierCommand]:
        """Button presses (through the board unless ``source`` says otherwise)."""
        return [c for c in self.commands if (command is None or c.command == command)
                and (source is None or c.source == source)]

    # -- what a test does (async: a scenario script awaits them in order) -----------------

    async def vehicle_enters_loop(self) -> None:
        self._advance()
        self._loop = True
        if self._pos <= CONTACT_POSITION + _EPS and self._pos < 1.0 - _EPS and self._dir < 0:
            self._crush()
        log.info("vehicle on the loop (arm at %.2f)", self._pos)

    async def vehicle_leaves_loop(self) -> None:
        self._advance()
        self._loop = False
        log.info("loop free (arm at %.2f)", self._pos)

    async def remote_control(self, command: Literal["open", "close", "stop"]) -> None:
        """Someone uses the barrier's own handheld remote: the board sees nothing of it."""
        self._advance()
        self._press(command, source="remote")

    async def jam(self) -> None:
        """The arm stops where it is (hits something, motor fault) until ``free()``."""
        self._advance()
        self._jammed = True
        log.info("arm jammed at %.2f", self._pos)

    async def free(self) -> None:
        """The obstruction is gone: the arm carries on in the direction it was driven."""
        self._advance()
        self._jammed = False
        log.info("arm freed at %.2f", self._pos)

    async def break_limit(self, which: Limit, stuck_at: bool) -> None:
        """A limit switch that always reports ``stuck_at`` (broken wire, welded contact)."""
        self._advance()
        self._broken[which] = stuck_at
        log.info("%s limit switch stuck at %s", which, stuck_at)

    async def repair_limit(self, which: Limit) -> None:
        self._advance()
        self._broken.pop(which, None)

    # -- physics ------------------------------------------------------------------------------

    def tick(self) -> None:
        """Move the arm up to now (the console calls it so arrivals are logged on time)."""
        self._advance()

    def _advance(self) -> None:
        now = self._clock()
        dt, self._t = max(0.0, now - self._t), now
        if self._dir == 0 or self._jammed or dt == 0.0:
            return
        before = self._pos
        self._pos = min(1.0, max(0.0, before + self._dir * dt / self.travel_s))
        if self._loop and self._dir < 0 and before > CONTACT_POSITION >= self._pos:
            self._crush()
        if self._pos in (0.0, 1.0):
            log.info("arm %s", "open" if self._pos == 1.0 else "closed")
            self._dir = 0

    def _crush(self) -> None:
        self._crushes.append(Crush(self._clock(), self._pos))
        log.error("ARM CAME DOWN ON A VEHICLE at %.2f", self._pos)

    def _press(self, role: str, source: str = "relay") -> None:
        self.commands.append(BarrierCommand(self._clock(), role, self._pos, self._loop,
                                            source))
        log.info("button %s from %s (arm at %.2f, loop %s)", role, source, self._pos,
                 "occupied" if self._loop else "free")
        if role == "open":
            self._dir = 1 if self._pos < 1.0 else 0
        elif role == "close":
            self._dir = -1 if self._pos > 0.0 else 0
        elif role == "stop":
            self._dir = 0

    def _set_coil(self, address: int, value: bool) -> None:
        self._advance()
        rising = value and not self.coils[address]
        self.coils[address] = value
        on = [a for a, role in self._coil_role.items() if self.coils[a]]
        if len(on) > 1:
            self.relay_conflicts += 1
            log.error("relays %s on at once", on)
        if rising and address in self._coil_role:
            self._press(self._coil_role[address])

    # -- the wire view --------------------------------------------------------------------------

    def _input_bits(self) -> list[bool]:
        raw = [False] * self.channels
        raw[self._inputs["open"]] = self.limit("open")
        raw[self._inputs["closed"]] = self.limit("closed")
        raw[self._inputs["loop"]] = self._loop
        return [b != self.active_low for b in raw]

    async def _misbehave(self, device_id: int) -> ExcCodes | None:
        """Apply the fault mode to one request (raises NoSuchIdException: no answer)."""
        if device_id != self.unit:
            raise NoSuchIdException(f"unit {device_id} is not on this board")
        return await self.wire.apply()

    def read_bits(self, func_code: int, address: int, count: int) -> list[bool] | ExcCodes:
        if address < 0 or count < 1 or address + count > self.channels:
            return ExcCodes.ILLEGAL_ADDRESS
        bits = self.coils if func_code == 1 else self._input_bits()
        return list(bits[address:address + count])

    def write_coils(self, address: int, values: Sequence[bool]) -> ExcCodes | None:
        if address < 0 or address + len(values) > self.channels:
            return ExcCodes.ILLEGAL_ADDRESS
        for i, v in enumerate(values):
            self._set_coil(address + i, bool(v))
        return None

    # -- life cycle ------------------------------------------------------------------------------

    def describe(self) -> str:
        where = f"tcp://{self.tcp[0]}:{self.tcp[1]}" if self.tcp else f"{self.serial_port}"
        return (f"{where} unit {self.unit}: arm {self.arm_position:.2f}, loop "
                f"{'occupied' if self._loop else 'free'}"
                + (", JAMMED" if self._jammed else "")
                + ("" if self.fault == "none" else f", fault {self.fault}"))

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("already started")
        self._server = await serve(_BoardContext(self), tcp=self.tcp,
                                   serial_port=self.serial_port, baudrate=self.baudrate,
                                   trace_packet=self._trace_packet)
        log.info("barrier simulator serving %s", self.describe())

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()

    async def __aenter__(self) -> BarrierSimulator:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()


class _BoardContext(ModbusServerContext):
    """pymodbus datastore hook: every request goes to the simulator (``old_simulator`` path;
    the base initialiser is skipped on purpose, it insists on the deprecated data blocks)."""

    def __init__(self, board: BarrierSimulator) -> None:
        self._board = board
        self.old_simulator = True
        self.simdevices = []

    def device_ids(self) -> list[int]:
        return [self._board.unit]

    async def async_getValues(self, device_id: int, func_code: int, address: int,
                              count: int = 1) -> list[int] | list[bool] | ExcCodes:
        board = self._board
        if func_code in _WRITE_COILS:
            # pymodbus reads back what a single-coil write stored, to echo it.
            return list(board.coils[address:address + count])
        exc = await board._misbehave(device_id)
        if exc is not None:
            return exc
        if func_code not in _READ_BITS:
            return ExcCodes.ILLEGAL_FUNCTION
        return board.read_bits(func_code, address, count)

    async def async_setValues(self, device_id: int, func_code: int, address: int,
                              values: Sequence[int] | Sequence[bool]) -> ExcCodes | None:
        board = self._board
        exc = await board._misbehave(device_id)
        if exc is not None:
            return exc
        if func_code not in _WRITE_COILS:
            return ExcCodes.ILLEGAL_FUNCTION
        return board.write_coils(address, [bool(v) for v in values])


# -- bench use ---------------------------------------------------------------------------------

_HELP = """commands / 命令:
  enter | leave        vehicle onto / off the loop (车辆进入 / 离开地感)
  jam | free           arm stuck / freed (卡杆 / 解除)
  remote open|close|stop  the barrier's own handheld remote (道闸遥控器)
  break open|closed 0|1  limit switch stuck at 0 or 1 (限位开关故障); repair open|closed
  fault none|no_reply|exception|garbage   how the board answers (控制板故障模式)
  status | help | quit"""


async def _command(sim: BarrierSimulator, line: str) -> bool:
    words = line.split()
    if not words:
        return True
    cmd, args = words[0].lower(), words[1:]
    try:
        if cmd == "enter":
            await sim.vehicle_enters_loop()
        elif cmd == "leave":
            await sim.vehicle_leaves_loop()
        elif cmd == "jam":
            await sim.jam()
        elif cmd == "free":
            await sim.free()
        elif cmd == "remote" and args and args[0] in ("open", "close", "stop"):
            await sim.remote_control(
                "open" if args[0] == "open" else "close" if args[0] == "close" else "stop")
        elif cmd == "break" and len(args) == 2 and args[0] in ("open", "closed"):
            await sim.break_limit("open" if args[0] == "open" else "closed", args[1] == "1")
        elif cmd == "repair" and args and args[0] in ("open", "closed"):
            await sim.repair_limit("open" if args[0] == "open" else "closed")
        elif cmd == "fault" and args:
            sim.set_fault(args[0])
        elif cmd == "quit":
            return False
        elif cmd != "status":
            print(_HELP)
    except ValueError as exc:
        print(f"error: {exc}")
    print(sim.describe())
    return True


async def _serve(args: argparse.Namespace) -> None:
    sim = BarrierSimulator(tcp=None if args.serial else (args.host, args.port),
                           serial_port=args.serial, baudrate=args.baudrate, unit=args.unit,
                           travel_s=args.travel, active_low=args.active_low)
    async with sim:
        print(sim.describe(), flush=True)
        await console(lambda line: _command(sim, line), sim.tick, help_text=_HELP)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.gate.barrier",
        description="模拟道闸继电器控制板 / Simulated barrier gate on a Modbus relay board "
                    "(coil 0 open, 1 close, 2 stop; input 0 open limit, 1 closed limit, 2 loop)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1502)
    parser.add_argument("--serial", help="serve Modbus RTU on this serial port instead of TCP")
    parser.add_argument("--baudrate", type=int, default=9600)
    parser.add_argument("--unit", type=int, default=1)
    parser.add_argument("--travel", type=float, default=2.0, help="arm travel time, seconds")
    parser.add_argument("--active-low", action="store_true", help="inputs read 0 when active")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    run(_serve(args))


if __name__ == "__main__":
    main()
