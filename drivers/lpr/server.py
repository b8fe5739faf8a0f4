# Over 500 lines on purpose: two vendors' push, decision, reply and snapshots share a request.
"""The HTTP endpoint licence-plate cameras push to, answering "open / don't open".

Routes (POST): ``/lpr/vzenith/{camera_id}`` (plate JSON, and heartbeats as a form: the camera
may use the same URL for both, or ``/lpr/vzenith/{camera_id}/heartbeat``) and
``/lpr/hikvision/{camera_id}``.

For every read, in this order:

1. admit: known camera (404), source address allowed for it (403, counted and logged), its
   HTTP credentials when the site gives it some (401 with a Digest and a Basic challenge:
   ``drivers.lpr.httpauth``), right vendor for the path (400); body size and read time
   bounded. The listener serves camera pushes only: the booth and guard routes live on the
   edge's operator listener;
2. parse (400 with a zh/en message on garbage; the gate stays shut);
3. de-duplicate (Vzenith plateid; a repeat gets the first answer again, without a new event);
4. images → bounded evidence, plate crop and quality scores (worker thread, time-boxed);
5. emit ``plate.read`` and wait until it is durable: nothing is acted on before it is stored.
   If it cannot be stored the gate stays shut (an offline record gets 503 so the camera keeps
   it and retries);
6. ask the Decider (time-boxed; error or timeout → keep shut), tell the decision hook;
7. reply: Vzenith live → ``Response_AlarmInfoPlate`` (info ok/no, LED lines, relay pulse,
   voice); Vzenith offline → ``ContinuePushOffline``; Hikvision → 200 "OK" (its gate is driven
   by the gate driver through the decision hook; the LaneReply is in ``LprOutcome.reply``).

Liveness (``device.online`` / ``device.offline``) comes from heartbeats and pushes, quality
changes (``camera.degraded`` / ``camera.recovered``) from the evidence images; both go through
a queue to a background emitter, so they never delay a gate reply.
"""

from __future__ import annotations

import asyncio
import base64
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, TypeVar

import structlog
from aiohttp import BodyPartReader, hdrs, web
from multidict import CIMultiDict

from contract import Clock, Kind, NewEvent, jsoncodec
from contract.envelope import format_ts
from drivers.base import DriverStats, Emit, OrderedEmitter
from drivers.lpr import hikvision, vzenith
from drivers.lpr.httpauth import CameraAuth, HttpCredential
from drivers.lpr.model import (
    CameraSpec,
    Decider,
    DecisionHook,
    LaneReply,
    LprParseError,
    PlateRead,
    Vendor,
)
from drivers.lpr.snapshot import (
    QualityChange,
    QualityThresholds,
    QualityTracker,
    Rect,
    Snapshot,
    SnapshotLimits,
    process_snapshot,
)

PLATE_READ_VERSION = 1
KIND_CAMERA_DEGRADED = Kind.CAMERA_DEGRADED
KIND_CAMERA_RECOVERED = Kind.CAMERA_RECOVERED
#: The images of a read, emitted after the reply (see ``LprConfig.images_after_reply``).
KIND_PLATE_EVIDENCE = Kind.PLATE_EVIDENCE
ONLINE_MESSAGE = "车牌相机在线 / Plate camera online"
RECOVERED_MESSAGE = "车牌相机图像恢复正常 / Plate camera image back to normal"
_DEGRADED_TEXT = {
    "blocked": ("镜头被遮挡", "lens blocked"),
    "dirty": ("镜头脏污或部分遮挡", "lens dirty or partly covered"),
    "out_of_focus": ("图像模糊（失焦）", "image out of focus"),
}
_EARLIEST_CAMERA_TS = datetime(2015, 1, 1, tzinfo=UTC)
_CHUNK = 64 * 1024
_QUEUE_SIZE = 1000
T = TypeVar("T")


#: Bodies up to this size are parsed on the event loop; larger ones (with images) in a worker.
_INLINE_PARSE_BYTES = 32 * 1024


