"""Vzenith (臻识) HTTP push: parse ``AlarmInfoPlate`` and heartbeats, build the gate reply.

Facts in docs/protocols.md §3. The camera POSTs a JSON plate result and opens its gate when the
reply says ``"info": "ok"``; the reply may also carry RS-485 data for the lane's LED screen
(``serialData``), a relay pulse (``ivs_ioctrl``) and a spoken prompt
(``playserver_json_request``). Records stored while the server was unreachable come back with
``isoffline: 1``, one at a time: the camera sends the next only after the reply says
``ContinuePushOffline {"plateid": N, "continue": 1}``.

Parsing is strict about structure and types (a wrong type names the field) and lenient about
images: an undecodable picture is dropped and reported, since the plate alone decides the gate.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from contract import jsoncodec
from drivers.lpr.model import LaneReply, LprParseError
from drivers.lpr.snapshot import Rect

NO_PLATE = "_无_"
MAX_LICENCE_CHARS = 32
MAX_TEXT_CHARS = 256

COLOUR_NAMES = {0: "unknown", 1: "blue", 2: "yellow", 3: "white", 4: "black", 5: "green",
                6: "yellow_green"}
TYPE_NAMES = {
    0: "unknown", 1: "blue_small", 2: "black_small", 3: "yellow_single", 4: "yellow_double",
    5: "police", 6: "armed_police", 7: "personalised", 8: "military_single",
    9: "military_double", 10: "embassy", 11: "hong_kong", 12: "agricultural", 13: "coach",
    14: "macau", 15: "armed_police_double", 16: "armed_police_hq", 17: "armed_police_hq_double",
    18: "civil_aviation", 19: "new_energy_small", 20: "new_energy_large", 21: "emergency",
    22: "consulate", 23: "new_standard_fuel", 24: "new_standard_new_energy", 25: "airport",
    26: "overseas", 29: "fake", 30: "logo", 31: "no_plate",
}
DIRECTIONS = {0: "unknown", 1: "left", 2: "right", 3: "up", 4: "down"}
TRIGGERS = {1: "auto", 2: "io", 4: "software", 8: "virtual_loop", 64: "vehicle_stay",
            65: "vehicle_stay_end", 66: "vehicle_turn_back"}
OTHER_PUSHES = ("AlarmGioIn", "SerialData", "TriggerImage")
"""Other pushes a camera may send to the same URL: IO trigger, RS-485 data, snapshots."""

_INT_TEXT = re.compile(r"-?[0-9]{1,19}")
_PR = "AlarmInfoPlate.result.PlateResult"


@dataclass(frozen=True, slots=True)
class VzenithPlate:
    """A parsed ``AlarmInfoPlate`` push; codes as the camera sent them."""

    plate_raw: str
    colour_code: int | None
    type_code: int | None
    confidence: int | None
    direction_code: int | None
    trigger_code: int | None
    plateid: int | None
    offline: bool
    camera_ts: datetime | None
    rect: Rect | None
    image: bytes | None
    fragment: bytes | None
    image_problems: tuple[str, ...] = ()
    device_name: str | None = None
    ipaddr: str | None = None
    serialno: str | None = None
    channel: int | None = None
    licence_sent: str = ""
    """The licence string exactly as sent (``_无_`` included), for de-duplication."""

    @property
    def direction(self) -> str | None:
        c = self.direction_code
        return None if c is None else DIRECTIONS.get(c, str(c))

    @property
    def trigger(self) -> str | None:
        c = self.trigger_code
        return None if c is None else TRIGGERS.get(c, str(c))

    @property
    def colour_name(self) -> str | None:
        c = self.colour_code
        return None if c is None else COLOUR_NAMES.get(c, str(c))

    @property
    def type_name(self) -> str | None:
        c = self.type_code
        return None if c is None else TYPE_NAMES.get(c, str(c))

    def dedupe_key(self) -> tuple[int, str, int] | None:
        """Same record ⇔ same plateid, licence and second. The licence and time guard against
        a camera whose plateid counter restarts (a new car must never be taken for a repeat)."""
        if self.plateid is None:
            return None
        sec = int(self.camera_ts.timestamp()) if self.camera_ts is not None else -1
        return (self.plateid, self.licence_sent, sec)


@dataclass(frozen=True, slots=True)
class VzenithOther:
    """A well-formed push that is not a plate read (IO input, RS-485 data, snapshot)."""

    kind: str


@dataclass(frozen=True, slots=True)
class VzenithHeartbeat:
    """The registration heartbeat (``pass_wd`` is deliberately not kept: never log it)."""

    device_name: str | None
    ipaddr: str | None
    serialno: str | None
    port: str | None = None
    channel_num: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in (("device_name", self.device_name), ("ipaddr", self.ipaddr),
                                  ("serialno", self.serialno)) if v}


# -- parsing ---------------------------------------------------------------------------------

def loads_json(body: bytes) -> Any:
    """JSON from UTF-8 (the documented encoding) or, failing that, GB18030 (older firmware)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = body.decode("gb18030")
        except UnicodeDecodeError:
            raise LprParseError("body", "neither UTF-8 nor GB18030 text") from None
    try:
        return jsoncodec.loads(text)
    except jsoncodec.JSONDecodeError as exc:
        raise LprParseError("body", f"not JSON: {exc}") from None


