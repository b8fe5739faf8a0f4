# Over 500 lines on purpose: one scenario, read top to bottom: cars, cameras, booth, checks.
"""Cars through a simulated site's parking: entry camera, a stay, exit camera, the booth, the loop.

``courtyard sim site`` runs this when the site file has a ``parking`` section, so the edge's
parking (camera endpoint, lanes, booth API, Modbus gates) is exercised over its real wire
protocols with nothing hand-driven. Every few seconds a car arrives at an entry camera: an
owner from the site's local dataset file, a temporary car, now and then a read the camera's
OCR got slightly wrong, a car the entry camera missed (it pays the lost-entry fee at the exit)
or a blacklisted one (turned away). After its stay it leaves through an exit camera; when the
booth API says something is due the scenario pays it (WeChat, as a simulated booth guard
holding an edge operator token), and on a gate
driven by a Modbus relay board it moves the car over the vehicle loop so the gate closes after
it. One line per car says what happened (zh / en).

Wire facts only: cameras push as ``simulators.lpr.camera.VirtualCamera`` does, each from the
address the site file lists for it (the edge accepts pushes only from there) with the HTTP
credentials the site gives it, the booth is plain HTTP + JSON on the edge's operator listener
with a ``cy1`` operator token signed here from the documented format (docs/operations.md),
and the dataset file is read as YAML. Nothing here imports edge/, cloud/,
drivers/ or contract/, so a bug there cannot hide behind the same bug here.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import logging
import random
import socket
import string
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from simulators.gate.barrier import BarrierSimulator
from simulators.lpr.camera import VirtualCamera
from simulators.siteconfig import CameraSpec, LaneSpec, ParkingSpec

log = logging.getLogger(__name__)

#: Kinds of car and how often each arrives (owners and barred only when the dataset has some).
DEFAULT_MIX: dict[str, float] = {"owner": 0.35, "temporary": 0.4, "ocr": 0.12,
                                 "missed_entry": 0.08, "barred": 0.05}
KINDS = tuple(DEFAULT_MIX)
#: Look-alike characters a plate OCR mixes up (docs/protocols.md §3: 0/D/Q, 8/B, 2/Z, 5/S, 6/G).
_LOOKALIKE = {"0": "D", "D": "0", "8": "B", "B": "8", "2": "Z", "Z": "2", "5": "S", "S": "5",
              "6": "G", "G": "6"}
_CANON = str.maketrans("DQBIZSGO", "00812560")
_PLATE_LETTERS = "".join(c for c in string.ascii_uppercase if c not in "IO")
_PROVINCES = "粤湘赣桂闽京沪浙苏川"
HEARTBEAT_S = 5.0
REREAD_S = 6 * 60.0
STEP_S = 0.05


@dataclass(frozen=True)
class Pace:
    """How busy the lot is: mean seconds between arrivals and mean length of a stay (each
    drawn uniformly from half to one and a half times the mean)."""

    interval: float = 8.0
    stay: float = 30.0

    def __post_init__(self) -> None:
        if self.interval <= 0 or self.stay < 0:
            raise ValueError("interval must be > 0 and stay ≥ 0")


@dataclass(frozen=True)
class DatasetPlates:
    owners: list[str] = field(default_factory=list)
    barred: list[str] = field(default_factory=list)


def read_dataset_plates(path: Path | None) -> tuple[DatasetPlates, str | None]:
    """Owners' and blacklisted plates of the local dataset file (YAML or JSON), and a
    bilingual note when the file cannot be used (the scenario then only has temporary cars)."""
    if path is None:
        return DatasetPlates(), None
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        return DatasetPlates(), (f"停车数据集 {path} 无法读取，只模拟临时车 / cannot read the "
                                 f"parking dataset {path}: temporary cars only ({exc})")

    def plates(key: str) -> list[str]:
        items = doc.get(key) if isinstance(doc, dict) else None
        return [str(e["plate"]).strip() for e in items or []
                if isinstance(e, dict) and str(e.get("plate") or "").strip()]

    return DatasetPlates(owners=plates("vehicles"), barred=plates("blacklist")), None


def canonical(plate: str) -> str:
    """The plate with look-alikes folded, to keep generated plates clear of real ones."""
    return plate.upper().translate(_CANON)


def confuse(plate: str, rng: random.Random) -> str:
    """The plate as an OCR might misread it: one look-alike swapped (not the province or the
    city letter, which the edge's matching rules treat more strictly)."""
    spots = [i for i, c in enumerate(plate) if i >= 2 and c in _LOOKALIKE]
    if not spots:
        return plate
    i = rng.choice(spots)
    return plate[:i] + _LOOKALIKE[plate[i]] + plate[i + 1:]


def temporary_plate(rng: random.Random, province: str, taken: set[str]) -> str:
    """An ordinary blue plate no owner has (after folding look-alikes), with at least one
    character an OCR can confuse."""
    for _ in range(1000):
        prov = province if rng.random() < 0.7 else rng.choice(_PROVINCES)
        tail = [rng.choice(string.digits) for _ in range(5)]
        if rng.random() < 0.4:
            tail[rng.randrange(1, 5)] = rng.choice(_PLATE_LETTERS)
        if not any(c in _LOOKALIKE for c in tail):
            tail[rng.randrange(0, 5)] = rng.choice("0258")
        plate = prov + rng.choice(_PLATE_LETTERS) + "".join(tail)
        if canonical(plate) not in taken:
            return plate
    raise RuntimeError("no free temporary plate")


def can_bind(address: str) -> bool:
    """Whether this machine owns ``address`` (so a camera can push from it)."""
    try:
        infos = socket.getaddrinfo(address, 0, type=socket.SOCK_STREAM)
    except OSError:
        return False
    for family, kind, proto, _, sockaddr in infos:
        with contextlib.suppress(OSError), socket.socket(family, kind, proto) as s:
            s.bind(sockaddr)
            return True
    return False


_LABELS = {"owner": ("业主车", "owner"), "temporary": ("临时车", "temporary"),
           "ocr": ("识别有误", "misread"), "missed_entry": ("入口漏拍", "entry missed"),
           "barred": ("黑名单", "blacklisted")}


@dataclass
class CarStory:
    """What happened to one car, for its line and for tests."""

    n: int
    plate: str
    kind: str
    entry_lane: str | None = None
    entry_read: str | None = None
    entered: bool | None = None  # None: the entry camera never saw it
    exit_lane: str | None = None
    exit_read: str | None = None
    due: Decimal = Decimal("0")
    paid: Decimal | None = None
    left: bool | None = None
    #: Why the exit held the car although nothing could be paid (the guard opened by hand).
    held: str | None = None
    stayed_s: float = 0.0
    problem: str | None = None

    def line(self) -> str:
        kz, ke = _LABELS.get(self.kind, (self.kind, self.kind))
        zh = [f"车辆 #{self.n} {self.plate}（{kz}）："]
        en = [f"car #{self.n} {self.plate} ({ke}):"]
        if self.entry_lane is None:
            zh.append("入口未识别")
            en.append(" not seen at the entry")
        else:
            read_zh = f"（识别为 {self.entry_read}）" if self.entry_read != self.plate else ""
            read_en = f" (read as {self.entry_read})" if self.entry_read != self.plate else ""
            if self.entered:
                zh.append(f"入口 {self.entry_lane}{read_zh} 开闸")
                en.append(f" in at {self.entry_lane}{read_en}")
            elif self.entered is False:
                zh.append(f"入口 {self.entry_lane}{read_zh} 拒绝入场，掉头离开")
                en.append(f" refused at {self.entry_lane}{read_en}, turned away")
        if self.exit_lane is not None:
            zh.append(f"，停 {self.stayed_s:.0f} 秒，出口 {self.exit_lane}")
            en.append(f", stayed {self.stayed_s:.0f} s, out at {self.exit_lane}")
            if self.paid is not None:
                zh.append(f" 应缴 ¥{self.due:.2f}，微信支付")
                en.append(f", ¥{self.due:.2f} due, paid by WeChat")
            elif self.held is not None:
                zh.append(f" 被拦下（{self.held}），岗亭人工放行")
                en.append(f", held ({self.held}), the guard opened by hand")
            elif self.due > 0:
                zh.append(f" 应缴 ¥{self.due:.2f} 未付")
                en.append(f", ¥{self.due:.2f} due, not paid")
            else:
                zh.append(" 免费")
                en.append(", nothing due")
            if self.left:
                zh.append("，开闸离场")
                en.append(", gate opened")
            elif self.left is False:
                zh.append("，未能离场")
                en.append(", could not leave")
        if self.problem:
            zh.append(f"（{self.problem.split(' / ')[0]}）")
            en.append(f" ({self.problem.split(' / ')[-1]})")
        return "".join(zh) + " / " + "".join(en)


class BoothError(Exception):
    """The edge's booth API refused or failed; the message is zh / en."""


def booth_token(secret: str, site: str, hours: int = 1) -> str:
    """A guard's edge operator token: ``cy1.<b64url(claims)>.<b64url(HMAC-SHA256)>`` with the
    key HMAC(site secret, "courtyard edge operator v1"), written from the format."""
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    now = int(time.time())
    claims = {"site": site, "sub": "sim:booth", "name": "模拟岗亭 simulated booth",
              "role": "guard", "iat": now, "exp": now + hours * 3600}
    signed = "cy1." + b64(json.dumps(claims, ensure_ascii=False).encode("utf-8"))
    key = hmac.new(secret.encode("utf-8"), b"courtyard edge operator v1", hashlib.sha256)
    mac = hmac.new(key.digest(), signed.encode("ascii"), hashlib.sha256).digest()
    return f"{signed}.{b64(mac)}"


class ParkingScenario:
    """Drives a site's parking until cancelled; ``stories`` keeps every car's outcome."""

    def __init__(self, spec: ParkingSpec, gates: Mapping[str, BarrierSimulator], *,
                 pace: Pace | None = None, traffic: bool = True,
                 rng: random.Random | None = None, mix: Mapping[str, float] | None = None,
                 max_cars: int | None = None, out: Callable[[str], None] | None = None,
                 http_timeout: float = 5.0) -> None:
        self.spec = spec
        self.gates = dict(gates)
        self.pace = pace or Pace()
        self.traffic = traffic
        self.rng = rng or random.Random()
        self.max_cars = max_cars
        self.out = out or (lambda line: print(line, flush=True))
        self.http_timeout = http_timeout
        self.base = spec.base_url
        self.booth = spec.operator_url
        self.plates, note = read_dataset_plates(spec.dataset)
        self.notes: list[str] = [note] if note else []
        self._cams = {c.id: c for c in spec.cameras}
        self.usable_cameras = {c.id for c in spec.cameras if can_bind(c.address)}
        for c in spec.cameras:
            if c.id not in self.usable_cameras:
                self.notes.append(
                    f"摄像机 {c.id} 的地址 {c.address} 不属于本机，无法模拟其推送 / camera "
                    f"{c.id}: {c.address} is not an address of this machine, not simulated")
        usable = [ln for ln in spec.lanes if ln.camera in self.usable_cameras]
        self.entries = [ln for ln in usable if ln.direction == "in"]
        self.exits = [ln for ln in usable if ln.direction == "out"]
        weights = dict(mix or DEFAULT_MIX)
        if not self.plates.owners:
            weights["owner"] = 0.0
        if not self.plates.barred:
            weights["barred"] = 0.0
        self.mix = {k: w for k, w in weights.items() if k in KINDS and w > 0}
        if not self.mix:
            self.mix = {"temporary": 1.0}
        provinces = [p[0] for p in self.plates.owners]
        self.province = max(set(provinces), key=provinces.count) if provinces else "粤"
        self._known = {canonical(p) for p in [*self.plates.owners, *self.plates.barred]}
        self._active: set[str] = set()
        self._last_out: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._cameras: dict[str, VirtualCamera] = {}
        self._booth: aiohttp.ClientSession | None = None
        self.stories: list[CarStory] = []
        self._numbers = itertools.count(1)
        self.ready = asyncio.Event()

    # -- what `courtyard sim site` prints at start ----------------------------------------

    def summary(self) -> list[str]:
        lines = list(self.notes)
        cams = ", ".join(f"{c.id}({c.vendor} {c.address})" for c in self.spec.cameras
                         if c.id in self.usable_cameras) or "-"
        lines.append(f"停车：摄像机 {cams} 推送到 {self.base}/lpr/… / parking: cameras push "
                     f"to {self.base}/lpr/…")
        if not self.traffic:
            lines.append("停车场景已关闭（只发心跳）/ parking traffic off (heartbeats only)")
        elif not self.entries or not self.exits:
            lines.append("没有可模拟的入口和出口车道，不模拟车流 / no entry and exit lane to "
                         "drive: no parking traffic")
        else:
            lines.append(
                f"停车场景：约每 {self.pace.interval:g} 秒来一辆车，停约 {self.pace.stay:g} 秒；"
                f"业主车 {len(self.plates.owners)} 辆 / parking traffic: a car every "
                f"~{self.pace.interval:g} s staying ~{self.pace.stay:g} s; "
                f"{len(self.plates.owners)} owners' plates")
        return lines

    # -- running --------------------------------------------------------------------------

    async def run(self) -> None:
        """Heartbeats and traffic until cancelled; ``car`` may be called while this runs."""
        timeout = aiohttp.ClientTimeout(total=self.http_timeout)
        async with contextlib.AsyncExitStack() as stack:
            self._booth = await stack.enter_async_context(aiohttp.ClientSession(
                timeout=timeout, middlewares=(self._sign,)))
            # Each camera pushes from its own address: the edge accepts only the listed one.
            # Its plateid counter starts from the clock, so a restarted simulator's reads are
            # not taken for re-sent ones (a real camera keeps its counter across reboots).
            first = int(time.time()) % 1_000_000_000
            for cid in sorted(self.usable_cameras):
                cam = self._cams[cid]
                conn = aiohttp.TCPConnector(local_addr=(cam.address, 0))
                session = await stack.enter_async_context(
                    aiohttp.ClientSession(connector=conn, timeout=timeout))
                self._cameras[cid] = VirtualCamera(
                    "hikvision" if cam.vendor == "hikvision" else "vzenith",
                    f"{self.base}/lpr/{cam.vendor}/{cam.id}", ip=cam.address,
                    serialno=f"sim-{cam.id}", session=session, first_plateid=first,
                    timeout_s=self.http_timeout, username=cam.username,
                    password=cam.password)
            async with asyncio.TaskGroup() as tg:
                for cid in sorted(self.usable_cameras):
                    if self._cams[cid].vendor == "vzenith":
                        tg.create_task(self._heartbeats(self._cams[cid]),
                                       name=f"heartbeat:{cid}")
                if self.traffic and self.entries and self.exits:
                    tg.create_task(self._traffic(tg), name="parking-traffic")
                # The cameras stay usable (``car``) after the last scheduled car.
                tg.create_task(asyncio.Event().wait(), name="parking-idle")

    async def _sign(self, req: aiohttp.ClientRequest,
                    handler: aiohttp.ClientHandlerType) -> aiohttp.ClientResponse:
        """Every booth request carries a fresh guard token (the console's job on a real site)."""
        req.headers["Authorization"] = f"Bearer {booth_token(self.spec.secret, self.spec.site)}"
        return await handler(req)

    async def _heartbeats(self, cam: CameraSpec) -> None:
        """A Vzenith camera says it is alive every few seconds, cars or not."""
        vc = self._cameras[cam.id]
        while True:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with asyncio.timeout(self.http_timeout):
                    await vc.heartbeat()
            await asyncio.sleep(HEARTBEAT_S)

    async def _wait_for_edge(self) -> None:
        assert self._booth is not None
        while True:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
                async with self._booth.get(f"{self.booth}/parking/lanes") as r:
                    if r.status == 200:
                        await r.json()
                        return
            await asyncio.sleep(1.0)

    async def _traffic(self, tg: asyncio.TaskGroup) -> None:
        await self._wait_for_edge()
        self.out(f"停车场景开始：边缘停车服务 {self.base} 已就绪 / parking traffic starts: the "
                 f"edge's parking at {self.base} is up")
        self.ready.set()
        sent = 0
        while self.max_cars is None or sent < self.max_cars:
            sent += 1
            n = next(self._numbers)
            tg.create_task(self._car(n), name=f"car:{n}")
            await asyncio.sleep(self.pace.interval * self.rng.uniform(0.5, 1.5))

    # -- one car --------------------------------------------------------------------------

    def _pick(self, n: int, kind: str | None = None) -> CarStory:
        if kind is None:
            kinds = list(self.mix)
            kind = self.rng.choices(kinds, weights=[self.mix[k] for k in kinds])[0]
        # Not a car inside, nor the last one out of an exit a moment ago: the edge takes the
        # same plate at the same exit within minutes for the camera reading it again.
        recent = {plate for plate, at in self._last_out.values()
                  if time.monotonic() - at < REREAD_S}
        free_owners = [p for p in self.plates.owners
                       if canonical(p) not in self._active and canonical(p) not in recent]
        if kind == "owner" and not free_owners:
            kind = "temporary"
        if kind == "owner":
            plate = self.rng.choice(free_owners)
        elif kind == "barred" and self.plates.barred:
            plate = self.rng.choice(self.plates.barred)
        elif kind == "ocr" and free_owners and self.rng.random() < 0.5:
            plate = self.rng.choice(free_owners)
        else:
            plate = temporary_plate(self.rng, self.province, self._known | self._active)
        return CarStory(n=n, plate=plate, kind=kind)

    async def car(self, kind: str, plate: str | None = None) -> CarStory:
        """Drive one car of ``kind`` (a plate of that kind when none is given) through the
        lot now, and return its story (also printed)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        story = self._pick(next(self._numbers), kind)
        if plate is not None:
            story.plate = plate
        await self._run_story(story)
        return story

    async def _car(self, n: int) -> None:
        await self._run_story(self._pick(n))

    async def _run_story(self, story: CarStory) -> None:
        key = canonical(story.plate)
        self._active.add(key)
        try:
            await self._drive(story)
        except asyncio.CancelledError:
            raise
        except (aiohttp.ClientError, TimeoutError, BoothError, ValueError) as exc:
            story.problem = str(exc) or repr(exc)
            if " / " not in story.problem:
                story.problem = f"推送或缴费失败 {exc!r} / push or payment failed {exc!r}"
        except Exception as exc:  # a bug here must not stop the rest of the traffic
            log.exception("parking scenario: car #%d failed", story.n)
            story.problem = f"模拟出错 {exc!r} / simulator error {exc!r}"
        finally:
            self._active.discard(key)
        self.stories.append(story)
        self.out(story.line())

    async def _drive(self, story: CarStory) -> None:
        entry = self.rng.choice(self.entries)
        exits = [ln for ln in self.exits if ln.lot == entry.lot] or self.exits
        exit_ = self.rng.choice(exits)
        if story.kind != "missed_entry":
            story.entry_lane = entry.id
            story.entry_read = (confuse(story.plate, self.rng) if story.kind == "ocr"
                                else story.plate)
            async with self._lock(entry.id):
                story.entered = await self._pass_entry(entry, story.entry_read)
            if not story.entered:
                return
        started = time.monotonic()
        await asyncio.sleep(self.pace.stay * self.rng.uniform(0.5, 1.5))
        story.exit_lane, story.exit_read = exit_.id, story.plate
        async with self._lock(exit_.id):
            story.stayed_s = time.monotonic() - started
            await self._pass_exit(exit_, story)
            self._last_out[exit_.id] = (canonical(story.plate), time.monotonic())

    def _lock(self, lane: str) -> asyncio.Lock:
        """One car at a lane at a time, as on the tarmac."""
        return self._locks.setdefault(lane, asyncio.Lock())

    async def _pass_entry(self, lane: LaneSpec, read: str) -> bool:
        cam = self._cams[lane.camera]
        res = await self._cameras[cam.id].push_plate(read)
        if res.status != 200:
            raise BoothError(f"入口推送被拒（HTTP {res.status}）/ entry push refused "
                             f"(HTTP {res.status})")
        board = self.gates.get(lane.gate or "")
        if cam.vendor == "vzenith" and board is None:
            return res.opened
        if board is None:  # a Hikvision camera's reply does not say; the lane state does
            return await self._waiting(lane.id) is None
        return await self._through_gate(board)

    async def _pass_exit(self, lane: LaneSpec, story: CarStory) -> None:
        cam = self._cams[lane.camera]
        res = await self._cameras[cam.id].push_plate(story.exit_read or story.plate)
        if res.status != 200:
            raise BoothError(f"出口推送被拒（HTTP {res.status}）/ exit push refused "
                             f"(HTTP {res.status})")
        waiting = await self._waiting(lane.id)
        opened = res.opened if cam.vendor == "vzenith" else waiting is None
        if waiting is not None:
            story.due = _money(waiting.get("due"))
            if story.due > 0:
                opened = await self._pay(lane.id, story.due)
                story.paid = story.due
            else:  # held for something money cannot settle: the guard lets it out
                story.held = str(waiting.get("reason") or "?")
                opened = await self._manual_open(lane.id, story.held)
        board = self.gates.get(lane.gate or "")
        if board is not None:
            opened = await self._through_gate(board) if opened else False
        story.left = opened

    async def _waiting(self, lane: str) -> dict[str, Any] | None:
        """The vehicle the booth sees waiting to pay at ``lane``, if any."""
        assert self._booth is not None
        async with self._booth.get(f"{self.booth}/parking/lanes") as r:
            if r.status != 200:
                raise BoothError(f"岗亭接口出错（HTTP {r.status}）/ booth API failed "
                                 f"(HTTP {r.status})")
            body = await r.json()
        for ln in body.get("lanes") or []:
            if isinstance(ln, dict) and ln.get("lane") == lane:
                waiting = ln.get("waiting")
                return waiting if isinstance(waiting, dict) else None
        return None

    async def _pay(self, lane: str, amount: Decimal) -> bool:
        assert self._booth is not None
        body = {"amount": f"{amount:.2f}", "method": "wechat"}
        async with self._booth.post(f"{self.booth}/parking/lanes/{lane}/pay", json=body) as r:
            answer = await r.json()
            if r.status != 200:
                raise BoothError(str(answer.get("error") if isinstance(answer, dict) else answer))
        return bool(answer.get("open"))

    async def _manual_open(self, lane: str, why: str) -> bool:
        """The guard opens the lane by hand (the edge records who and why)."""
        assert self._booth is not None
        body = {"reason": f"模拟岗亭人工放行 / simulated guard: {why}"[:200]}
        async with self._booth.post(f"{self.booth}/parking/lanes/{lane}/open", json=body) as r:
            answer = await r.json()
            if r.status != 200:
                raise BoothError(str(answer.get("error") if isinstance(answer, dict) else answer))
        return bool(answer.get("opened"))

    async def _through_gate(self, board: BarrierSimulator) -> bool:
        """Wait for the arm to rise, drive over the loop, wait for the arm to come down
        behind the car (so the next car finds the gate closed). False: it never opened."""
        if not await _until(lambda: board.arm_position >= 1.0, board.travel_s + 4.0):
            return False
        await board.vehicle_enters_loop()
        await asyncio.sleep(self.rng.uniform(0.8, 1.5))
        await board.vehicle_leaves_loop()
        await _until(lambda: board.arm_position <= 0.0, board.travel_s + 15.0)
        return True


async def _until(cond: Callable[[], bool], within: float) -> bool:
    deadline = time.monotonic() + within
    while not cond():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(STEP_S)
    return True


def _money(raw: Any) -> Decimal:
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise BoothError(f"岗亭返回的金额无效 {raw!r} / the booth sent an invalid amount "
                         f"{raw!r}") from None
    return value if value.is_finite() else Decimal("0")