@dataclass(frozen=True, slots=True)
class LprConfig:
    """Limits and timings of the endpoint; the defaults suit a site LAN.

    ``decide_timeout_s``: the camera waits for our reply (its own HTTP timeout is a few
    seconds), so a slow Decider means "keep shut", not a hung lane. ``online_after``: pushes
    or heartbeats needed to call a camera that went offline online again (hysteresis; a camera
    never judged yet needs one). ``max_camera_clock_skew_s``: a camera time further in the
    future than this (or before 2015) is ignored for the read's timestamp.
    """

    decide_timeout_s: float = 1.0
    emit_timeout_s: float = 2.0
    snapshot_timeout_s: float = 2.0
    read_timeout_s: float = 10.0
    max_body_bytes: int = 6 * 1024 * 1024
    max_parts: int = 8
    online_after: int = 2
    dedupe_size: int = 10_000
    max_event_bytes: int = 300_000
    image_workers: int = 2
    max_camera_clock_skew_s: float = 86_400.0
    #: Decode and check the snapshots after the camera has its answer, and send them as
    #: ``plate.evidence`` (naming the ``plate.read`` event): JPEG work costs ~10 ms a read,
    #: which 20 lanes pushing at once would otherwise add to every gate decision. False puts
    #: them into ``plate.read`` before deciding.
    images_after_reply: bool = True
    #: Wait for ``plate.read`` to be durable before deciding a live read. A Decider whose own
    #: decision events go through the same outbox may turn this off: the outbox commits in
    #: order, so the read is durable no later than the decision, and the lane saves one
    #: commit round trip per car. Offline records always wait (their 503 depends on it).
    read_durable_before_decide: bool = True
    naive_tz: tzinfo = hikvision.BEIJING
    failure_led_lines: tuple[str, ...] = ("请稍候 联系值班室", "Please call the guard")
    snapshot: SnapshotLimits = field(default_factory=SnapshotLimits)
    quality: QualityThresholds = field(default_factory=QualityThresholds)
    reply: vzenith.ReplyOptions = field(default_factory=vzenith.ReplyOptions)

    def __post_init__(self) -> None:
        for name in ("decide_timeout_s", "emit_timeout_s", "snapshot_timeout_s",
                     "read_timeout_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        if self.max_body_bytes < 1024 or self.online_after < 1 or self.image_workers < 1:
            raise ValueError("max_body_bytes ≥ 1024, online_after ≥ 1, image_workers ≥ 1")


@dataclass(frozen=True, slots=True)
class LprOutcome:
    """What the endpoint answered; ``reply``/``read`` are set when a read was decided."""

    status: int
    body: dict[str, Any] | str
    reply: LaneReply | None = None
    read: PlateRead | None = None
    #: ``WWW-Authenticate`` values sent with a 401.
    challenges: tuple[str, ...] = ()


class _Reject(Exception):
    """A request refused before parsing (size, time, shape)."""

    def __init__(self, status: int, counter: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.status, self.counter, self.zh, self.en = status, counter, zh, en


@dataclass(slots=True)
class _Liveness:
    online: bool | None = None
    last_contact: float = 0.0
    contacts: int = 0
    info: dict[str, str] = field(default_factory=dict)


class LprEndpoint:
    """Licence-plate camera endpoint; see the module docstring for the order of work.

    ``cameras``: camera id (the device id events carry) → ``CameraSpec``. ``decider``: the
    decision chain. ``emit``: returns once the event is durable. ``clock``: receipt times and
    liveness. ``led_encoders``: per camera, for LED screens that need their own protocol
    (default ``vzenith.PlainTextLed``). ``on_decision``: told every decision (offline records
    included: ``read.offline`` — never execute those). ``credentials``: per camera, the user
    and password it must send (cameras not named send none).
    """

    def __init__(self, cameras: Mapping[str, CameraSpec], decider: Decider, emit: Emit,
                 clock: Clock, stats: DriverStats, *, config: LprConfig | None = None,
                 led_encoders: Mapping[str, vzenith.LedEncoder] | None = None,
                 on_decision: DecisionHook | None = None, log: Any | None = None,
                 credentials: Mapping[str, HttpCredential] | None = None) -> None:
        self.cameras = dict(cameras)
        self.credentials = dict(credentials or {})
        self._auth = CameraAuth()
        self.config = config or LprConfig()
        self._decider = decider
        self._emit = emit
        self._clock = clock
        self._stats = stats
        self._on_decision = on_decision
        self._led = dict(led_encoders or {})
        self._default_led = vzenith.PlainTextLed()
        self._log = (log if log is not None else structlog.get_logger("courtyard.drivers.lpr"))
        self._cam_logs = {cid: self._log.bind(camera=cid, vendor=spec.vendor)
                          for cid, spec in self.cameras.items()}
        now = clock.monotonic()
        self._live = {cid: _Liveness(last_contact=now) for cid in self.cameras}
        self._quality = QualityTracker(self.config.quality)
        self._recent: vzenith.RecentRecords[tuple[int, str, int],
                                            asyncio.Future[tuple[int, Any]]] = (
            vzenith.RecentRecords(self.config.dedupe_size))
        self._events = OrderedEmitter(emit, stats, self._log, maxsize=_QUEUE_SIZE)
        self._pool: ThreadPoolExecutor | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._evidence_tasks: set[asyncio.Task[None]] = set()
        self._stats.set_gauge("cameras_online", 0)

    # -- lifecycle --------------------------------------------------------------------------

    def app(self) -> web.Application:
        """An aiohttp application with the routes; mount it or run it as it is."""
        app = web.Application(client_max_size=self.config.max_body_bytes)
        app.router.add_post("/lpr/vzenith/{camera_id}", self._handle_vzenith)
        app.router.add_post("/lpr/vzenith/{camera_id}/heartbeat", self._handle_vzenith)
        app.router.add_post("/lpr/hikvision/{camera_id}", self._handle_hikvision)
        app.cleanup_ctx.append(self._lifespan)
        return app

    async def _lifespan(self, _app: web.Application) -> AsyncIterator[None]:
        await self.start()
        yield
        await self.stop()

    async def start(self) -> None:
        """Start the event emitter and the liveness watchdog (``app()`` does this itself)."""
        if self._tasks:
            return
        now = self._clock.monotonic()
        for state in self._live.values():
            state.last_contact = max(state.last_contact, now)
        self._tasks = [asyncio.create_task(self._events.run(), name="lpr-emitter"),
                       asyncio.create_task(self._watchdog(), name="lpr-watchdog")]

    async def stop(self, flush_timeout_s: float = 2.0) -> None:
        """Emit what is queued (bounded wait), then stop the background tasks."""
        if self._evidence_tasks:
            await asyncio.wait(set(self._evidence_tasks), timeout=flush_timeout_s)
        if self._tasks:
            try:
                await asyncio.wait_for(self._events.drained(), flush_timeout_s)
            except TimeoutError:
                self._log.warning("stopping with events still queued",
                                  queued=self._events.qsize())
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks = []
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def flush(self) -> None:
        """Wait until every queued liveness/quality/evidence event has been emitted."""
        while self._evidence_tasks:
            await asyncio.wait(set(self._evidence_tasks))
        await self._events.drained()

    # -- HTTP handlers ----------------------------------------------------------------------

    async def _handle_vzenith(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "vzenith")

    async def _handle_hikvision(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "hikvision")

    async def _handle(self, request: web.Request, vendor: Vendor) -> web.StreamResponse:
        t0 = time.perf_counter()
        camera_id = request.match_info.get("camera_id", "")
        try:
            refused = (self._admit(camera_id, vendor, request.remote)
                       or self._authenticate(camera_id, request))
            if refused is not None:
                return self._respond(refused, vendor)
            if vendor == "hikvision":
                outcome = await self.hikvision_push(camera_id, await self._read_parts(request))
            elif _is_form(request.content_type):
                outcome = await self.vzenith_heartbeat(camera_id, await self._read_form(request))
                return self._respond(outcome, vendor)
            else:
                outcome = await self.vzenith_push(camera_id, await self._read_body(request))
        except _Reject as exc:
            self._stats.inc(exc.counter)
            self._cam_log(camera_id).warning("request refused", status=exc.status,
                                             reason=exc.en, remote=request.remote)
            return self._respond(_error(exc.status, exc.counter, exc.zh, exc.en), vendor)
        except Exception:  # never let a request take the endpoint down; keep the gate shut
            self._stats.inc("internal_errors")
            self._cam_log(camera_id).exception("internal error; gate kept shut")
            return self._respond(_error(500, "internal_error", "内部错误，闸门保持关闭",
                                        "internal error, gate kept shut"), vendor)
        if outcome.read is not None:
            self._stats.observe_latency(time.perf_counter() - t0)
        return self._respond(outcome, vendor)

    def _admit(self, camera_id: str, vendor: Vendor, remote: str | None) -> LprOutcome | None:
        spec = self.cameras.get(camera_id)
        if spec is None:
            self._stats.inc("unknown_camera")
            self._log.warning("push for unknown camera", camera=camera_id[:64], remote=remote)
            return _error(404, "unknown_camera", f"未知相机 {camera_id[:64]}",
                          f"unknown camera {camera_id[:64]}")
        if not spec.allows(remote):
            self._stats.inc("rejected_address")
            self._cam_log(camera_id).warning("push from an address not allowed", remote=remote)
            return _error(403, "address_not_allowed", f"地址 {remote} 无权为此相机推送",
                          f"address {remote} may not push for this camera")
        if spec.vendor != vendor:
            self._stats.inc("wrong_vendor")
            self._cam_log(camera_id).warning("push on the wrong vendor path", path=vendor)
            return _error(400, "wrong_vendor", f"此相机为 {spec.vendor}，路径错误",
                          f"camera is {spec.vendor}, not {vendor}")
        return None

    def _authenticate(self, camera_id: str, request: web.Request) -> LprOutcome | None:
        cred = self.credentials.get(camera_id)
        if cred is None:
            return None
        header = request.headers.get(hdrs.AUTHORIZATION)
        if self._auth.check(header, request.method, cred):
            return None
        counter = "unauthenticated" if not header else "bad_credentials"
        self._stats.inc(counter)
        self._cam_log(camera_id).warning("push without valid camera credentials",
                                         remote=request.remote, sent=bool(header))
        out = _error(401, counter, "相机凭据缺失或错误", "camera credentials missing or wrong")
        return replace(out, challenges=tuple(self._auth.challenges()))

    def _respond(self, outcome: LprOutcome, vendor: Vendor) -> web.Response:
        body = outcome.body
        headers = CIMultiDict((hdrs.WWW_AUTHENTICATE, c) for c in outcome.challenges)
        if isinstance(body, str):
            return web.Response(status=outcome.status, text=body, headers=headers)
        if vendor == "vzenith" and outcome.status >= 400 and "Response_AlarmInfoPlate" not in body:
            # A camera that ignores the status still reads "keep shut".
            body = {**body, **vzenith.KEEP_SHUT_REPLY}
        return web.json_response(body, status=outcome.status, dumps=jsoncodec.dumps,
                                 headers=headers)

    # -- bounded reading --------------------------------------------------------------------

    def _check_length(self, request: web.Request) -> None:
        limit = self.config.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise _too_large(limit)

    async def _read_body(self, request: web.Request) -> bytes:
        self._check_length(request)
        limit = self.config.max_body_bytes
        buf = bytearray()
        try:
            async with asyncio.timeout(self.config.read_timeout_s):
                async for chunk in request.content.iter_chunked(_CHUNK):
                    buf += chunk
                    if len(buf) > limit:
                        raise _too_large(limit)
        except TimeoutError:
            raise _Reject(408, "read_timeouts", "请求读取超时", "request body timed out") from None
        return bytes(buf)

    async def _read_parts(self, request: web.Request) -> list[hikvision.Part]:
        self._check_length(request)
        limit, total = self.config.max_body_bytes, 0
        parts: list[hikvision.Part] = []
        try:
            async with asyncio.timeout(self.config.read_timeout_s):
                reader = await request.multipart()
                while (part := await reader.next()) is not None:
                    if not isinstance(part, BodyPartReader):
                        raise _malformed("multipart", "nested multipart is not expected")
                    if len(parts) >= self.config.max_parts:
                        raise _malformed("multipart", f"more than {self.config.max_parts} parts")
                    data = bytearray()
                    while chunk := await part.read_chunk(_CHUNK):
                        data += chunk
                        total += len(chunk)
                        if total > limit:
                            raise _too_large(limit)
                    parts.append(hikvision.Part(part.name or "", part.filename or "",
                                                part.headers.get(hdrs.CONTENT_TYPE, ""),
                                                bytes(data)))
        except TimeoutError:
            raise _Reject(408, "read_timeouts", "请求读取超时", "request body timed out") from None
        except _Reject:
            raise
        except Exception as exc:  # aiohttp raises assorted errors on a broken multipart body
            raise _malformed("multipart", f"{type(exc).__name__}: {exc}"[:200]) from None
        return parts

    async def _read_form(self, request: web.Request) -> dict[str, str]:
        if request.content_type.startswith("multipart/"):
            parts = await self._read_parts(request)
            return {p.name: p.data.decode("utf-8", "replace") for p in parts if p.name}
        body = await self._read_body(request)
        try:
            pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                                           max_num_fields=64)
        except (UnicodeDecodeError, ValueError) as exc:
            raise _malformed("form", str(exc)[:200]) from None
        return dict(pairs)

    # -- Vzenith ----------------------------------------------------------------------------

    async def vzenith_heartbeat(self, camera_id: str, fields: Mapping[str, str]) -> LprOutcome:
        """A registration heartbeat: marks the camera alive. The reply carries no command
        (a camera in comet-polling mode would act on one)."""
        try:
            hb = vzenith.parse_heartbeat(fields)
        except LprParseError as exc:
            return self._malformed(camera_id, exc)
        self._stats.inc("heartbeats")
        self._contact(camera_id, "heartbeat", hb.as_dict())
        return LprOutcome(200, {})

    async def vzenith_push(self, camera_id: str, body: bytes) -> LprOutcome:
        """A JSON push from an admitted Vzenith camera (see the module docstring)."""
        try:
            # A push without images parses in microseconds: a thread hop would cost more.
            parsed = (vzenith.parse_push(body) if len(body) <= _INLINE_PARSE_BYTES
                      else await self._in_worker(vzenith.parse_push, body))
        except LprParseError as exc:
            outcome = self._malformed(camera_id, exc)
            pid = await self._in_worker(vzenith.peek_offline_plateid, body)
            if pid is not None:  # skip a record we can never read, or the backlog stalls
                self._cam_log(camera_id).warning("skipping unreadable offline record",
                                                 plateid=pid)
                assert isinstance(outcome.body, dict)
                return LprOutcome(outcome.status,
                                  {**outcome.body, **vzenith.build_offline_ack(pid)})
            return outcome
        if isinstance(parsed, vzenith.VzenithOther):
            self._stats.inc("other_pushes")
            self._contact(camera_id, "push", {})
            return LprOutcome(200, {})
        self._contact(camera_id, "push", {k: v for k, v in (("serialno", parsed.serialno),
                                                             ("ipaddr", parsed.ipaddr)) if v})
        key = parsed.dedupe_key()
        if key is None:
            return await self._vzenith_read(camera_id, parsed)
        earlier = self._recent.get(camera_id, key)
        if earlier is not None:
            return await self._repeat(camera_id, parsed, earlier)
        fut: asyncio.Future[tuple[int, Any]] = asyncio.get_running_loop().create_future()
        self._recent.put(camera_id, key, fut)
        durable = False
        try:
            outcome, durable = await self._vzenith_read_durable(camera_id, parsed)
            fut.set_result((outcome.status, outcome.body))
            return outcome
        finally:
            if not fut.done():
                fut.set_result((500, _error(500, "internal_error", "内部错误，闸门保持关闭",
                                            "internal error, gate kept shut").body))
            if not durable:
                self._recent.discard(camera_id, key)  # let the camera's retry in afresh

    async def _repeat(self, camera_id: str, parsed: vzenith.VzenithPlate,
                      earlier: asyncio.Future[tuple[int, Any]]) -> LprOutcome:
        """The camera sent a record again: answer as the first time, without a new event."""
        self._stats.inc("duplicates_dropped")
        self._cam_log(camera_id).info("repeated record dropped", plateid=parsed.plateid,
                                      offline=parsed.offline)
        try:
            status, body = await asyncio.wait_for(asyncio.shield(earlier),
                                                  self.config.decide_timeout_s
                                                  + self.config.emit_timeout_s
                                                  + self.config.snapshot_timeout_s)
        except TimeoutError:
            return LprOutcome(503, _error(503, "busy", "前一次推送仍在处理",
                                          "the first push is still being handled").body)
        return LprOutcome(status, body)

    async def _vzenith_read(self, camera_id: str, parsed: vzenith.VzenithPlate) -> LprOutcome:
        outcome, _ = await self._vzenith_read_durable(camera_id, parsed)
        return outcome

    async def _vzenith_read_durable(self, camera_id: str, parsed: vzenith.VzenithPlate
                                    ) -> tuple[LprOutcome, bool]:
        log = self._cam_log(camera_id)
        for problem in parsed.image_problems:
            self._stats.inc("images_undecodable")
            log.warning("image dropped", problem=problem)
        later = self.config.images_after_reply and bool(parsed.image or parsed.fragment)
        snap = (Snapshot(None, None, None) if later else
                await self._snapshot(camera_id, parsed.image, parsed.fragment, parsed.rect))
        read = PlateRead(
            camera_id=camera_id, vendor="vzenith", plate_raw=parsed.plate_raw,
            colour_code=parsed.colour_code, type_code=parsed.type_code,
            confidence=parsed.confidence, direction=parsed.direction,
            trigger=parsed.trigger, camera_plate_id=parsed.plateid, offline=parsed.offline,
            ts=self._read_ts(camera_id, parsed.camera_ts), evidence_jpeg=snap.evidence_jpeg,
            crop_jpeg=snap.crop_jpeg, quality=snap.quality, colour_name=parsed.colour_name,
            type_name=parsed.type_name, received_at=self._clock.now())
        read_id = await self._emit_read(read)
        if read_id is None:
            if read.offline:  # the camera keeps the record and pushes it again later
                return LprOutcome(503, _error(503, "not_stored", "记录暂未保存，请重推",
                                              "record not stored, push again").body), False
            return LprOutcome(200, self._vz_reply(camera_id, self._failure_reply("not stored"),
                                                  parsed.plateid), read=read), False
        reply = await self._decide(read)
        if later:
            self._evidence_later(read, read_id, parsed.image, parsed.fragment, parsed.rect)
        if read.offline:
            self._stats.inc("offline_records")
            log.info("offline record", plate=read.plate_raw, plateid=parsed.plateid,
                     decided_open=reply.open)
            body = (vzenith.build_offline_ack(parsed.plateid) if parsed.plateid is not None
                    else {})
            return LprOutcome(200, body, reply, read), True
        log.info("plate read", plate=read.plate_raw, open=reply.open, reason=reply.reason,
                 plateid=parsed.plateid)
        return LprOutcome(200, self._vz_reply(camera_id, reply, parsed.plateid), reply,
                          read), True

    def _vz_reply(self, camera_id: str, reply: LaneReply, plateid: int | None) -> dict[str, Any]:
        return vzenith.build_reply(reply, plateid=plateid,
                                   relay_io=self.cameras[camera_id].relay_io,
                                   led=self._led.get(camera_id, self._default_led),
                                   options=self.config.reply)

    # -- Hikvision --------------------------------------------------------------------------

    async def hikvision_push(self, camera_id: str, parts: Sequence[hikvision.Part]
                             ) -> LprOutcome:
        """An ISAPI push from an admitted Hikvision camera; ``outcome.reply`` is the decision
        the gate driver must execute (the camera ignores the HTTP reply)."""
        log = self._cam_log(camera_id)
        try:
            push = await self._in_worker(hikvision.parse_push, parts, self.config.naive_tz)
        except LprParseError as exc:
            return self._malformed(camera_id, exc)
        alert = push.alert
        self._contact(camera_id, "push", {"ipaddr": alert.ip_address} if alert.ip_address
                      else {})
        if not alert.is_anpr:
            self._stats.inc("ignored_events")
            return LprOutcome(200, "OK")
        later = self.config.images_after_reply and bool(push.detection_jpeg or push.plate_jpeg)
        snap = (Snapshot(None, None, None) if later else
                await self._snapshot(camera_id, push.detection_jpeg, push.plate_jpeg, None))
        read = PlateRead(
            camera_id=camera_id, vendor="hikvision", plate_raw=alert.plate_raw,
            colour_code=alert.colour_code, type_code=None, confidence=alert.confidence,
            direction=alert.direction, trigger=None, camera_plate_id=None,
            offline=alert.retransmission, ts=self._read_ts(camera_id, alert.camera_ts),
            evidence_jpeg=snap.evidence_jpeg, crop_jpeg=snap.crop_jpeg, quality=snap.quality,
            colour_name=alert.plate_colour, type_name=alert.plate_type,
            received_at=self._clock.now())
        read_id = await self._emit_read(read)
        if read_id is None:
            return LprOutcome(503, "not stored", read=read)
        reply = await self._decide(read)
        if later:
            self._evidence_later(read, read_id, push.detection_jpeg, push.plate_jpeg, None)
        if read.offline:
            self._stats.inc("offline_records")
        log.info("plate read", plate=read.plate_raw, open=reply.open, reason=reply.reason,
                 offline=read.offline)
        return LprOutcome(200, "OK", reply, read)

    # -- shared steps -----------------------------------------------------------------------

    async def _in_worker(self, fn: Callable[..., T], *args: Any) -> T:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.config.image_workers,
                                            thread_name_prefix="lpr")
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def _snapshot(self, camera_id: str, full: bytes | None, crop: bytes | None,
                        rect: Rect | None) -> Snapshot:
        if not full and not crop:
            return Snapshot(None, None, None)
        log = self._cam_log(camera_id)
        try:
            snap = await asyncio.wait_for(
                self._in_worker(process_snapshot, full, crop, rect, self.config.snapshot,
                                self.config.quality), self.config.snapshot_timeout_s)
        except TimeoutError:
            self._stats.inc("snapshot_timeouts")
            log.warning("image processing timed out; read goes on without images")
            return Snapshot(None, None, None, ("timeout",))
        for problem in snap.problems:
            self._stats.inc("images_undecodable")
            log.warning("image dropped", problem=problem)
        if snap.quality is not None:
            change = self._quality.observe(camera_id, snap.quality)
            if change is not None:
                self._quality_event(camera_id, change)
        return snap

    def _read_ts(self, camera_id: str, camera_ts: datetime | None) -> datetime:
        now = self._clock.now()
        if camera_ts is None:
            return now
        latest = now + timedelta(seconds=self.config.max_camera_clock_skew_s)
        if _EARLIEST_CAMERA_TS <= camera_ts <= latest:
            return camera_ts
        self._stats.inc("camera_clock_implausible")
        self._cam_log(camera_id).warning("camera clock implausible; using receipt time",
                                         camera_ts=camera_ts.isoformat())
        return now

    async def _emit_read(self, read: PlateRead) -> str | None:
        """Emit ``plate.read`` and wait until durable (bounded); its event id, or None when it
        is not durable."""
        self._stats.inc("reads")
        event = NewEvent(device=read.camera_id, kind=Kind.PLATE_READ,
                         data=plate_read_data(read, self.config.max_event_bytes), ts=read.ts)
        log = self._cam_log(read.camera_id)
        task = asyncio.ensure_future(self._emit(event))
        if not read.offline and not self.config.read_durable_before_decide:
            task.add_done_callback(lambda t: self._read_stored(t, read))
            return event.id
        task.add_done_callback(_consume_exception)
        try:
            await asyncio.wait_for(asyncio.shield(task), self.config.emit_timeout_s)
            return event.id
        except TimeoutError:
            self._stats.inc("emit_failures")
            log.error("plate.read not durable in time; gate kept shut",
                      timeout_s=self.config.emit_timeout_s)
        except Exception:
            self._stats.inc("emit_failures")
            log.exception("plate.read could not be stored; gate kept shut")
        return None

    def _read_stored(self, task: asyncio.Future[None], read: PlateRead) -> None:
        if task.cancelled() or task.exception() is None:
            return
        self._stats.inc("emit_failures")
        self._cam_log(read.camera_id).error("plate.read could not be stored",
                                            plate=read.plate_raw, error=repr(task.exception()))

    def _evidence_later(self, read: PlateRead, read_id: str, full: bytes | None,
                        crop: bytes | None, rect: Rect | None) -> None:
        """Process the images of an answered read in the background, then emit them."""
        task = asyncio.create_task(self._evidence(read, read_id, full, crop, rect),
                                   name=f"lpr-evidence-{read.camera_id}")
        self._evidence_tasks.add(task)
        task.add_done_callback(self._evidence_tasks.discard)

    async def _evidence(self, read: PlateRead, read_id: str, full: bytes | None,
                        crop: bytes | None, rect: Rect | None) -> None:
        snap = await self._snapshot(read.camera_id, full, crop, rect)
        if snap.evidence_jpeg is None and snap.crop_jpeg is None:
            return
        with_images = replace(read, evidence_jpeg=snap.evidence_jpeg, crop_jpeg=snap.crop_jpeg,
                              quality=snap.quality)
        data = plate_read_data(with_images, self.config.max_event_bytes)
        keep = ("camera", "plate_raw", "quality", "evidence_jpeg_b64", "crop_jpeg_b64",
                "images_dropped")
        self._queue_event(read.camera_id, KIND_PLATE_EVIDENCE, {
            "v": 1, "read": read_id, **{k: data[k] for k in keep if k in data}})

    async def _decide(self, read: PlateRead) -> LaneReply:
        log = self._cam_log(read.camera_id)
        # Shielded: a decision chain cut off half-way (session stored, gate not moved) would be
        # worse than a late one. On timeout we stop waiting and keep the gate shut; the chain
        # finishes on its own and its late answer is only logged.
        task = asyncio.ensure_future(self._decider(read))
        try:
            reply = await asyncio.wait_for(asyncio.shield(task), self.config.decide_timeout_s)
        except TimeoutError:
            self._stats.inc("decide_errors")
            log.error("decider timed out; gate kept shut", plate=read.plate_raw,
                      timeout_s=self.config.decide_timeout_s)
            task.add_done_callback(lambda t: self._late_decision(t, read))
            reply = self._failure_reply("decider timed out")
        except Exception:
            self._stats.inc("decide_errors")
            log.exception("decider failed; gate kept shut", plate=read.plate_raw)
            reply = self._failure_reply("decider failed")
        if not isinstance(reply, LaneReply):
            self._stats.inc("decide_errors")
            log.error("decider returned no LaneReply; gate kept shut", got=type(reply).__name__)
            reply = self._failure_reply("decider returned garbage")
        if self._on_decision is not None:
            hook = asyncio.ensure_future(self._on_decision(read, reply))
            hook.add_done_callback(_consume_exception)
            try:  # shielded for the same reason as the Decider: never cut a gate move short
                await asyncio.wait_for(asyncio.shield(hook), self.config.decide_timeout_s)
            except Exception:
                self._stats.inc("decision_hook_errors")
                log.exception("decision hook failed or is late", plate=read.plate_raw,
                              open=reply.open)
        return reply

    def _late_decision(self, task: asyncio.Future[LaneReply], read: PlateRead) -> None:
        log = self._cam_log(read.camera_id)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("late decision failed", plate=read.plate_raw, error=repr(exc))
            return
        reply = task.result()
        log.warning("late decision ignored (gate was kept shut)", plate=read.plate_raw,
                    open=getattr(reply, "open", None), reason=getattr(reply, "reason", None))

    def _failure_reply(self, reason: str) -> LaneReply:
        return LaneReply(open=False, led_lines=list(self.config.failure_led_lines),
                         reason=reason)

    def _malformed(self, camera_id: str, exc: LprParseError) -> LprOutcome:
        self._stats.inc("malformed")
        self._cam_log(camera_id).warning("malformed push", field=exc.field, reason=exc.reason)
        out = _error(400, "malformed", f"请求无法解析（{exc.field}: {exc.reason}）",
                     f"malformed request ({exc.field}: {exc.reason})")
        assert isinstance(out.body, dict)
        out.body["field"] = exc.field
        return out

    def _cam_log(self, camera_id: str) -> Any:
        return self._cam_logs.get(camera_id) or self._log.bind(camera=camera_id[:64])

    # -- liveness and quality events --------------------------------------------------------

    def _contact(self, camera_id: str, via: str, info: Mapping[str, str]) -> None:
        state = self._live[camera_id]
        state.last_contact = self._clock.monotonic()
        state.info.update(info)
        if state.online:
            return
        state.contacts += 1
        if state.online is None or state.contacts >= self.config.online_after:
            state.online, state.contacts = True, 0
            self._stats.inc("cameras_came_online")
            self._cam_log(camera_id).info("camera online", via=via)
            self._queue_event(camera_id, Kind.DEVICE_ONLINE, {
                "v": 1, "vendor": self.cameras[camera_id].vendor, "via": via,
                "message": ONLINE_MESSAGE, **state.info})
            self._update_online_gauge()

    def check_liveness(self) -> int:
        """Declare cameras silent for ``missed_heartbeats × heartbeat_s`` offline (the
        watchdog calls this; tests may call it after moving a fake clock). Returns how many
        went offline."""
        now = self._clock.monotonic()
        went = 0
        for camera_id, spec in self.cameras.items():
            if spec.heartbeat_s is None:
                continue
            state = self._live[camera_id]
            silent = now - state.last_contact
            if silent <= spec.heartbeat_s * spec.missed_heartbeats:
                continue
            state.contacts = 0  # contacts before a silence do not count towards "back online"
            if state.online is False:
                continue
            state.online = False
            went += 1
            self._stats.inc("cameras_went_offline")
            self._cam_log(camera_id).warning("camera offline", silent_s=round(silent, 1))
            self._queue_event(camera_id, Kind.DEVICE_OFFLINE, {
                "v": 1, "vendor": spec.vendor, "reason": "heartbeat_timeout",
                "silent_s": round(silent, 1),
                "message": f"车牌相机离线：{silent:.0f} 秒无心跳 / "
                           f"Plate camera offline: no heartbeat for {silent:.0f} s"})
        if went:
            self._update_online_gauge()
        return went

    def _update_online_gauge(self) -> None:
        self._stats.set_gauge("cameras_online", sum(1 for s in self._live.values() if s.online))

    def _quality_event(self, camera_id: str, change: QualityChange) -> None:
        log = self._cam_log(camera_id)
        scores = change.median.as_dict()
        th = self.config.quality
        if change.degraded:
            zh, en = _DEGRADED_TEXT.get(change.reason, ("图像异常", change.reason))
            self._stats.inc("camera_degraded")
            log.warning("camera image degraded", reason=change.reason, **scores)
            self._queue_event(camera_id, KIND_CAMERA_DEGRADED, {
                "v": 1, "reason": change.reason, "median": scores, "samples": change.samples,
                "thresholds": {"sharpness_min": th.sharpness_min,
                               "dirty_fraction": th.dirty_fraction,
                               "blocked_fraction": th.blocked_fraction},
                "message": f"车牌相机图像异常：{zh} / Plate camera image degraded: {en}"})
        else:
            self._stats.inc("camera_recovered")
            log.info("camera image recovered", previous=change.reason, **scores)
            self._queue_event(camera_id, KIND_CAMERA_RECOVERED, {
                "v": 1, "previous_reason": change.reason, "median": scores,
                "samples": change.samples, "message": RECOVERED_MESSAGE})

    def _queue_event(self, camera_id: str, kind: str, data: dict[str, Any]) -> None:
        self._events.post(NewEvent(device=camera_id, kind=kind, data=data, ts=self._clock.now()))

    async def _watchdog(self) -> None:
        beats = [s.heartbeat_s for s in self.cameras.values() if s.heartbeat_s is not None]
        if not beats:
            return
        period = min(max(min(beats) / 2, 0.05), 5.0)
        while True:
            await asyncio.sleep(period)
            try:
                self.check_liveness()
            except Exception:  # a bug here must not stop liveness checks for good
                self._log.exception("liveness check failed")


