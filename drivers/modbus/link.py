"""One connection to one bus, one request at a time, failures as typed errors.

Why this wraps pymodbus rather than using it directly:

* pymodbus's retries and auto-reconnect are switched off: the driver decides what to retry,
  and a reconnect storm must not run behind the scheduler's back.
* pymodbus closes a TCP connection after ``retries + 3`` consecutive no-replies. Behind an
  RS-485 converter, a few silent unit ids would then keep cutting off the live ones. So the
  reply timeout is enforced here (pymodbus's own is set well beyond it and never fires, and
  its counter is reset before every request); this link closes the connection itself only
  when *nothing* on the bus has answered for a while (a half-open TCP connection). Owning the
  timeout also lets a probe use a shorter one than a live poll.
* An RS-485 line (and a TCP converter in front of one) carries one request at a time, and RTU
  needs a silent interval between frames: both are enforced here, per *wire* (``Wire``), not
  per driver. Meters, gate relay boards and elevator boxes may hang on the same line; two
  masters talking at once garble each other, so the edge builds one ``Wire`` per physical bus
  and every driver on it reaches the wire through its own ``BusLink`` (its counters, its log
  context, the wire's one connection and one lock).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

import structlog
from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from contract import Clock
from drivers.base import DriverStats
from drivers.modbus.model import RtuBus, TcpBus

RECONNECT_MIN_S = 0.5
RECONNECT_MAX_S = 30.0
# A link with this many no-replies in a row and no answer from anyone for DEAD_AFTER_S is
# considered half-open and is recycled.
DEAD_AFTER_NO_REPLIES = 5
DEAD_AFTER_S = 5.0


def silence_pymodbus() -> None:
    """pymodbus logs every timeout at ERROR; the driver logs failures once, with context."""
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    logging.getLogger("pymodbus.logging").setLevel(logging.CRITICAL)


class PollError(Exception):
    """A read that produced no value; ``reason`` is the device.offline reason it maps to."""

    reason = "timeout"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NoReply(PollError):
    reason = "timeout"


class ExceptionReply(PollError):
    reason = "exception"

    def __init__(self, detail: str, code: int) -> None:
        super().__init__(detail)
        self.code = code


class GarbageReply(PollError):
    """Bytes came back but no usable reply. ``slow`` when it cost a full timeout (no frame
    could be decoded at all), which the scheduler treats like silence."""

    reason = "garbage"

    def __init__(self, detail: str, slow: bool = False) -> None:
        super().__init__(detail)
        self.slow = slow


class BusDown(PollError):
    reason = "bus_down"


Client = AsyncModbusTcpClient | AsyncModbusSerialClient
Request = Callable[[Client], Awaitable[Any]]


def wire_key(bus: TcpBus | RtuBus) -> str:
    """The physical wire a bus names: one converter port (``tcp:host:port``) or one serial
    line (``serial:/dev/…``). Two bus entries with the same key are one wire."""
    if isinstance(bus, TcpBus):
        return f"tcp:{bus.host.lower()}:{bus.port}"
    return f"serial:{bus.port}"


class Wire:
    """One physical bus: its connection, its one lock, the RTU silent interval, reconnect
    back-off and half-open detection. Every driver on the wire (meters, relay boards,
    elevator boxes) goes through :meth:`send`, so the wire carries one request at a time
    whoever asks. ``stats`` counts the whole wire's traffic; each request is also counted in
    the caller's stats and logged with the caller's context (see :class:`BusLink`).
    """

    def __init__(self, bus: TcpBus | RtuBus, clock: Clock, stats: DriverStats | None = None,
                 log: Any | None = None) -> None:
        self.bus = bus
        self.key = wire_key(bus)
        self.stats = stats if stats is not None else DriverStats()
        self._clock = clock
        self._log = bind_bus_log(bus, log)
        self._client: Client | None = None
        self._lock = asyncio.Lock()
        self._gap = bus.inter_frame_gap if isinstance(bus, RtuBus) else 0.0
        self._quiet_until = 0.0
        self._next_connect_at = 0.0
        self._backoff = RECONNECT_MIN_S
        self._no_replies = 0
        self._last_answer = clock.monotonic()
        self._rx_bytes = 0

    @property
    def gap(self) -> float:
        return self._gap

    def _count(self, name: str, stats: DriverStats) -> None:
        self.stats.inc(name)
        if stats is not self.stats:
            stats.inc(name)

    def _make_client(self) -> Client:
        bus = self.bus
        backstop = 2 * bus.timeout + 5.0
        if isinstance(bus, TcpBus):
            return AsyncModbusTcpClient(bus.host, port=bus.port, timeout=backstop,
                                        retries=0, reconnect_delay=0,
                                        trace_packet=self._count_rx)
        return AsyncModbusSerialClient(bus.port, framer=FramerType.RTU, baudrate=bus.baudrate,
                                       bytesize=bus.bytesize, parity=bus.parity,
                                       stopbits=bus.stopbits, timeout=backstop, retries=0,
                                       reconnect_delay=0, trace_packet=self._count_rx)

    def _count_rx(self, sending: bool, data: bytes) -> bytes:
        """Bytes received since the request: a timeout with bytes is garbage, not silence."""
        if not sending:
            self._rx_bytes += len(data)
        return data

    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    async def _ensure_connected(self, stats: DriverStats, log: Any) -> Client:
        if self._client is not None and self._client.connected:
            return self._client
        now = self._clock.monotonic()
        if now < self._next_connect_at:
            raise BusDown(f"reconnecting in {self._next_connect_at - now:.1f}s")
        self._drop_client()
        client = self._make_client()
        try:
            async with asyncio.timeout(max(2 * self.bus.timeout, 1.0)):
                ok = await client.connect()
        except (TimeoutError, OSError, ModbusException) as exc:
            ok, why = False, f"{type(exc).__name__}: {exc}"
        else:
            why = "connect refused or port missing"
        if not ok:
            client.close()
            self._count("connect_failures", stats)
            self._next_connect_at = self._clock.monotonic() + self._backoff
            log.warning("bus connect failed", detail=why, retry_in_s=self._backoff)
            self._backoff = min(self._backoff * 2, RECONNECT_MAX_S)
            raise BusDown(why)
        self._count("connects", stats)
        log.info("bus connected", wire=self.key)
        self._client = client
        self._backoff = RECONNECT_MIN_S
        self._no_replies = 0
        self._last_answer = self._clock.monotonic()
        return client

    def _drop_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def close(self) -> None:
        async with self._lock:
            self._drop_client()

    async def send(self, request: Request, wait_s: float, stats: DriverStats, log: Any) -> Any:
        """The one way onto the wire: one request at a time, the RTU silent interval, our own
        reply timeout ``wait_s``, failures mapped to NoReply / ExceptionReply / GarbageReply /
        BusDown; returns the (non-error) reply PDU. The lock is FIFO: a waiting gate command
        goes after at most the requests already queued, never behind a stream of polls."""
        async with self._lock:
            client = await self._ensure_connected(stats, log)
            wait = self._quiet_until - self._clock.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                return await self._send_once(client, request, wait_s, stats, log)
            finally:
                self._quiet_until = self._clock.monotonic() + self._gap

    async def _send_once(self, client: Client, request: Request, wait_s: float,
                         stats: DriverStats, log: Any) -> Any:
        ctx = client.ctx
        # Keep pymodbus from closing the shared connection because one unit id is silent.
        ctx.count_until_disconnect = ctx.max_until_disconnect
        self._count("requests", stats)
        self._rx_bytes = 0
        try:
            async with asyncio.timeout(wait_s):  # not wait_for: it can swallow a cancel (3.11)
                reply = await request(client)
        except TimeoutError:
            if self._rx_bytes:
                self._answered()
                raise GarbageReply(f"{self._rx_bytes} bytes received but no valid frame "
                                   f"within {wait_s:.2f}s", slow=True) from None
            return self._no_reply(f"no reply within {wait_s:.2f}s", stats, log)
        except ConnectionException as exc:
            self._drop_client()
            raise BusDown(f"connection lost: {exc}") from None
        except ModbusIOException as exc:
            if "No response" in str(exc):
                return self._no_reply(f"no reply within {wait_s:.2f}s", stats, log)
            self._answered()
            raise GarbageReply(f"unusable reply: {exc}") from None
        except ModbusException as exc:
            self._answered()
            raise GarbageReply(f"{type(exc).__name__}: {exc}") from None
        except OSError as exc:
            self._drop_client()
            raise BusDown(f"{type(exc).__name__}: {exc}") from None
        self._answered()
        if not client.connected:
            # The reply arrived but the transport died while handling it (e.g. a frame
            # pymodbus could not decode): reconnect on the next request.
            self._drop_client()
        if reply.isError():
            code = int(getattr(reply, "exception_code", 0))
            raise ExceptionReply(f"exception code {code}", code)
        return reply

    def _answered(self) -> None:
        self._no_replies = 0
        self._last_answer = self._clock.monotonic()

    def _no_reply(self, detail: str, stats: DriverStats, log: Any) -> list[int]:
        self._no_replies += 1
        silent_for = self._clock.monotonic() - self._last_answer
        if (isinstance(self.bus, TcpBus) and self._no_replies >= DEAD_AFTER_NO_REPLIES
                and silent_for >= DEAD_AFTER_S):
            log.warning("no unit answered; recycling connection",
                        no_replies=self._no_replies, silent_s=round(silent_for, 1))
            self._count("reconnects", stats)
            self._drop_client()
        raise NoReply(detail)


class BusLink:
    """A driver's way onto a bus: every Modbus function it needs, through one :class:`Wire`.

    Built alone (``wire=None``) it owns a private wire, as a driver tested on its own bus
    wants. The edge builds one ``Wire`` per physical bus and gives each driver on it a
    ``BusLink`` over that wire (``wire=``), so meters, relay boards and elevator boxes share
    one connection and one lock while each keeps its own counters (``stats``) and log context.
    Closing a link closes only a wire it owns.
    """

    def __init__(self, bus: TcpBus | RtuBus, clock: Clock, stats: DriverStats,
                 log: Any, *, wire: Wire | None = None) -> None:
        if wire is not None and wire.key != wire_key(bus):
            raise ValueError(f"bus {bus.id} ({wire_key(bus)}) is not on wire {wire.key}")
        self.bus = bus
        self._stats = stats
        self._log = log
        self.wire = wire if wire is not None else Wire(bus, clock, stats, log)
        self._owns_wire = wire is None

    @property
    def request_cost(self) -> float:
        """Worst-case seconds one attempt occupies the bus (used to fit probes in)."""
        return self.bus.timeout + self.wire.gap

    def connected(self) -> bool:
        return self.wire.connected()

    async def close(self) -> None:
        if self._owns_wire:
            await self.wire.close()

    async def _send(self, request: Request, wait_s: float | None) -> Any:
        return await self.wire.send(request, wait_s or self.bus.timeout, self._stats,
                                    self._log)

    async def read(self, function_code: int, address: int, count: int, unit: int,
                   wait_s: float | None = None) -> list[int]:
        """Registers ``address..address+count-1`` of ``unit``, or a :class:`PollError`.

        ``wait_s`` is the reply timeout (default: the bus's).
        """
        def call(c: Client) -> Awaitable[Any]:
            read = c.read_holding_registers if function_code == 3 else c.read_input_registers
            return read(address, count=count, device_id=unit)

        reply = await self._send(call, wait_s)
        registers = list(getattr(reply, "registers", None) or [])
        if len(registers) != count:
            raise GarbageReply(f"asked for {count} registers, got {len(registers)}")
        return registers

    async def read_bits(self, function_code: Literal[1, 2], address: int, count: int,
                        unit: int, wait_s: float | None = None) -> list[bool]:
        """Coils (FC 1) or discrete inputs (FC 2) ``address..+count-1``, or a PollError."""
        def call(c: Client) -> Awaitable[Any]:
            read = c.read_coils if function_code == 1 else c.read_discrete_inputs
            return read(address, count=count, device_id=unit)

        reply = await self._send(call, wait_s)
        bits = list(getattr(reply, "bits", None) or [])
        if len(bits) < count:
            raise GarbageReply(f"asked for {count} bits, got {len(bits)}")
        return [bool(b) for b in bits[:count]]

    async def write_coil(self, address: int, value: bool, unit: int,
                         wait_s: float | None = None) -> None:
        """FC 5; the board must echo what it was told. Never retried here."""
        reply = await self._send(
            lambda c: c.write_coil(address, value, device_id=unit), wait_s)
        bits = list(getattr(reply, "bits", None) or [])
        if getattr(reply, "address", address) != address or not bits or bool(bits[0]) != value:
            raise GarbageReply(f"coil {address} write echo does not match")

    async def write_register(self, address: int, value: int, unit: int,
                             wait_s: float | None = None) -> None:
        """FC 6: set one holding register of ``unit``; the unit must echo what it was told.

        Same rules as :meth:`read` (one request at a time, our own reply timeout, the RTU
        silent interval, failures as NoReply / ExceptionReply / GarbageReply / BusDown). Never
        retried here: only the caller knows whether writing twice is harmless.
        """
        if not 0 <= value <= 0xFFFF:
            raise ValueError(f"register value {value} does not fit 16 bits")
        reply = await self._send(
            lambda c: c.write_register(address, value, device_id=unit), wait_s)
        echoed = list(getattr(reply, "registers", None) or [])
        if getattr(reply, "address", None) != address or echoed[:1] != [value]:
            raise GarbageReply(f"write of register {address:#06x} echoed "
                               f"{getattr(reply, 'address', None)}={echoed[:1]}")

    async def write_registers(self, address: int, values: Sequence[int], unit: int,
                              wait_s: float | None = None) -> None:
        """FC 16: set ``values`` from ``address`` on; the reply must name the same range."""
        words = list(values)
        if not 1 <= len(words) <= 123 or any(not 0 <= v <= 0xFFFF for v in words):
            raise ValueError("1..123 values of 16 bits each")
        reply = await self._send(
            lambda c: c.write_registers(address, words, device_id=unit), wait_s)
        if getattr(reply, "address", None) != address or getattr(reply, "count", None) != \
                len(words):
            raise GarbageReply(f"write of {len(words)} registers at {address:#06x} answered "
                               f"for {getattr(reply, 'count', None)} at "
                               f"{getattr(reply, 'address', None)}")


def bind_bus_log(bus: TcpBus | RtuBus, log: Any | None) -> Any:
    base = log if log is not None else structlog.get_logger("courtyard.drivers.modbus")
    return base.bind(bus=bus.id)