def parse_push(body: bytes) -> VzenithPlate | VzenithOther:
    """Parse a camera's JSON push; raise ``LprParseError`` naming the offending field."""
    doc = loads_json(body)
    if not isinstance(doc, dict):
        raise LprParseError("body", "must be a JSON object")
    top = doc.get("AlarmInfoPlate")
    if top is None:
        for kind in OTHER_PUSHES:
            if isinstance(doc.get(kind), dict):
                return VzenithOther(kind)
        raise LprParseError("AlarmInfoPlate", "missing (not a plate push)")
    return parse_alarm_info_plate(top)


def parse_alarm_info_plate(top: Any) -> VzenithPlate:
    """The ``AlarmInfoPlate`` object of a push."""
    if not isinstance(top, dict):
        raise LprParseError("AlarmInfoPlate", "must be an object")
    result = _obj(top, "result", "AlarmInfoPlate.result", required=True) or {}
    pr = _obj(result, "PlateResult", _PR, required=True) or {}
    licence = pr.get("license")
    if not isinstance(licence, str):
        raise LprParseError(f"{_PR}.license", "must be a string")
    if len(licence) > MAX_LICENCE_CHARS:
        raise LprParseError(f"{_PR}.license", f"longer than {MAX_LICENCE_CHARS} characters")
    plate = "" if licence.strip() in (NO_PLATE, "") else licence.strip()
    offline_raw = pr.get("isoffline", 0)
    if isinstance(offline_raw, bool):
        offline = offline_raw
    else:
        offline = _int(pr, "isoffline", f"{_PR}.isoffline", 0, 1) == 1
    problems: list[str] = []
    return VzenithPlate(
        plate_raw=plate,
        colour_code=_int(pr, "colorType", f"{_PR}.colorType", 0, 255),
        type_code=_int(pr, "type", f"{_PR}.type", 0, 255),
        confidence=_int(pr, "confidence", f"{_PR}.confidence", 0, 100),
        direction_code=_int(pr, "direction", f"{_PR}.direction", 0, 255),
        trigger_code=_int(pr, "triggerType", f"{_PR}.triggerType", 0, 65535),
        plateid=_int(pr, "plateid", f"{_PR}.plateid", 0, 2**63 - 1),
        offline=offline,
        camera_ts=_timestamp(pr),
        rect=_rect(pr),
        image=_b64(pr, "imageFile", problems),
        fragment=_b64(pr, "imageFragmentFile", problems),
        image_problems=tuple(problems),
        device_name=_str(top, "deviceName", "AlarmInfoPlate.deviceName"),
        ipaddr=_str(top, "ipaddr", "AlarmInfoPlate.ipaddr"),
        serialno=_str(top, "serialno", "AlarmInfoPlate.serialno"),
        channel=_int(top, "channel", "AlarmInfoPlate.channel", 0, 65535),
        licence_sent=licence,
    )


def peek_offline_plateid(body: bytes) -> int | None:
    """The plateid of a broken *offline* record, if it can be found at all.

    A record the camera keeps resending but we can never parse would block its whole backlog
    (it only pushes the next after ContinuePushOffline), so the endpoint skips it, logged.
    """
    try:
        doc = loads_json(body)
        pr = doc["AlarmInfoPlate"]["result"]["PlateResult"]
        if pr.get("isoffline") in (1, "1", True):
            pid = pr.get("plateid")
            if isinstance(pid, int) and not isinstance(pid, bool) and 0 <= pid < 2**63:
                return pid
    except (LprParseError, LookupError, TypeError, AttributeError):
        return None
    return None


