"""Patrol (巡更) on the wire: the ``patrol`` dataset the edge tracks rounds from, the canonical
tag key both sides name a guard's tag by, and the signed QR sticker of a checkpoint.

``GET /api/sites/{site}/patrol/dataset`` (same version and ETag rules as parking)::

    {"version": 4,
     "checkpoints": {"cp-gate": {"name": "北门岗亭", "building": "", "floor": "", "area": "北门",
                                 "receiver": "omg-north", "qr": false}},
     "routes": {"night": {"name": "夜间外围", "ordered": true,
                          "points": [{"checkpoint": "cp-gate", "offset_s": 0},
                                     {"checkpoint": "cp-b1", "offset_s": 300}]}},
     "plans": {"night-2h": {"name": "夜班每2小时", "route": "night", "days": [1,2,3,4,5,6,7],
                            "start": "22:00:00", "end": "06:00:00", "every_s": 7200,
                            "start_window_s": 600, "tolerance_s": 120, "late_s": 300,
                            "tolerances": {"cp-b1": 300}, "escalate_s": 600}},
     "tags": {"ibeacon:426c7565-4368-6172-6d42-6561636f6e73:3838:4949":
                  {"guard": "张保安", "label": "巡更棒 07"}}}

Times of day are site time; ``end`` not after ``start`` runs past midnight; ``every_s`` 0 is one
round a day. A round scheduled at S starts when a tag of a guard reaches one of its
checkpoints (the first one when ``ordered``) no later than ``S + start_window_s`` (else
``patrol.round_missed``). Checkpoint ``c`` is due at ``S + offset_s(c)``: visited by
``due + tolerance`` is on time, by ``due + tolerance + late_s`` late, and at that deadline
unvisited it is missed (``patrol.checkpoint_missed``). ``escalate_s``: how long a missed
alarm waits unacknowledged before the supervisor is told (the console's alarm escalation).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Final, Literal, NotRequired, TypedDict

from contract.visitor_pass import _b64, _unb64

PATROL: Final = "patrol"
"""The dataset's name (also in ``down/sync``)."""


class CheckpointEntry(TypedDict):
    name: str
    building: str
    floor: str
    area: str
    receiver: str | None  # a receiver id of the site YAML's ``patrol.receivers``
    qr: bool  # a QR sticker is issued for it (sites without receivers)


class RoutePoint(TypedDict):
    checkpoint: str
    offset_s: int  # due this long after the round's scheduled start


class RouteEntry(TypedDict):
    name: str
    ordered: bool
    points: list[RoutePoint]


class PlanEntry(TypedDict):
    name: str
    route: str
    days: list[int]  # ISO weekdays of the round's scheduled start, site time
    start: str  # HH:MM:SS site time: the first round of a day
    end: str  # HH:MM:SS: no round is scheduled at or after it (past midnight when ≤ start)
    every_s: int  # 0: one round a day
    start_window_s: int
    tolerance_s: int
    late_s: int
    tolerances: dict[str, int]  # checkpoint → its own tolerance_s
    escalate_s: int


class TagEntry(TypedDict):
    guard: str  # the guard the tag is issued to (a staff login name)
    label: str


class PatrolDocument(TypedDict):
    version: int
    checkpoints: dict[str, CheckpointEntry]
    routes: dict[str, RouteEntry]
    plans: dict[str, PlanEntry]
    tags: dict[str, TagEntry]


def empty_document() -> PatrolDocument:
    return {"version": 0, "checkpoints": {}, "routes": {}, "plans": {}, "tags": {}}


# -- tag keys ---------------------------------------------------------------------------------

_UUID = re.compile(r"[0-9a-f]{32}")
_HEX = re.compile(r"[0-9a-f]+")
TagFamily = Literal["ibeacon", "eddystone"]


