# Over 500 lines on purpose: one GB/T 26875.3 session: stream, confirm, requests, clock sync.
"""The monitoring-centre side of GB/T 26875.3-2011: UITDs connect to the edge over TCP.

Per connection:

1. **Admit.** A peer whose IP no UITD lists in ``peers`` is refused (closed at once, counted
   as ``connections_refused`` and logged; only a UITD configured with ``any_peer`` — the
   site file's ``peers: any`` — admits anyone, and empty ``peers`` admits nobody). Once the
   first frame tells which UITD it is (its source address), the peer must be one that UITD
   lists; otherwise the connection is closed before the frame is read and it displaces
   nothing.
2. **Identify.** The first frame's source address names the UITD; its checksum method and
   serial byte order apply from that frame on. A second connection claiming a UITD that has
   a live connection is refused (``connections_displace_refused``) while the live one has
   sent a sound frame within ``displace_after`` seconds; after that silence the old one is
   taken for dead (a half-open socket after a link drop) and the newcomer replaces it
   (closed; the UITD stays online). A frame from an address that is not in the
   configuration is logged and counted, and gets **no reply and no event**: a confirm would
   tell that device a monitoring centre has its alarms, and nobody configured one; its own
   display then shows the transmission failing, which is the truth.
3. **Frames.** Send-data (command 2) is decoded, its events are emitted (each returns once
   durable) and then confirmed with the same serial: a confirm means "stored". The events are
   bounded to 5 s, well inside the device's 10 s; if they cannot be stored the frame is not
   confirmed, so the device sends it again. A frame repeated with the same serial and data
   (our confirm was lost) is confirmed again without new events. Heartbeats (command 2 with
   no data) are confirmed. Unknown type flags are logged, counted and still confirmed (the
   frame itself was sound; a deny would only bring it back). Bad checksum, bad end,
   oversize and unknown command bytes (including the 128–255 vendor range: none is
   implemented) are denied with the same serial; the connection stays up.
4. **Our side.** After the first frame the edge synchronises the UITD's clock (control 90,
   then every ``clock_sync_interval``) and reads the facility system status (request 61),
   with serials of its own starting at 0 per connection, 10 s per answer and 3 resends.
   Responses (command 5) are decoded like uploads but not confirmed (request/answer mode).
5. **Liveness.** Any sound frame counts. ``heartbeat_timeout`` seconds of silence (on the
   injected clock) emit ``device.offline`` and close the connection, a half-open TCP
   connection being the usual cause; the next sound frame emits ``device.online``. A
   dropped connection alone does not: UITDs on mobile links reconnect within seconds.

Events and their data are described in ``drivers.fire.events``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import structlog

from contract import Clock, Kind, NewEvent
from contract.envelope import format_ts
from drivers.base import DriverStats, Emit
from drivers.fire.appdata import (
    REQUEST_TYPES,
    AppData,
    Target,
    decode_app_data,
    encode_clock_sync,
    encode_request,
)
from drivers.fire.codec import (
    Command,
    Frame,
    FrameError,
    StreamReassembler,
    TimeTag,
    build_frame,
    reply_to,
)
from drivers.fire.events import EventMapper
from drivers.fire.model import FireConfig, UitdConfig

KIND_DEVICE_ONLINE = Kind.DEVICE_ONLINE
KIND_DEVICE_OFFLINE = Kind.DEVICE_OFFLINE
ONLINE_MESSAGE = "用户信息传输装置在线 / UITD online"
OFFLINE_MESSAGE = "用户信息传输装置离线：心跳超时 / UITD offline: heartbeat timeout"
REPLY_TIMEOUT_S = 10.0
RESENDS = 3
EMIT_TIMEOUT_S = 5.0
WRITE_TIMEOUT_S = 5.0
CLOSE_TIMEOUT_S = 2.0
READ_CHUNK = 4096
REPEAT_MEMORY = 64
DEFAULT_SYSTEM = Target(1, 1)


class FireCommandError(Exception):
    """A request or control the UITD did not take: ``reason`` is ``unknown_uitd``,
    ``not_connected``, ``disconnected``, ``denied`` or ``no_reply``."""

    _TEXT: ClassVar[dict[str, tuple[str, str]]] = {
        "unknown_uitd": ("未登记的传输装置", "unknown UITD"),
        "not_connected": ("传输装置未连接", "UITD not connected"),
        "disconnected": ("连接已断开", "connection lost"),
        "denied": ("传输装置否认", "denied by the UITD"),
        "no_reply": ("传输装置无应答", "no answer from the UITD"),
    }

    def __init__(self, uitd_id: str, reason: str, what: str = "") -> None:
        zh, en = self._TEXT.get(reason, (reason, reason))
        super().__init__(f"{zh} / {en}: {uitd_id} {what}".rstrip())
        self.uitd_id = uitd_id
        self.reason = reason


@dataclass(eq=False)
class _Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    peer: str | None
    reasm: StreamReassembler
    log: Any
    uitd: _Uitd | None = None
    serial: int = 0
    pending: dict[int, asyncio.Future[Frame]] = field(default_factory=dict)
    unknown_logged: set[int] = field(default_factory=set)
    garbage_counted: int = 0
    closed: bool = False
    greeted: bool = False
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def next_serial(self) -> int:
        for _ in range(0x10000):
            serial = self.serial
            self.serial = (serial + 1) & 0xFFFF
            if serial not in self.pending:
                return serial
        raise RuntimeError("every serial is awaiting an answer")


@dataclass(eq=False)
class _Uitd:
    config: UitdConfig
    log: Any
    mapper: EventMapper
    conn: _Conn | None = None
    online: bool | None = None
    last_contact: float = 0.0
    last_frame_at: datetime | None = None
    last_command: int | None = None
    last_serial: int | None = None
    centre_seen: int | None = None
    peer: str | None = None
    connected_since: datetime | None = None
    last_clock_sync: datetime | None = None
    next_sync: float = 0.0
    syncing: bool = False
    recent: deque[tuple[int, bytes]] = field(default_factory=lambda: deque(maxlen=REPEAT_MEMORY))
    counters: Counter[str] = field(default_factory=Counter)


class FireServer:
    """The TCP receiver for the site's UITDs (see the module docstring for the behaviour).

    ``watchdog_tick`` (seconds of real time between liveness and clock-sync checks),
    ``reply_timeout`` and ``resends`` may be lowered by tests before ``run``.
    """

    watchdog_tick: float = 0.5
    reply_timeout: float = REPLY_TIMEOUT_S
    resends: int = RESENDS

    def __init__(self, config: FireConfig, emit: Emit, clock: Clock, tz: ZoneInfo, site: str,
                 stats: DriverStats | None = None) -> None:
        self.config = config
        self.tz = tz
        self.site = site
        self.stats = stats if stats is not None else DriverStats()
        self.ready = asyncio.Event()
        self.port: int | None = None
        self._emit = emit
        self._clock = clock
        self._log = structlog.get_logger("courtyard.drivers.fire").bind(site=site)
        self._uitds: dict[str, _Uitd] = {}
        for u in config.uitds:
            log = self._log.bind(uitd=u.id, device=u.id)
            self._uitds[u.id] = _Uitd(u, log, EventMapper(u, tz, self.stats))
        self._by_address = {s.config.address: s for s in self._uitds.values()}
        self._any_peer = any(u.any_peer for u in config.uitds)
        self._idle_limit = 1.5 * max((u.heartbeat_timeout for u in config.uitds), default=90.0)
        #: Room for every UITD to reconnect a few times before its old sockets are gone.
        self._max_conns = 8 + 4 * len(config.uitds)
        self._tg: asyncio.TaskGroup | None = None
        self._conns: set[_Conn] = set()
        self.stats.set_gauge("uitds_online", 0)
        self.stats.set_gauge("uitd_connections", 0)

    # -- lifecycle ------------------------------------------------------------------------

    async def run(self) -> None:
        """Listen and serve until cancelled; ``ready`` is set once ``port`` is bound."""
        start = self._clock.monotonic()
        for state in self._uitds.values():
            state.last_contact = max(state.last_contact, start)
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            server: asyncio.Server | None = None
            try:
                server = await asyncio.start_server(self._accept, self.config.host,
                                                    self.config.port)
                self.port = server.sockets[0].getsockname()[1]
                self._log.info("消防报警接收已启动 / fire receiver listening",
                               host=self.config.host, port=self.port,
                               uitds=sorted(self._uitds))
                tg.create_task(self._watchdog(), name="fire-watchdog")
                self.ready.set()
                await asyncio.Event().wait()
            finally:
                self.ready.clear()
                self._tg = None
                if server is not None:
                    server.close()
                for conn in list(self._conns):
                    self._close_conn(conn)

    def status(self) -> dict[str, Any]:
        """Per UITD: connection, liveness, last frame and counters (for /health)."""
        out: dict[str, Any] = {}
        for uid, s in self._uitds.items():
            out[uid] = {
                "address": s.config.address,
                "connected": s.conn is not None,
                "peer": s.peer,
                "online": s.online,
                "connected_since": _iso(s.connected_since),
                "last_frame": _iso(s.last_frame_at),
                "last_command": s.last_command,
                "last_serial": s.last_serial,
                "last_clock_sync": _iso(s.last_clock_sync),
                "active": s.mapper.active(),
                "counters": dict(s.counters),
            }
        return {"port": self.port, "listening": self.ready.is_set(),
                "connections": len(self._conns), "uitds": out}

    def active_fires(self) -> dict[str, list[str]]:
        """UITD id → the objects still reporting fire (nothing until a panel clears or is
        reset), so a guard cannot end the linkage of a fire that is still burning."""
        out: dict[str, list[str]] = {}
        for uid, s in self._uitds.items():
            burning = sorted(obj for obj, conds in s.mapper.active().items() if "fire" in conds)
            if burning:
                out[uid] = burning
        return out

    # -- commands -------------------------------------------------------------------------

    async def request(self, uitd_id: str, type_flag: int,
                      targets: Sequence[Target] | None = None, *, records: int = 1,
                      since: TimeTag | None = None) -> None:
        """Send a request (command 4, types in ``REQUEST_TYPES``) and wait for the answer,
        whose data are decoded and emitted like an upload. Facility requests go to
        ``targets``, by default the systems the location rules name (else system 1/1)."""
        state = self._state(uitd_id)
        chosen = list(targets) if targets is not None else self._targets(state)
        data = encode_request(type_flag, chosen, records=records, since=since)
        self.stats.inc("requests_sent")
        await self._exchange(state, Command.REQUEST, lambda: data, REQUEST_TYPES[type_flag])

    async def sync_clock(self, uitd_id: str) -> None:
        """Control 90 with the site's current time; waits for the UITD's confirm."""
        state = self._state(uitd_id)
        if state.syncing:
            return
        state.syncing = True
        try:
            await self._exchange(state, Command.CONTROL,
                                 lambda: encode_clock_sync(self._now_tag()),
                                 "同步时钟 / clock sync")
            state.last_clock_sync = self._clock.now()
            state.counters["clock_syncs"] += 1
            self.stats.inc("clock_syncs")
            state.log.info("时钟已同步 / clock synchronised")
        finally:
            state.syncing = False

    def _state(self, uitd_id: str) -> _Uitd:
        state = self._uitds.get(uitd_id)
        if state is None:
            raise FireCommandError(uitd_id, "unknown_uitd")
        return state

    @staticmethod
    def _targets(state: _Uitd) -> list[Target]:
        seen: dict[tuple[int, int], None] = {}
        for loc in state.config.locations:
            if loc.system_type is not None and loc.system_address is not None:
                seen[(loc.system_type, loc.system_address)] = None
        return [Target(t, a) for t, a in seen] or [DEFAULT_SYSTEM]

    async def _exchange(self, state: _Uitd, command: Command, make_data: Callable[[], bytes],
                        what: str) -> Frame:
        conn = state.conn
        if conn is None or conn.closed:
            raise FireCommandError(state.config.id, "not_connected", what)
        serial = conn.next_serial()
        denied = False
        loop = asyncio.get_running_loop()
        try:
            for attempt in range(1 + max(0, self.resends)):
                if conn.closed or state.conn is not conn:
                    raise FireCommandError(state.config.id, "disconnected", what)
                fut: asyncio.Future[Frame] = loop.create_future()
                conn.pending[serial] = fut
                frame = build_frame(Frame(serial=serial, command=command,
                                          source=self._centre(state),
                                          destination=state.config.address,
                                          time=self._now_tag(), data=make_data()),
                                    state.config.checksum, state.config.serial_order)
                try:
                    await self._send(conn, frame)
                except OSError as exc:
                    raise FireCommandError(state.config.id, "disconnected", what) from exc
                try:
                    async with asyncio.timeout(self.reply_timeout):
                        reply = await fut
                except TimeoutError:
                    self.stats.inc("request_timeouts")
                    state.log.warning("未收到应答 / no answer", what=what, serial=serial,
                                      attempt=attempt + 1)
                    continue
                if reply.command == Command.DENY:
                    denied = True
                    self.stats.inc("requests_denied")
                    state.log.warning("传输装置否认 / denied by the UITD", what=what,
                                      serial=serial, attempt=attempt + 1)
                    continue
                return reply
        finally:
            conn.pending.pop(serial, None)
        self.stats.inc("requests_failed")
        raise FireCommandError(state.config.id, "denied" if denied else "no_reply", what)

    # -- connections ----------------------------------------------------------------------

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tg = self._tg
        if tg is None:
            writer.close()
            return
        tg.create_task(self._serve(reader, writer), name="fire-connection")

    def _peer_allowed(self, peer: str | None) -> bool:
        return self._any_peer or any(u.allows(peer) for u in self.config.uitds)

    def _initial_settings(self, peer: str | None) -> tuple[str, str]:
        """A peer listed by exactly one UITD speaks its dialect from the first byte."""
        pinned = [u for u in self.config.uitds if not u.any_peer and u.allows(peer)]
        if len(pinned) == 1:
            return pinned[0].checksum, pinned[0].serial_order
        return "sum", "little"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername")
        peer = str(peername[0]) if isinstance(peername, tuple) and peername else None
        log = self._log.bind(peer=peer)
        if not self._peer_allowed(peer):
            self.stats.inc("connections_refused")
            log.warning("拒绝未登记的来源地址 / connection refused: peer not listed")
            await _close_writer(writer)
            return
        if len(self._conns) >= self._max_conns:
            self.stats.inc("connections_refused")
            log.warning("连接数已达上限，拒绝 / too many connections, refused",
                        limit=self._max_conns)
            await _close_writer(writer)
            return
        conn = _Conn(reader, writer, peer, StreamReassembler(*self._initial_settings(peer)),
                     log)
        self._conns.add(conn)
        self.stats.inc("connections")
        self.stats.set_gauge("uitd_connections", len(self._conns))
        log.info("传输装置连接 / UITD connection accepted")
        try:
            await self._read_loop(conn)
        except OSError as exc:
            conn.log.info("连接中断 / connection lost", error=repr(exc))
        except Exception:
            self.stats.inc("connection_errors")
            conn.log.exception("连接处理出错 / connection handler failed")
        finally:
            self._close_conn(conn)
            self._conns.discard(conn)
            self.stats.set_gauge("uitd_connections", len(self._conns))
            with contextlib.suppress(Exception):
                await _close_writer(writer)

    async def _read_loop(self, conn: _Conn) -> None:
        while not conn.closed:
            limit = (1.5 * conn.uitd.config.heartbeat_timeout + self.watchdog_tick
                     if conn.uitd is not None else self._idle_limit)
            try:
                async with asyncio.timeout(limit):
                    data = await conn.reader.read(READ_CHUNK)
            except TimeoutError:
                self.stats.inc("connections_idle_closed")
                conn.log.warning("长时间无数据，关闭连接 / silent for too long, closing",
                                 seconds=limit)
                return
            if not data:
                conn.log.info("对端关闭连接 / peer closed the connection")
                return
            self.stats.inc("bytes_received", len(data))
            conn.reasm.push(data)
            await self._process(conn)

    async def _process(self, conn: _Conn) -> None:
        reasm = conn.reasm
        while not conn.closed:
            if conn.uitd is None:
                self._identify(conn)
                if conn.closed:
                    break
            item = reasm.next_item()
            self._count_garbage(conn)
            if item is None:
                break
            if isinstance(item, FrameError):
                await self._on_bad_frame(conn, item)
            else:
                await self._on_frame(conn, item)

    def _count_garbage(self, conn: _Conn) -> None:
        delta = conn.reasm.garbage_bytes - conn.garbage_counted
        if delta > 0:
            conn.garbage_counted = conn.reasm.garbage_bytes
            self.stats.inc("garbage_bytes", delta)
            if conn.uitd is not None:
                conn.uitd.counters["garbage_bytes"] += delta
            conn.log.warning("跳过帧外字节 / skipped bytes outside any frame", count=delta)

    def _identify(self, conn: _Conn) -> None:
        source = conn.reasm.peek_source()
        self._count_garbage(conn)
        if source is None:
            return
        state = self._by_address.get(source)
        if state is None:
            return
        if not state.config.allows(conn.peer):
            self.stats.inc("connections_refused")
            state.log.warning("传输装置从未登记的地址连接，拒绝 / UITD connecting from a peer "
                              "it does not list: refused", peer=conn.peer)
            self._close_conn(conn)
            return
        old = state.conn
        if old is not None and old is not conn and not old.closed:
            silent = self._clock.monotonic() - state.last_contact
            if silent < state.config.displace_after:
                self.stats.inc("connections_displace_refused")
                state.counters["connections_displace_refused"] += 1
                state.log.warning("已有活动连接，拒绝同地址的新连接 / a live connection holds "
                                  "this UITD: the newcomer is refused", peer=conn.peer,
                                  live_peer=old.peer, silent_s=round(silent, 1))
                self._close_conn(conn)
                return
            self.stats.inc("connections_replaced")
            state.log.info("新连接替换旧连接 / a new connection replaces the old one",
                           old_peer=old.peer, peer=conn.peer)
            self._close_conn(old)
        state.conn = conn
        conn.uitd = state
        conn.reasm.configure(state.config.checksum, state.config.serial_order)
        conn.log = state.log.bind(peer=conn.peer)
        state.peer = conn.peer
        state.connected_since = self._clock.now()
        state.counters["connections"] += 1
        conn.log.info("传输装置已识别 / UITD identified", address=source)

    def _close_conn(self, conn: _Conn) -> None:
        """Mark closed, fail what waits on it, close the socket (its task finishes up)."""
        if conn.closed:
            return
        conn.closed = True
        for fut in conn.pending.values():
            if not fut.done():
                fut.set_exception(FireCommandError(
                    conn.uitd.config.id if conn.uitd else "?", "disconnected"))
                # Retrieved by the waiting request; mark it so an orphan does not warn.
                fut.exception()
        conn.pending.clear()
        state = conn.uitd
        if state is not None and state.conn is conn:
            state.conn = None
            state.log.info("连接已关闭 / connection closed", peer=conn.peer)
        conn.writer.close()

    # -- frames ---------------------------------------------------------------------------

    async def _on_bad_frame(self, conn: _Conn, err: FrameError) -> None:
        counter = "frames_denied_checksum" if err.code == "checksum" else f"frames_{err.code}"
        self.stats.inc(counter)
        state = conn.uitd
        conn.log.warning(f"{err.zh}，否认 / bad frame, denied", reason=err.code,
                         detail=err.detail, serial=err.serial, raw=err.raw[:64].hex(" "))
        if state is None or err.serial is None:
            # An unidentified device gets no reply (see the module docstring).
            return
        state.counters["frames_denied"] += 1
        source = err.destination if err.destination is not None else self._centre(state)
        await self._reply(conn, state, err.serial, Command.DENY, source)

    async def _on_frame(self, conn: _Conn, frame: Frame) -> None:
        state = conn.uitd
        if state is None:
            self.stats.inc("frames_unknown_source")
            if frame.source not in conn.unknown_logged:
                conn.unknown_logged.add(frame.source)
                conn.log.warning("未登记的传输装置地址，不予确认 / frame from an unregistered "
                                 "UITD address: not confirmed, nothing emitted",
                                 source=frame.source, command=frame.command)
            return
        if frame.source != state.config.address:
            self.stats.inc("frames_source_mismatch")
            state.counters["frames_source_mismatch"] += 1
            conn.log.warning("源地址与本连接的传输装置不符，忽略 / source address differs from "
                             "this connection's UITD: ignored", source=frame.source)
            return
        self.stats.inc("frames_ok")
        state.counters["frames_ok"] += 1
        state.last_contact = self._clock.monotonic()
        state.last_frame_at = self._clock.now()
        state.last_command, state.last_serial = frame.command, frame.serial
        state.centre_seen = frame.destination
        if state.online is not True:
            await self._set_online(state)
        if frame.command == Command.SEND_DATA:
            await self._on_send_data(conn, state, frame)
        elif frame.command in (Command.CONFIRM, Command.DENY, Command.RESPONSE):
            await self._on_reply(conn, state, frame)
        else:
            self.stats.inc("frames_unexpected_command")
            conn.log.warning("传输装置不应发送此命令，否认 / command not expected from a UITD: "
                             "denied", command=frame.command, serial=frame.serial)
            await self._reply(conn, state, frame.serial, Command.DENY, frame.destination)
        if not conn.greeted and not conn.closed:
            conn.greeted = True
            state.next_sync = self._clock.monotonic() + state.config.clock_sync_interval
            self._spawn(self.sync_clock(state.config.id), state, "clock sync")
            self._spawn(self.request(state.config.id, 61), state, "request 61")

    async def _on_send_data(self, conn: _Conn, state: _Uitd, frame: Frame) -> None:
        key = (frame.serial, frame.data)
        if not frame.data:
            self.stats.inc("heartbeats")
            state.counters["heartbeats"] += 1
        elif key in state.recent:
            self.stats.inc("frames_repeated")
            state.counters["frames_repeated"] += 1
            conn.log.info("重复的数据包，再次确认 / repeated frame, confirmed again",
                          serial=frame.serial)
        else:
            app = decode_app_data(frame.data)
            if app is not None:
                if not await self._handle_app_data(state, app, frame.serial):
                    return  # not stored: no confirm, the device sends it again
            state.recent.append(key)
        await self._reply(conn, state, frame.serial, Command.CONFIRM, frame.destination)

    async def _on_reply(self, conn: _Conn, state: _Uitd, frame: Frame) -> None:
        # A response's data first, so that a request returns once its answer is stored.
        if frame.command == Command.RESPONSE and frame.data:
            app = decode_app_data(frame.data)
            if app is not None:
                await self._handle_app_data(state, app, frame.serial)
        fut = conn.pending.get(frame.serial)
        if fut is not None and not fut.done():
            fut.set_result(frame)
        else:
            self.stats.inc("replies_unmatched")
            conn.log.info("无对应请求的应答 / answer to nothing pending", serial=frame.serial,
                          command=frame.command)

    async def _handle_app_data(self, state: _Uitd, app: AppData, serial: int) -> bool:
        """Log what did not add up, emit the events; False when they could not be stored."""
        log = state.log
        if not app.known:
            self.stats.inc("unknown_type")
            state.counters["unknown_type"] += 1
            log.warning("未解析的类型标志，已确认 / type flag not decoded, frame confirmed",
                        type_flag=app.type_flag, raw=app.raw[:64].hex(" "))
            return True
        if app.problems:
            self.stats.inc("appdata_malformed")
            state.counters["appdata_malformed"] += 1
            log.warning("应用数据长度不符，已解析完整对象 / application data does not add up; "
                        "whole objects decoded", type_flag=app.type_flag,
                        problems=list(app.problems))
        if app.description_errors:
            self.stats.inc("gb18030_errors", app.description_errors)
            state.counters["gb18030_errors"] += app.description_errors
            log.warning("部件说明含非 GB18030 字节 / description bytes not GB18030",
                        count=app.description_errors)
        events = state.mapper.events(app, serial, self._clock.now())
        for e in events:
            log.info(e.data.get("message", e.kind), kind=e.kind, serial=serial)
        return await self._emit_all(state, events)

    async def _emit_all(self, state: _Uitd, events: list[NewEvent]) -> bool:
        if not events:
            return True
        try:
            async with asyncio.timeout(EMIT_TIMEOUT_S):
                # Together, so the outbox commits them in one batch, in this order.
                results = await asyncio.gather(*(self._emit(e) for e in events),
                                               return_exceptions=True)
        except TimeoutError:
            self.stats.inc("emit_failed", len(events))
            state.log.error("事件未能及时保存，不确认 / events not stored in time: frame not "
                            "confirmed", count=len(events))
            return False
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            self.stats.inc("emit_failed", len(failed))
            state.log.error("事件保存失败，不确认 / events could not be stored: frame not "
                            "confirmed", error=repr(failed[0]), count=len(failed))
            return False
        self.stats.inc("events_emitted", len(events))
        state.counters["events"] += len(events)
        return True

    async def _reply(self, conn: _Conn, state: _Uitd, serial: int, command: Command,
                     source: int) -> None:
        data = reply_to(serial, command, source=source, destination=state.config.address,
                        time=self._now_tag(), checksum_method=state.config.checksum,
                        serial_order=state.config.serial_order)
        await self._send(conn, data)
        name = "confirms_sent" if command == Command.CONFIRM else "denies_sent"
        self.stats.inc(name)
        state.counters[name] += 1

    async def _send(self, conn: _Conn, data: bytes) -> None:
        if conn.closed:
            raise ConnectionResetError("connection closed")
        async with conn.send_lock:
            conn.writer.write(data)
            async with asyncio.timeout(WRITE_TIMEOUT_S):
                await conn.writer.drain()

    # -- liveness and background work -----------------------------------------------------

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(self.watchdog_tick)
            try:
                await self._check_liveness()
            except Exception:
                self.stats.inc("watchdog_errors")
                self._log.exception("看门狗出错 / watchdog failed")

    async def _check_liveness(self) -> None:
        mono = self._clock.monotonic()
        for state in self._uitds.values():
            silent = mono - state.last_contact
            if silent >= state.config.heartbeat_timeout and state.online is not False:
                await self._set_offline(state, silent)
                if state.conn is not None:
                    self._close_conn(state.conn)
            conn = state.conn
            if (conn is not None and conn.greeted and not state.syncing
                    and mono >= state.next_sync):
                state.next_sync = mono + state.config.clock_sync_interval
                self._spawn(self.sync_clock(state.config.id), state, "clock sync")

    async def _set_online(self, state: _Uitd) -> None:
        before = state.online
        state.online = True
        state.log.info(ONLINE_MESSAGE, peer=state.peer)
        stored = await self._emit_quietly(state, NewEvent(
            device=state.config.id, kind=KIND_DEVICE_ONLINE, ts=self._clock.now(),
            data={"v": 1, "uitd": state.config.id, "address": state.config.address,
                  "peer": state.peer, "message": ONLINE_MESSAGE}))
        if not stored:
            state.online = before  # tried again with the next frame
        self._update_online_gauge()

    async def _set_offline(self, state: _Uitd, silent: float) -> None:
        state.online = False
        self._update_online_gauge()
        detail = f"{silent:.0f} s without a frame (limit {state.config.heartbeat_timeout:g} s)"
        state.log.warning(OFFLINE_MESSAGE, detail=detail)
        await self._emit_quietly(state, NewEvent(
            device=state.config.id, kind=KIND_DEVICE_OFFLINE, ts=self._clock.now(),
            data={"v": 1, "uitd": state.config.id, "reason": "heartbeat_timeout",
                  "detail": detail, "message": OFFLINE_MESSAGE}))

    def _update_online_gauge(self) -> None:
        self.stats.set_gauge("uitds_online", sum(1 for s in self._uitds.values() if s.online))

    async def _emit_quietly(self, state: _Uitd, event: NewEvent) -> bool:
        try:
            async with asyncio.timeout(EMIT_TIMEOUT_S):
                await self._emit(event)
        except Exception as exc:
            self.stats.inc("emit_failed")
            state.log.error("事件保存失败 / event could not be stored", kind=event.kind,
                            error=repr(exc))
            return False
        return True

    def _spawn(self, coro: Coroutine[Any, Any, None], state: _Uitd, what: str) -> None:
        tg = self._tg
        if tg is None:
            coro.close()
            return
        tg.create_task(self._guarded(coro, state, what), name=f"fire-{what}")

    async def _guarded(self, coro: Coroutine[Any, Any, None], state: _Uitd, what: str) -> None:
        try:
            await coro
        except FireCommandError as exc:
            state.log.warning("命令未完成 / command not completed", what=what,
                              reason=exc.reason)
        except Exception:
            self.stats.inc("task_errors")
            state.log.exception("后台任务出错 / background task failed", what=what)

    # -- helpers --------------------------------------------------------------------------

    def _centre(self, state: _Uitd) -> int:
        """Our address as the UITD knows it: configured, else what it sends to."""
        return self.config.centre_address or state.centre_seen or 0

    def _now_tag(self) -> TimeTag:
        return TimeTag.from_datetime(self._clock.now(), self.tz)


def _iso(when: datetime | None) -> str | None:
    return format_ts(when) if when is not None else None


async def _close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await writer.wait_closed()