def parse_heartbeat(fields: Mapping[str, str]) -> VzenithHeartbeat:
    """The heartbeat form; at least ``serialno`` or ``device_name`` must be there."""
    def get(name: str) -> str | None:
        value = fields.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise LprParseError(f"heartbeat.{name}", "must be text")
        if len(value) > MAX_TEXT_CHARS:
            raise LprParseError(f"heartbeat.{name}", f"longer than {MAX_TEXT_CHARS}")
        return value.strip() or None

    hb = VzenithHeartbeat(device_name=get("device_name"), ipaddr=get("ipaddr"),
                          serialno=get("serialno"), port=get("port"),
                          channel_num=get("channel_num"))
    if hb.serialno is None and hb.device_name is None:
        raise LprParseError("heartbeat", "neither serialno nor device_name present")
    return hb


def _obj(parent: dict[str, Any], key: str, path: str, required: bool = False
         ) -> dict[str, Any] | None:
    value = parent.get(key)
    if value is None:
        if required:
            raise LprParseError(path, "missing")
        return None
    if not isinstance(value, dict):
        raise LprParseError(path, "must be an object")
    return value


def _int(parent: dict[str, Any], key: str, path: str, lo: int, hi: int) -> int | None:
    """An integer field; decimal strings are accepted (some firmware quotes numbers)."""
    value = parent.get(key)
    if value is None:
        return None
    if isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
        value = int(value.strip())
    elif isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise LprParseError(path, "must be an integer")
    if not lo <= value <= hi:
        raise LprParseError(path, f"must be within [{lo}, {hi}], got {value}")
    return value


def _str(parent: dict[str, Any], key: str, path: str) -> str | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise LprParseError(path, "must be a string")
    if len(value) > MAX_TEXT_CHARS:
        raise LprParseError(path, f"longer than {MAX_TEXT_CHARS} characters")
    return value


def _timestamp(pr: dict[str, Any]) -> datetime | None:
    ts = _obj(pr, "timeStamp", f"{_PR}.timeStamp")
    if ts is None:
        return None
    tv = _obj(ts, "Timeval", f"{_PR}.timeStamp.Timeval")
    if tv is None:
        return None
    sec = _int(tv, "sec", f"{_PR}.timeStamp.Timeval.sec", 0, 2**34)
    usec = _int(tv, "usec", f"{_PR}.timeStamp.Timeval.usec", 0, 999_999) or 0
    if sec is None or sec == 0:
        return None
    return datetime.fromtimestamp(sec + usec / 1e6, UTC)


def _rect(pr: dict[str, Any]) -> Rect | None:
    loc = _obj(pr, "location", f"{_PR}.location")
    if loc is None:
        return None
    raw = _obj(loc, "RECT", f"{_PR}.location.RECT")
    if raw is None:
        return None
    vals = [_int(raw, k, f"{_PR}.location.RECT.{k}", -100_000, 100_000)
            for k in ("left", "top", "right", "bottom")]
    if any(v is None for v in vals):
        raise LprParseError(f"{_PR}.location.RECT", "needs left, top, right and bottom")
    left, top, right, bottom = (int(v or 0) for v in vals)
    if left == right or top == bottom:
        return None  # the camera's "no location" is all zeros
    return Rect(left, top, right, bottom)


def _b64(pr: dict[str, Any], key: str, problems: list[str]) -> bytes | None:
    value = pr.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise LprParseError(f"{_PR}.{key}", "must be a base64 string")
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        problems.append(f"{key}: not base64")
        return None


# -- replies ---------------------------------------------------------------------------------

class LedEncoder(Protocol):
    """Turns LED lines (and optionally a voice prompt) into ``serialData`` entries.

    LED controllers on the camera's RS-485 port speak vendor protocols (framing, checksums,
    colours, per-line commands) that differ between screen makers: a real site may need its
    own encoder for its screen. Each entry is ``{"serialChannel", "data" (base64), "dataLen"}``.
    """

    def __call__(self, lines: Sequence[str], voice: str | None) -> list[dict[str, Any]]: ...


_GB2312_SUBSTITUTES = str.maketrans({"¥": "￥", "—": "―", "–": "-", "·": "・", "•": "・"})


