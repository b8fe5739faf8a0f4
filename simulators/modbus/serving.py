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

import contextlib
import itertools
import logging
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