def plate_read_data(read: PlateRead, max_bytes: int = 300_000) -> dict[str, Any]:
    """``plate.read`` event data (v1). Images are base64 JPEG; an image that would push the
    event past ``max_bytes`` is left out and named in ``images_dropped`` (the evidence has
    first claim on the budget, the crop takes what is left)."""
    data: dict[str, Any] = {
        "v": PLATE_READ_VERSION, "camera": read.camera_id, "vendor": read.vendor,
        "plate_raw": read.plate_raw, "colour_code": read.colour_code,
        "colour_name": read.colour_name, "type_code": read.type_code,
        "type_name": read.type_name, "confidence": read.confidence,
        "direction": read.direction, "trigger": read.trigger, "offline": read.offline,
        "camera_plate_id": read.camera_plate_id,
        "received_at": format_ts(read.received_at) if read.received_at else None,
        "quality": read.quality.as_dict() if read.quality else None,
        "evidence_jpeg_b64": None, "crop_jpeg_b64": None,
    }
    budget = max_bytes - 2048  # room for the other fields and the envelope
    dropped: list[str] = []
    for key, image in (("evidence_jpeg_b64", read.evidence_jpeg),
                       ("crop_jpeg_b64", read.crop_jpeg)):
        if image is None:
            continue
        size = (len(image) + 2) // 3 * 4
        if size <= budget:
            data[key] = base64.b64encode(image).decode("ascii")
            budget -= size
        else:
            dropped.append(key.removesuffix("_jpeg_b64"))
    if dropped:
        data["images_dropped"] = dropped
    return data


def _is_form(content_type: str) -> bool:
    return content_type.startswith("multipart/") or (
        content_type == "application/x-www-form-urlencoded")


def _error(status: int, code: str, zh: str, en: str) -> LprOutcome:
    return LprOutcome(status, {"error": code, "message": f"{zh} / {en}"})


def _malformed(field_name: str, reason: str) -> _Reject:
    return _Reject(400, "malformed", f"请求无法解析（{field_name}: {reason}）",
                   f"malformed request ({field_name}: {reason})")


def _too_large(limit: int) -> _Reject:
    return _Reject(413, "too_large", f"请求体超过 {limit} 字节", f"body larger than {limit} bytes")


def _consume_exception(task: asyncio.Future[None]) -> None:
    if not task.cancelled():
        task.exception()