@dataclass(frozen=True, slots=True)
class PlainTextLed:
    """Default encoder: the lines as GB2312 text separated by CR LF on one serial channel.

    Characters GB2312 lacks are mapped to look-alikes where there is one (``¥`` → ``￥``) and
    otherwise shown as ``?``. The voice prompt is not sent to the screen (it goes to the
    camera's speaker). Output is capped at ``max_bytes`` (whole lines are dropped from the end).
    """

    channel: int = 0
    encoding: str = "gb2312"
    max_bytes: int = 512

    def encode_text(self, lines: Sequence[str]) -> bytes:
        out = b""
        for line in lines:
            clean = "".join(ch for ch in line if ch.isprintable()).translate(_GB2312_SUBSTITUTES)
            chunk = clean.encode(self.encoding, errors="replace")
            candidate = chunk if not out else out + b"\r\n" + chunk
            if len(candidate) > self.max_bytes:
                break
            out = candidate
        return out

    def __call__(self, lines: Sequence[str], voice: str | None) -> list[dict[str, Any]]:
        data = self.encode_text(lines)
        if not data:
            return []
        return [{"serialChannel": self.channel, "data": base64.b64encode(data).decode("ascii"),
                 "dataLen": len(data)}]


@dataclass(frozen=True, slots=True)
class ReplyOptions:
    """How a lane's replies are built. ``pulse_ms``: relay pulse length for ``ivs_ioctrl``;
    ``voice_encoding``: the camera reads the prompt as base64 UTF-8 (older firmware: GBK)."""

    pulse_ms: int = 500
    voice_encoding: str = "utf-8"
    voice_volume: int = 100

    def __post_init__(self) -> None:
        if not 0 < self.pulse_ms <= 600_000:
            raise ValueError("pulse_ms must be within (0, 600000] (camera limit)")


def build_reply(reply: LaneReply, *, plateid: int | None = None, relay_io: int | None = None,
                led: LedEncoder | None = None, options: ReplyOptions | None = None
                ) -> dict[str, Any]:
    """The JSON answer to a live read: ``info`` ok/no opens or keeps shut."""
    opts = options or ReplyOptions()
    encoder = led if led is not None else PlainTextLed()
    body: dict[str, Any] = {
        "info": "ok" if reply.open else "no",
        "content": reply.reason[:64] or ("open" if reply.open else "shut"),
        "is_pay": "true" if reply.open else "false",
    }
    if plateid is not None:
        body["plateid"] = plateid  # the camera's doc asks live replies to echo it
    serial = encoder(reply.led_lines, reply.voice) if (reply.led_lines or reply.voice) else []
    if serial:
        body["serialData"] = serial
    if reply.open and reply.relay_pulse and relay_io is not None:
        body["ivs_ioctrl"] = {"io": relay_io, "value": 2, "delay": opts.pulse_ms}
    if reply.voice:
        voice = reply.voice.encode(opts.voice_encoding, errors="replace")
        body["playserver_json_request"] = {
            "type": "ps_voice_play", "voice": base64.b64encode(voice).decode("ascii"),
            "voice_interval": 0, "voice_volume": opts.voice_volume, "voice_male": 1}
    return {"Response_AlarmInfoPlate": body}


def build_offline_ack(plateid: int, cont: bool = True) -> dict[str, Any]:
    """"Got record ``plateid``, send the next one" (or stop, with ``cont=False``)."""
    return {"Response_AlarmInfoPlate": {"ContinuePushOffline": {"plateid": plateid,
                                                                "continue": 1 if cont else 0}}}


KEEP_SHUT_REPLY: dict[str, Any] = {"Response_AlarmInfoPlate": {"info": "no", "is_pay": "false"}}


# -- de-duplication --------------------------------------------------------------------------

K = TypeVar("K")
V = TypeVar("V")


class RecentRecords(Generic[K, V]):
    """The last ``size`` record keys per camera (oldest forgotten first).

    A Vzenith camera keeps at most 9000 offline records and may push one twice (a live read
    interrupts an offline push, which is then restarted), so remembering 10 000 keys per camera
    catches every repeat of a backlog; a few hundred KB per camera at most.
    """

    def __init__(self, size: int = 10_000) -> None:
        if size < 1:
            raise ValueError("size must be ≥ 1")
        self.size = size
        self._by_camera: dict[str, OrderedDict[K, V]] = {}

    def get(self, camera_id: str, key: K) -> V | None:
        return self._by_camera.get(camera_id, OrderedDict()).get(key)

    def put(self, camera_id: str, key: K, value: V) -> None:
        seen = self._by_camera.setdefault(camera_id, OrderedDict())
        seen[key] = value
        seen.move_to_end(key)
        while len(seen) > self.size:
            seen.popitem(last=False)

    def discard(self, camera_id: str, key: K) -> None:
        self._by_camera.get(camera_id, OrderedDict()).pop(key, None)

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_camera.values())