def ibeacon_key(uuid: str, major: int, minor: int) -> str:
    """``ibeacon:<uuid, lower case with dashes>:<major>:<minor>``; ``uuid`` with or without
    dashes, any case; major / minor as unsigned 16-bit (a negative value, as TheengsDecoder
    gives ≥ 32768, is taken modulo 2^16). ValueError when it cannot be one."""
    raw = uuid.replace("-", "").lower()
    if not _UUID.fullmatch(raw):
        raise ValueError(f"not an iBeacon UUID: {uuid!r}")
    for part in (major, minor):
        if not isinstance(part, int) or isinstance(part, bool) or not -32768 <= part <= 65535:
            raise ValueError(f"not a 16-bit major/minor: {part!r}")
    dashed = f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"
    return f"ibeacon:{dashed}:{major % 65536}:{minor % 65536}"


def eddystone_key(namespace: str, instance: str) -> str:
    """``eddystone:<namespace, 20 hex>:<instance, 12 hex>`` (lower case)."""
    ns, inst = namespace.lower(), instance.lower()
    if len(ns) != 20 or len(inst) != 12 or not _HEX.fullmatch(ns + inst):
        raise ValueError(f"not an Eddystone UID: {namespace!r}/{instance!r}")
    return f"eddystone:{ns}:{inst}"


def tag_key(text: str) -> str:
    """The canonical key of a tag as staff type it or a receiver names it: a canonical key,
    ``iBeacon:<uuid>-<major>-<minor>`` (ESPresense), ``<uuid> <major> <minor>``, or
    ``<namespace>:<instance>`` / ``<namespace><instance>`` (Eddystone UID). ValueError with
    what was expected otherwise."""
    t = text.strip()
    low = t.lower()
    try:
        if low.startswith("ibeacon:"):
            rest = t[8:]
            if rest.count(":") == 2:  # canonical
                uuid, major, minor = rest.split(":")
            else:  # ESPresense: <uuid with dashes>-<major>-<minor>
                uuid, major, minor = rest.rsplit("-", 2)
            return ibeacon_key(uuid, int(major), int(minor))
        if low.startswith("eddystone:"):
            ns, inst = t[10:].split(":")
            return eddystone_key(ns, inst)
        parts = t.replace(",", " ").split()
        if len(parts) == 3:
            return ibeacon_key(parts[0], int(parts[1]), int(parts[2]))
        compact = low.replace(":", "").replace("-", "")
        if len(compact) == 32 and _HEX.fullmatch(compact):
            return eddystone_key(compact[:20], compact[20:])
    except ValueError:
        pass
    raise ValueError(f"not a tag id: {text!r} (iBeacon: UUID major minor; "
                     "Eddystone UID: 20-hex namespace and 12-hex instance)")


# -- QR stickers ------------------------------------------------------------------------------

QR_PREFIX: Final = "cyq1"
QR_KEY_LABEL: Final = b"courtyard patrol checkpoint v1"


