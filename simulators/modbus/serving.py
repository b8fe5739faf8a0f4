"""pymodbus's server with the one behaviour our simulators need changed, shared by all of them.

Meters, barrier relay boards and elevator boxes each decide what a unit answers (a datastore
context); how a request is answered and how a TCP or RTU endpoint is started is the same for
all of them, so it lives here once.

It also watches the wire. A real RS-485 line garbles two requests sent at once, and a
converter port is one line: the simulator records every request's start (its frame fully
received) and end (reply sent, or the unit stayed silent) per endpoint, across all TCP
connections to it, in a ``WireLog``. Pass one to ``serve(wire=…)``, or open ``wiretap()``
around code that starts servers (e.g. a site simulator) to get one per endpoint it serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.framer import FramerType
from pymodbus.pdu import ExceptionResponse
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler

from simulators.modbus.encode import crc16_modbus

log = logging.getLogger(__name__)

SimServer = ModbusTcpServer | ModbusSerialServer
Trace = Callable[[bool, bytes], bytes]


@dataclass(slots=True)
class WireRequest:
    """One request as the wire saw it (``time.monotonic()`` seconds)."""

    unit: int
    function_code: int
    connection: int
    start: float
    address: int = -1
    end: float | None = None  # None while outstanding


@dataclass
class WireLog:
    """Every request one endpoint (a converter port or a serial line) was asked, in order.

    ``overlaps`` counts requests that arrived while another was still outstanding on the same
    endpoint, whichever connection either came on: on a real line both would be garbled.
    ``max_connections`` is the most TCP connections open at once (a converter typically
    serves one client)."""

    endpoint: str
    requests: list[WireRequest] = field(default_factory=list)
    overlaps: int = 0
    connections: int = 0
    max_connections: int = 0
    _open: list[WireRequest] = field(default_factory=list)

    def begin(self, connection: int, unit: int, function_code: int,
              address: int = -1) -> WireRequest:
        req = WireRequest(unit, function_code, connection, time.monotonic(), address)
        if self._open:
            self.overlaps += 1
            log.warning("%s: request for unit %d arrived while unit %d's was outstanding",
                        self.endpoint, unit, self._open[0].unit)
        self._open.append(req)
        self.requests.append(req)
        return req

    def end(self, req: WireRequest) -> None:
        req.end = time.monotonic()
        with contextlib.suppress(ValueError):
            self._open.remove(req)

    def connected(self, up: bool) -> None:
        self.connections += 1 if up else -1
        self.max_connections = max(self.max_connections, self.connections)

    def of(self, unit: int, function_codes: tuple[int, ...] = ()) -> list[WireRequest]:
        """Requests to ``unit`` (of the given function codes, when given), in order."""
        return [r for r in self.requests
                if r.unit == unit and (not function_codes or r.function_code in function_codes)]

    def overlapping(self) -> list[tuple[WireRequest, WireRequest]]:
        """Pairs of requests whose [start, end] intervals intersect (recomputed from the
        record, independent of the live ``overlaps`` counter)."""
        done = sorted(self.requests, key=lambda r: r.start)
        return [(a, b) for a, b in itertools.pairwise(done)
                if b.start < (a.end if a.end is not None else float("inf"))]


_taps: list[dict[str, WireLog]] = []


@contextlib.contextmanager
def wiretap() -> Iterator[dict[str, WireLog]]:
    """While open, every endpoint ``serve`` starts gets a ``WireLog`` (keyed by
    ``tcp:host:port`` or ``serial:path``) in the yielded dict."""
    logs: dict[str, WireLog] = {}
    _taps.append(logs)
    try:
        yield logs
    finally:
        _taps.remove(logs)


class RequestHandler(ServerRequestHandler):
    """Answers the request it was started for, even if another arrives while a unit is slow.

    pymodbus's handler reads the connection's *latest* request again after the datastore
    await; with a ``slow`` unit and a client that gave up and asked another unit, the late
    reply would carry the wrong unit id. A real late device answers with its own id. A unit
    the context does not know stays silent (the client times out, as on a real line).
    """

    _seen: dict[int, WireRequest]

    def _wire(self) -> WireLog | None:
        return getattr(self.server, "wire", None)

    def callback_connected(self) -> None:
        super().callback_connected()
        if (wire := self._wire()) is not None:
            wire.connected(True)

    def callback_disconnected(self, exc: Exception | None) -> None:
        super().callback_disconnected(exc)
        if (wire := self._wire()) is not None:
            wire.connected(False)

    def callback_data(self, data: bytes, addr: tuple[str, int] | None = None) -> int:
        used = int(super().callback_data(data, addr))
        pdu, wire = self.last_pdu, self._wire()
        if pdu is not None and wire is not None:
            if not hasattr(self, "_seen"):
                self._seen = {}
            self._seen[id(pdu)] = wire.begin(id(self), pdu.dev_id, pdu.function_code,
                                             int(getattr(pdu, "address", -1)))
        return used

    async def handle_request(self) -> None:
        pdu, addr = self.last_pdu, self.last_addr
        if pdu is None:
            return
        seen = getattr(self, "_seen", {}).pop(id(pdu), None)
        wire = self._wire()
        try:
            try:
                response = await pdu.datastore_update(self.server.context, pdu.dev_id)
            except NoSuchIdException:
                return
            except Exception:
                log.exception("simulated unit %d failed to answer", pdu.dev_id)
                response = ExceptionResponse(pdu.function_code, ExcCodes.DEVICE_FAILURE)
            response.transaction_id = pdu.transaction_id
            response.dev_id = pdu.dev_id
            self.server_send(response, addr)
        finally:
            if seen is not None and wire is not None:
                wire.end(seen)


class TcpServer(ModbusTcpServer):
    def callback_new_connection(self) -> RequestHandler:
        return RequestHandler(self, self.trace_packet, self.trace_pdu, self.trace_connect)


class SerialServer(ModbusSerialServer):
    def callback_new_connection(self) -> RequestHandler:
        return RequestHandler(self, self.trace_packet, self.trace_pdu, self.trace_connect)


async def serve(context: ModbusServerContext, *, tcp: tuple[str, int] | None = None,
                serial_port: str | None = None, baudrate: int = 9600,
                trace_packet: Trace | None = None, wire: WireLog | None = None) -> SimServer:
    """Start serving ``context`` on a TCP address or a serial port (RTU), in the background.

    ``wire`` (or an open ``wiretap()``) records the requests this endpoint sees."""
    endpoint = f"tcp:{tcp[0]}:{tcp[1]}" if tcp is not None else f"serial:{serial_port}"
    if wire is None and _taps:
        wire = WireLog(endpoint)
    for logs in _taps:
        logs[endpoint] = wire  # type: ignore[assignment]
    server: SimServer
    if tcp is not None:
        server = TcpServer(context, framer=FramerType.SOCKET, address=tcp,
                           ignore_missing_devices=True, trace_packet=trace_packet)
    else:
        server = SerialServer(context, framer=FramerType.RTU, port=serial_port or "",
                              baudrate=baudrate, ignore_missing_devices=True,
                              trace_packet=trace_packet)
    server.wire = wire  # type: ignore[union-attr]
    await server.serve_forever(background=True)
    return server


# -- wire faults: how a unit misbehaves, the same for meters, relay boards and elevator boxes --

#: Every way a simulated unit can misbehave on the wire; each simulator offers a subset.
WIRE_FAULTS = ("none", "no_reply", "exception", "slow", "garbage")


class WireFault:
    """How one unit answers on the wire: normally, not at all (``no_reply``), with an
    exception code, late (``slow``) or with bytes that are no frame (``garbage``), for the
    next ``requests`` requests or until changed.

    The edge must be tested against exactly those failures, and they behave the same
    whatever the device, so each simulator's datastore calls ``apply`` once per request and
    its ``trace_packet`` (``garbling_trace``) spoils the reply ``apply`` marked.
    """

    def __init__(self, unit: int, modes: tuple[str, ...] = WIRE_FAULTS) -> None:
        self.unit = unit
        self.modes = modes
        self.mode = "none"
        self.exception_code = 4
        self.slow_ms = 0
        #: Requests this unit was asked (whatever it answered).
        self.requests = 0
        self._left: int | None = None
        self._garble_next = False

    def set(self, mode: str, *, requests: int | None = None, exception_code: int | None = None,
            slow_ms: int | None = None) -> None:
        """Misbehave as ``mode`` for the next ``requests`` requests (None: until changed)."""
        if mode not in self.modes:
            raise ValueError(f"fault must be one of {self.modes}, not {mode!r}")
        if requests is not None and requests < 1:
            raise ValueError("requests must be ≥ 1")
        if slow_ms is not None and slow_ms < 0:
            raise ValueError("slow_ms must be ≥ 0")
        self.mode = mode
        if exception_code is not None:
            self.exception_code = exception_code
        if slow_ms is not None:
            self.slow_ms = slow_ms
        self._left = requests if mode != "none" else None

    async def apply(self) -> ExcCodes | None:
        """One request arrived: an exception code to answer with, or None to answer normally
        (raises ``NoSuchIdException`` when the unit stays silent)."""
        self.requests += 1
        mode = self.mode
        if self._left is not None:
            self._left -= 1
            if self._left <= 0:
                self.mode, self._left = "none", None
        self._garble_next = mode == "garbage"
        if mode == "no_reply":
            raise NoSuchIdException(f"unit {self.unit} is silent")
        if mode == "exception":
            return ExcCodes(self.exception_code)
        if mode == "slow" and self.slow_ms > 0:
            await asyncio.sleep(self.slow_ms / 1000.0)
        return None

    def take_garble(self) -> bool:
        """Whether the reply now being sent must be garbage (asked once per reply)."""
        garble, self._garble_next = self._garble_next, False
        return garble


class FaultyUnit:
    """A simulated unit whose wire behaviour a test or a technician switches (``set_fault``);
    the unit sets ``wire`` and has its datastore call ``wire.apply()`` per request."""

    wire: WireFault

    def set_fault(self, fault: str, *, requests: int | None = None,
                  exception_code: int = 4) -> None:
        """How the unit answers: for the next ``requests`` requests, or until changed."""
        self.wire.set(fault, requests=requests, exception_code=exception_code)
        log.info("unit %d wire fault → %s%s", self.wire.unit, fault,
                 "" if requests is None else f" for {requests} requests")

    @property
    def fault(self) -> str:
        return self.wire.mode

    @property
    def requests(self) -> int:
        """Requests the unit was asked (whatever it answered)."""
        return self.wire.requests


def reply_unit(data: bytes, rtu: bool) -> int:
    """The unit id a reply frame carries (-1 when the frame is too short to tell)."""
    if rtu:
        return data[0] if data else -1
    return data[6] if len(data) > 6 else -1


def garble(reply: bytes, rtu: bool, rng: random.Random) -> bytes:
    """Bytes that look like a reply from the right unit but can never be parsed."""
    noise = bytes(rng.getrandbits(8) for _ in range(max(4, len(reply) - 2)))
    if rtu:
        # From the right unit, but the CRC can never match.
        body = reply[:1] + noise
        good = crc16_modbus(body)
        return body + bytes((good[0] ^ 0xA5, good[1] ^ 0x5A))
    # Keep the transaction id, break the protocol id (must be 0) and the length field.
    return reply[:2] + b"\xde\xad" + b"\xff\xff" + noise


def garbling_trace(fault_of: Callable[[int], WireFault | None], rtu: bool,
                   seed: int = 0) -> Trace:
    """A ``trace_packet`` that turns the replies ``WireFault.apply`` marked into garbage;
    ``fault_of`` finds a unit's fault by the unit id the reply carries."""
    rng = random.Random(seed)

    def trace(sending: bool, data: bytes) -> bytes:
        if not sending or len(data) < 2:
            return data
        fault = fault_of(reply_unit(data, rtu))
        if fault is None or not fault.take_garble():
            return data
        return garble(data, rtu, rng)

    return trace
