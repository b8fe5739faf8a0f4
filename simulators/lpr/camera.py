"""Virtual licence-plate cameras (Vzenith and Hikvision) pushing reads to an HTTP endpoint.

Wire facts only (docs: docs/protocols.md §2); this module imports nothing from
drivers/, edge/ or cloud/, so an encoding bug on the driver side cannot hide behind the same bug
here. What the camera sends:

* Vzenith: ``POST`` JSON ``{"AlarmInfoPlate": {channel, deviceName, ipaddr, serialno,
  result: {PlateResult: {license, colorType, type, confidence, direction, triggerType, plateid,
  isoffline, location: {RECT}, timeStamp: {Timeval: {sec, usec}}, imageFile,
  imageFragmentFile}}}}`` (images base64 JPEG; ``_无_`` when there is no plate). Heartbeats are
  ``multipart/form-data`` with device_name, ipaddr, port, user_name, pass_wd, serialno and
  channel_num. Offline records (``isoffline: 1``) are pushed one at a time: the next only after
  the server answers ``{"Response_AlarmInfoPlate": {"ContinuePushOffline": {"plateid": N,
  "continue": 1}}}`` for the previous one.
* Hikvision ISAPI: ``multipart/form-data`` with ``anpr.xml`` (``EventNotificationAlert``),
  ``detectionPicture.jpg`` and ``licensePlatePicture.jpg``; the reply does not drive the gate.

What the camera understands in the Vzenith reply: ``info: "ok"`` opens, ``ivs_ioctrl`` with
``value: 2`` pulses a relay, ``serialData[]`` goes to the RS-485 LED screen. The screen simulated
here is the simplest kind: GB2312 text, lines separated by CR LF.

Run standalone::

    python -m simulators.lpr.camera --vendor vzenith \\
        --url http://127.0.0.1:8088/lpr/vzenith/cam-in-1 --plate 粤B12345
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import functools
import itertools
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal
from xml.sax.saxutils import escape

import aiohttp
import cv2
import numpy as np

Vendor = Literal["vzenith", "hikvision"]
Degradation = Literal["blur", "black", "uniform", "half"]
DEGRADATIONS: tuple[str, ...] = ("blur", "black", "uniform", "half")

NO_PLATE_VZ = "_无_"
HIK_NAMESPACE = "http://www.hikvision.com/ver20/XMLSchema"
# Vzenith colorType codes → Hikvision plateColor names (docs/protocols.md §3 colour table).
_HIK_COLOURS = {0: "unknown", 1: "blue", 2: "yellow", 3: "white", 4: "black", 5: "green",
                6: "yellowGreen"}
_BEIJING = timezone(timedelta(hours=8))


# -- scene ----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=64)
def scene_jpeg(plate: str, degraded: Degradation | None = None, *, width: int = 1280,
               height: int = 720, seed: int = 0, quality: int = 88
               ) -> tuple[bytes, bytes, tuple[int, int, int, int]]:
    """(full JPEG, plate-crop JPEG, plate rect (left, top, right, bottom)) of a lane scene.

    Cached: rendering a frame costs ~20 ms and a load test sends the same plates many times.
    """
    img, rect = render_scene(plate, degraded, width=width, height=height, seed=seed)
    left, top, right, bottom = rect
    ok, full = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    ok2, crop = cv2.imencode(".jpg", img[top:bottom, left:right],
                             [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not (ok and ok2):
        raise RuntimeError("JPEG encoding failed")
    return bytes(full.tobytes()), bytes(crop.tobytes()), rect


def render_scene(plate: str, degraded: Degradation | None = None, *, width: int = 1280,
                 height: int = 720, seed: int = 0
                 ) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A car-ish lane scene (BGR) with a blue plate; ``degraded`` simulates a lens problem:
    ``blur`` out of focus, ``black`` covered, ``uniform`` a tarp or fog over it, ``half`` the
    lower half smeared with mud."""
    rng = np.random.default_rng(seed)
    sx, sy = width / 1280, height / 720

    def p(x: float, y: float) -> tuple[int, int]:
        return int(x * sx), int(y * sy)

    # Asphalt and walls: coarse random texture, so the scene has detail almost everywhere.
    coarse = rng.integers(60, 170, size=(max(2, height // 24), max(2, width // 24)),
                          dtype=np.uint8)
    base = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    img = cv2.cvtColor(base, cv2.COLOR_GRAY2BGR)
    for i in range(14):  # building windows along the top
        x = 40 + i * 90
        cv2.rectangle(img, p(x, 30), p(x + 60, 110), (90, 70, 40), -1)
        cv2.rectangle(img, p(x, 30), p(x + 60, 110), (230, 230, 230), max(1, int(3 * sx)))
    for i in range(6):  # lane markings
        cv2.line(img, p(100 + i * 220, 700), p(300 + i * 150, 420), (240, 240, 240),
                 max(1, int(8 * sx)))
    body = np.array([p(330, 640), p(330, 380), p(450, 250), p(830, 250), p(950, 380),
                     p(950, 640)], dtype=np.int32)
    cv2.fillPoly(img, [body], (40, 40, 150))
    cv2.polylines(img, [body], True, (10, 10, 10), max(1, int(4 * sx)))
    cv2.rectangle(img, p(480, 280), p(800, 370), (60, 50, 30), -1)  # windscreen
    for x in (420, 860):
        cv2.circle(img, p(x, 640), int(55 * sy), (15, 15, 15), -1)
        cv2.circle(img, p(x, 640), int(25 * sy), (160, 160, 160), -1)
    for x in (360, 830):
        cv2.rectangle(img, p(x, 420), p(x + 90, 470), (200, 230, 250), -1)  # lamps
    left, top = p(530, 520)
    right, bottom = p(750, 590)
    cv2.rectangle(img, (left, top), (right, bottom), (170, 60, 10), -1)
    cv2.rectangle(img, (left, top), (right, bottom), (255, 255, 255), max(1, int(3 * sx)))
    text = "".join(c for c in plate if c.isascii() and c.isalnum()) or "NOPLATE"
    cv2.putText(img, text[:8], (left + int(12 * sx), bottom - int(18 * sy)),
                cv2.FONT_HERSHEY_SIMPLEX, 1.4 * sy, (255, 255, 255), max(1, int(3 * sy)),
                cv2.LINE_AA)
    if degraded == "blur":
        img = cv2.GaussianBlur(img, (0, 0), sigmaX=9 * sx)
    elif degraded == "black":
        img[:] = 0
        img[: height // 10, : width // 10] = 90  # a sliver of light at a corner
    elif degraded == "uniform":
        img[:] = (120, 125, 128)
    elif degraded == "half":
        img[height // 2:] = (50, 60, 70)
    # Sensor noise comes after the optics: it is in every real frame, blurred or not.
    noise = rng.normal(0, 3.0, size=img.shape)
    img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    return img, (left, top, right, bottom)


# -- wire: Vzenith ----------------------------------------------------------------------------

def vzenith_plate_json(plate: str, *, plateid: int, offline: bool = False, colour: int = 1,
                       plate_type: int = 1, confidence: int = 95, direction: int = 0,
                       trigger: int = 1, when: datetime | None = None, ip: str = "192.168.1.100",
                       serialno: str = "sim-00000001", device_name: str = "IVS",
                       full_jpeg: bytes | None = None, crop_jpeg: bytes | None = None,
                       rect: tuple[int, int, int, int] = (0, 0, 0, 0)) -> dict[str, Any]:
    """A Vzenith ``AlarmInfoPlate`` push, field names as in docs/protocols.md §3."""
    when = when or datetime.now(UTC)
    epoch = when.timestamp()
    result: dict[str, Any] = {
        "license": plate or NO_PLATE_VZ,
        "colorType": colour,
        "type": plate_type,
        "confidence": confidence,
        "direction": direction,
        "triggerType": trigger,
        "plateid": plateid,
        "isoffline": 1 if offline else 0,
        "location": {"RECT": {"left": rect[0], "top": rect[1], "right": rect[2],
                              "bottom": rect[3]}},
        "timeStamp": {"Timeval": {"sec": int(epoch), "usec": when.microsecond}},
        "timeUsed": 12,
    }
    if full_jpeg is not None:
        result["imageFile"] = base64.b64encode(full_jpeg).decode()
        result["imageFileLen"] = len(full_jpeg)
    if crop_jpeg is not None:
        result["imageFragmentFile"] = base64.b64encode(crop_jpeg).decode()
        result["imageFragmentFileLen"] = len(crop_jpeg)
    return {"AlarmInfoPlate": {"channel": 0, "deviceName": device_name, "ipaddr": ip,
                               "serialno": serialno, "result": {"PlateResult": result}}}


def decode_led(serial_data: Any, channel: int = 0) -> list[str]:
    """Lines shown by a plain-text LED screen on ``channel``: GB2312, CR LF between lines."""
    if not isinstance(serial_data, list):
        return []
    lines: list[str] = []
    for item in serial_data:
        if not isinstance(item, dict) or item.get("serialChannel") != channel:
            continue
        try:
            raw = base64.b64decode(str(item.get("data", "")), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("serialData.data is not base64") from None
        if item.get("dataLen") != len(raw):
            raise ValueError(f"serialData.dataLen {item.get('dataLen')} ≠ {len(raw)} bytes")
        lines.extend(raw.decode("gb2312").split("\r\n"))
    return lines


@dataclass
class PushResult:
    """What the camera made of the server's reply."""

    status: int
    opened: bool = False
    led_lines: list[str] = field(default_factory=list)
    relay_pulse: bool = False
    relay_io: int | None = None
    voice: str | None = None
    offline_ack: tuple[Any, Any] | None = None
    """(plateid, continue) of a ContinuePushOffline answer."""
    body: Any = None
    latency_s: float = 0.0
    plateid: int | None = None


def parse_vzenith_reply(status: int, text: str, latency_s: float = 0.0,
                        plateid: int | None = None) -> PushResult:
    """Interpret a reply the way the camera would; anything odd leaves the gate shut."""
    res = PushResult(status=status, latency_s=latency_s, plateid=plateid)
    try:
        body = json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        res.body = text
        return res
    res.body = body
    resp = body.get("Response_AlarmInfoPlate") if isinstance(body, dict) else None
    if status != 200 or not isinstance(resp, dict):
        return res
    res.opened = resp.get("info") == "ok"
    io = resp.get("ivs_ioctrl")
    if isinstance(io, dict) and io.get("value") == 2:
        res.relay_pulse = True
        res.relay_io = io.get("io") if isinstance(io.get("io"), int) else None
    res.led_lines = decode_led(resp.get("serialData"))
    voice = resp.get("playserver_json_request")
    if isinstance(voice, dict) and isinstance(voice.get("voice"), str):
        res.voice = base64.b64decode(voice["voice"]).decode("utf-8", "replace")
    cont = resp.get("ContinuePushOffline")
    if isinstance(cont, dict):
        res.offline_ack = (cont.get("plateid"), cont.get("continue"))
    return res


# -- wire: Hikvision --------------------------------------------------------------------------

def hikvision_anpr_xml(plate: str, *, when: datetime | None = None, ip: str = "192.168.1.64",
                       channel: int = 1, colour: int = 1, confidence: int = 95,
                       direction: str = "forward", plate_type: str = "92TypeCivil",
                       vehicle_type: str = "vehicle", uuid: str = "sim-hik-0001",
                       namespace: bool = True) -> bytes:
    """An ISAPI ``EventNotificationAlert`` for an ANPR event (docs/protocols.md §3)."""
    when = (when or datetime.now(UTC)).astimezone(_BEIJING)
    ns = f' version="2.0" xmlns="{HIK_NAMESPACE}"' if namespace else ' version="2.0"'
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<EventNotificationAlert{ns}>\n'
        f"<ipAddress>{escape(ip)}</ipAddress>\n<portNo>80</portNo>\n<protocol>HTTP</protocol>\n"
        f"<channelID>{channel}</channelID>\n"
        f"<dateTime>{when.isoformat(timespec='seconds')}</dateTime>\n"
        "<activePostCount>1</activePostCount>\n<eventType>ANPR</eventType>\n"
        "<eventState>active</eventState>\n<eventDescription>ANPR</eventDescription>\n"
        "<ANPR>\n"
        f"<licensePlate>{escape(plate or '无车牌')}</licensePlate>\n<line>1</line>\n"
        f"<direction>{escape(direction)}</direction>\n"
        f"<confidenceLevel>{confidence}</confidenceLevel>\n"
        f"<plateType>{escape(plate_type)}</plateType>\n"
        f"<plateColor>{_HIK_COLOURS.get(colour, 'unknown')}</plateColor>\n"
        f"<vehicleType>{escape(vehicle_type)}</vehicleType>\n"
        "</ANPR>\n"
        f"<UUID>{escape(uuid)}</UUID>\n</EventNotificationAlert>\n")
    return body.encode("utf-8")


def hikvision_multipart(xml: bytes, full_jpeg: bytes | None, crop_jpeg: bytes | None
                        ) -> aiohttp.MultipartWriter:
    mp = aiohttp.MultipartWriter("form-data")
    part = mp.append(xml, {"Content-Type": "application/xml; charset=\"UTF-8\""})
    part.set_content_disposition("form-data", name="anpr.xml", filename="anpr.xml")
    for name, data in (("detectionPicture.jpg", full_jpeg),
                       ("licensePlatePicture.jpg", crop_jpeg)):
        if data is not None:
            part = mp.append(data, {"Content-Type": "image/jpeg"})
            part.set_content_disposition("form-data", name=name, filename=name)
    return mp


# -- the camera -------------------------------------------------------------------------------

class VirtualCamera:
    """One camera pushing to ``url``. Use as ``async with VirtualCamera(...) as cam``."""

    def __init__(self, vendor: Vendor, url: str, *, ip: str = "192.168.1.100",
                 serialno: str = "sim-00000001", device_name: str = "IVS",
                 timeout_s: float = 5.0, first_plateid: int = 1, width: int = 1280,
                 height: int = 720, images: bool = True, hik_namespace: bool = True,
                 session: aiohttp.ClientSession | None = None, username: str | None = None,
                 password: str | None = None, auth: str = "digest") -> None:
        """``username``/``password``: the HTTP credentials the camera is set up to send
        (Hikvision's alarm host answers a 401 challenge with ``auth="digest"``, or sends
        ``"basic"`` up front); None sends none, as Vzenith's push does."""
        if vendor not in ("vzenith", "hikvision"):
            raise ValueError(f"unknown vendor {vendor!r}")
        if auth not in ("digest", "basic"):
            raise ValueError(f"auth must be digest or basic, not {auth!r}")
        self.vendor: Vendor = vendor
        self.url = url
        self.ip = ip
        self.serialno = serialno
        self.device_name = device_name
        self.images = images
        self.hik_namespace = hik_namespace
        self.size = (width, height)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._plateids = itertools.count(first_plateid)
        self._session = session
        self._own_session = session is None
        self._basic: dict[str, str] = {}
        self.middlewares: tuple[Any, ...] = ()
        if username is not None and auth == "basic":
            pair = f"{username}:{password or ''}".encode()
            self._basic = {"Authorization": f"Basic {base64.b64encode(pair).decode('ascii')}"}
        elif username is not None:
            self.middlewares = (aiohttp.DigestAuthMiddleware(username, password or ""),)

    def _auth(self, headers: dict[str, str] | None = None) -> dict[str, Any]:
        """The credential part of a request: a Basic header, or the Digest middleware."""
        kw: dict[str, Any] = {"headers": {**(headers or {}), **self._basic}}
        if self.middlewares:
            kw["middlewares"] = self.middlewares
        return kw

    async def __aenter__(self) -> VirtualCamera:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("use 'async with VirtualCamera(...)' first")
        return self._session

    def next_plateid(self) -> int:
        return next(self._plateids)

    async def push_plate(self, plate: str, *, colour: int = 1, plate_type: int = 1,
                         confidence: int = 95, direction: int = 0, trigger: int = 1,
                         degraded: Degradation | None = None, offline: bool = False,
                         plateid: int | None = None, when: datetime | None = None,
                         seed: int = 0) -> PushResult:
        """Push one read (Vzenith JSON or Hikvision multipart) and interpret the reply."""
        full = crop = None
        rect = (0, 0, 0, 0)
        if self.images:
            full, crop, rect = scene_jpeg(plate, degraded, width=self.size[0],
                                          height=self.size[1], seed=seed)
        if self.vendor == "hikvision":
            xml = hikvision_anpr_xml(plate, when=when, ip=self.ip, colour=colour,
                                     confidence=confidence,
                                     direction="reverse" if direction == 2 else "forward",
                                     namespace=self.hik_namespace)
            return await self._post_hikvision(xml, full, crop)
        pid = plateid if plateid is not None else self.next_plateid()
        doc = vzenith_plate_json(plate, plateid=pid, offline=offline, colour=colour,
                                 plate_type=plate_type, confidence=confidence,
                                 direction=direction, trigger=trigger, when=when, ip=self.ip,
                                 serialno=self.serialno, device_name=self.device_name,
                                 full_jpeg=full, crop_jpeg=crop, rect=rect)
        body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
        status, text, latency = await self._post(body, {"Content-Type": "application/json"})
        return parse_vzenith_reply(status, text, latency, pid)

    async def push_offline_backlog(self, plates: Sequence[str], *,
                                   start: datetime | None = None,
                                   repeat_first: bool = False) -> list[PushResult]:
        """Push stored records one by one, each only after the server asked to continue
        (ContinuePushOffline with the same plateid and continue 1), as the camera does.
        ``repeat_first`` re-sends the first record once, as a camera interrupted by a live
        read does."""
        start = start or datetime.now(UTC) - timedelta(hours=1)
        results: list[PushResult] = []
        records = [(self.next_plateid(), plate, start + timedelta(minutes=i))
                   for i, plate in enumerate(plates)]
        if repeat_first and records:
            records.insert(1, records[0])
        for pid, plate, when in records:
            res = await self.push_plate(plate, offline=True, plateid=pid, when=when)
            results.append(res)
            if res.offline_ack != (pid, 1):
                break
        return results

    async def heartbeat(self) -> int:
        """A Vzenith heartbeat (multipart form); returns the HTTP status."""
        mp = aiohttp.MultipartWriter("form-data")
        for name, value in (("device_name", self.device_name), ("ipaddr", self.ip),
                            ("port", "80"), ("user_name", "admin"), ("pass_wd", "admin"),
                            ("serialno", self.serialno), ("channel_num", "1")):
            part = mp.append(value, {"Content-Type": "text/plain"})
            part.set_content_disposition("form-data", name=name)
        async with self.session.post(self.url, data=mp, **self._auth()) as resp:
            await resp.read()
            return resp.status

    async def post_raw(self, body: bytes | aiohttp.MultipartWriter,
                       content_type: str | None = None) -> tuple[int, str]:
        """Send anything (tests of malformed input); returns (status, body text)."""
        headers = {"Content-Type": content_type} if content_type else {}
        async with self.session.post(self.url, data=body, **self._auth(headers)) as resp:
            return resp.status, await resp.text()

    async def _post_hikvision(self, xml: bytes, full: bytes | None, crop: bytes | None
                              ) -> PushResult:
        t0 = time.perf_counter()
        async with self.session.post(self.url, data=hikvision_multipart(xml, full, crop),
                                     **self._auth()) as r:
            text = await r.text()
            return PushResult(status=r.status, body=text, latency_s=time.perf_counter() - t0)

    async def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, str, float]:
        t0 = time.perf_counter()
        async with self.session.post(self.url, data=body, **self._auth(headers)) as resp:
            text = await resp.text()
            return resp.status, text, time.perf_counter() - t0


# -- command line -----------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m simulators.lpr.camera",
                                 description="虚拟车牌相机 / virtual licence-plate camera")
    ap.add_argument("--vendor", choices=("vzenith", "hikvision"), default="vzenith")
    ap.add_argument("--url", required=True, help="e.g. http://127.0.0.1:8088/lpr/vzenith/cam-1")
    ap.add_argument("--plate", default="粤B12345", help="licence; '' for a read without plate")
    ap.add_argument("--colour", type=int, default=1, help="Vzenith colorType (1 blue, 5 green)")
    ap.add_argument("--type", dest="plate_type", type=int, default=1, help="Vzenith plate type")
    ap.add_argument("--count", type=int, default=1, help="pushes to send")
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between pushes")
    ap.add_argument("--degraded", choices=DEGRADATIONS, default=None)
    ap.add_argument("--offline", type=int, default=0, metavar="N",
                    help="push a backlog of N offline records instead of live reads")
    ap.add_argument("--heartbeat", action="store_true", help="send one heartbeat first")
    ap.add_argument("--ip", default="192.168.1.100", help="address the camera claims")
    ap.add_argument("--no-images", action="store_true")
    ap.add_argument("--username", default=None, help="HTTP user the camera sends (Hikvision)")
    ap.add_argument("--password", default=None, help="HTTP password the camera sends")
    ap.add_argument("--auth", choices=("digest", "basic"), default="digest")
    return ap


async def _main(args: argparse.Namespace) -> int:
    async with VirtualCamera(args.vendor, args.url, ip=args.ip, username=args.username,
                             password=args.password, auth=args.auth,
                             images=not args.no_images) as cam:
        if args.heartbeat:
            print(json.dumps({"heartbeat": await cam.heartbeat()}))
        if args.offline:
            results = await cam.push_offline_backlog([args.plate] * args.offline)
        else:
            results = []
            for i in range(args.count):
                if i:
                    await asyncio.sleep(args.interval)
                results.append(await cam.push_plate(args.plate, colour=args.colour,
                                                    plate_type=args.plate_type,
                                                    degraded=args.degraded))
        for res in results:
            out = asdict(res)
            out["latency_ms"] = round(out.pop("latency_s") * 1000, 1)
            print(json.dumps(out, ensure_ascii=False, default=str))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(_main(args))
    except (aiohttp.ClientError, TimeoutError) as exc:
        print(f"推送失败 / push failed: {exc!r}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