class StickerRefused(ValueError):
    """``reason``: ``malformed``, ``bad_signature``, ``other_site``."""

    def __init__(self, reason: str, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.reason, self.zh, self.en = reason, zh, en


@dataclass(frozen=True, slots=True)
class Sticker:
    """What a checkpoint's QR sticker says: the site, the checkpoint and the sticker's
    serial (printing a new one, ``n`` + 1, retires a sticker that was photographed)."""

    site: str
    checkpoint: str
    n: int


def _qr_key(site_secret: str) -> bytes:
    return hmac.new(site_secret.encode("utf-8"), QR_KEY_LABEL, hashlib.sha256).digest()


def sign_sticker(site_secret: str, sticker: Sticker) -> str:
    """``cyq1.<b64url(claims)>.<b64url(HMAC-SHA256)>``, the key derived from the site secret
    under its own label (a sticker is never a visitor pass or an operator token)."""
    if not site_secret:
        raise ValueError("a site secret is needed to sign a checkpoint sticker")
    body = json.dumps({"cp": sticker.checkpoint, "n": sticker.n, "site": sticker.site},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    signed = f"{QR_PREFIX}.{_b64(body.encode('ascii'))}"
    mac = hmac.new(_qr_key(site_secret), signed.encode("ascii"), hashlib.sha256).digest()
    return f"{signed}.{_b64(mac)}"


def verify_sticker(site_secret: str, token: str, site: str) -> Sticker:
    """The sticker a genuine token of ``site`` names; StickerRefused otherwise. Whether its
    serial is the current one, and whether the scan fell in a round window, is the caller's."""
    bad = StickerRefused("malformed", "无法识别的巡更点二维码", "not a checkpoint QR code")
    if not isinstance(token, str) or len(token) > 512 or not token.isascii():
        raise bad
    parts = token.strip().split(".")
    if len(parts) != 3 or parts[0] != QR_PREFIX or not site_secret:
        raise bad
    try:
        mac, body = _unb64(parts[2]), _unb64(parts[1])
        raw = json.loads(body)
    except ValueError:
        raise bad from None
    want = hmac.new(_qr_key(site_secret), f"{parts[0]}.{parts[1]}".encode("ascii"),
                    hashlib.sha256).digest()
    if not hmac.compare_digest(mac, want):
        raise StickerRefused("bad_signature", "二维码签名无效（伪造或被改动）",
                             "the sticker's signature is not valid (forged or altered)")
    if (not isinstance(raw, dict) or set(raw) != {"cp", "n", "site"}
            or not isinstance(raw["cp"], str) or not isinstance(raw["site"], str)
            or not isinstance(raw["n"], int) or isinstance(raw["n"], bool)):
        raise bad
    if raw["site"] != site:
        raise StickerRefused("other_site", "二维码属于其他小区", "the sticker is for another site")
    return Sticker(site=raw["site"], checkpoint=raw["cp"], n=raw["n"])


# -- event payloads (registered in contract.payloads) -----------------------------------------

VisitStatus = Literal["on_time", "late", "out_of_order", "unplanned"]


class PatrolTagSeen(TypedDict):
    """``patrol.tag_seen``: sampled (one per tag and receiver per ``tag_seen_every_s``)."""

    tag: str
    receiver: str
    rssi: int
    guard: NotRequired[str | None]
    battery_mv: NotRequired[int | None]


class PatrolCheckpoint(TypedDict):
    """``patrol.checkpoint``: a visit, decided at the edge (BLE dwell) or scanned (QR)."""

    checkpoint: str
    source: NotRequired[Literal["ble", "qr"]]
    tag: NotRequired[str | None]
    guard: NotRequired[str]
    receiver: NotRequired[str | None]
    rssi: NotRequired[int | None]  # strongest calibrated RSSI of the visit
    dwell_s: NotRequired[float]
    plan: NotRequired[str | None]
    round: NotRequired[str | None]  # "<plan>@<scheduled start, UTC ISO>"
    status: NotRequired[VisitStatus]
    due: NotRequired[str | None]  # UTC ISO
    message: NotRequired[str]


class PatrolRound(TypedDict):
    """``patrol.round_started`` / ``patrol.round_completed`` / ``patrol.round_missed``."""

    plan: str
    round: str
    route: str
    scheduled: str  # UTC ISO
    guard: NotRequired[str | None]
    tag: NotRequired[str | None]
    #: round_completed: counts over the route's checkpoints; ``complete`` when none missed.
    on_time: NotRequired[int]
    late: NotRequired[int]
    missed: NotRequired[int]
    out_of_order: NotRequired[int]
    outcome: NotRequired[Literal["complete", "incomplete"]]
    message: NotRequired[str]


class PatrolCheckpointMissed(TypedDict):
    plan: str
    round: str
    checkpoint: str
    deadline: str  # UTC ISO
    guard: NotRequired[str | None]
    escalate_s: NotRequired[int]
    message: NotRequired[str]


class PatrolTagCloned(TypedDict):
    """Heard at two receivers too far apart to walk between in the time between."""

    tag: str
    guard: NotRequired[str | None]
    first: str  # receiver ids
    second: str
    distance_m: float
    elapsed_s: float
    message: NotRequired[str]


class PatrolTagBattery(TypedDict):
    tag: str
    battery_mv: int
    threshold_mv: int
    guard: NotRequired[str | None]
    message: NotRequired[str]
