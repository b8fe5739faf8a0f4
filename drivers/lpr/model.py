"""What a licence-plate camera tells us and what the lane answers, independent of the vendor.

The driver turns a vendor push into a ``PlateRead``, hands it to the ``Decider`` (the lead's
decision chain: whitelist, passes, tariffs) and turns the ``LaneReply`` back into whatever the
camera understands. Nothing here knows HTTP, JSON or XML.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Vendor = Literal["vzenith", "hikvision"]
VENDORS: tuple[Vendor, ...] = ("vzenith", "hikvision")


class LprParseError(ValueError):
    """A push we cannot use; ``field`` names the offending field (dotted path) for the log."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SnapshotQuality:
    """Scores of one evidence image (see ``drivers.lpr.snapshot`` for how they are measured).

    ``sharpness``: variance of the Laplacian of a 320×240 grey copy (higher is sharper);
    ``occluded_fraction``: share of the frame that is near-uniform or very dark (0–1);
    ``brightness``: mean grey level (0–255).
    """

    sharpness: float
    occluded_fraction: float
    brightness: float

    def as_dict(self) -> dict[str, float]:
        return {"sharpness": round(self.sharpness, 1),
                "occluded_fraction": round(self.occluded_fraction, 3),
                "brightness": round(self.brightness, 1)}


@dataclass(frozen=True, slots=True)
class PlateRead:
    """One plate read as the camera reported it; nothing normalised or fuzzy-matched here.

    ``plate_raw`` is the licence string as sent, except that the vendors' "no plate" markers
    (Vzenith ``_无_``, Hikvision ``无车牌``) become "". ``colour_code`` uses Vzenith's
    ``colorType`` table (0 unknown, 1 blue, 2 yellow, 3 white, 4 black, 5 green, 6 yellow-green);
    Hikvision colour names are mapped onto it and kept verbatim in ``colour_name``.
    ``offline`` marks a record the camera stored while it could not reach us and pushes late:
    the car has long gone, so its decision is recorded but never executed.
    ``ts`` is the camera's own time when it sent a plausible one, else our receipt time.
    """

    camera_id: str
    vendor: Vendor
    plate_raw: str
    colour_code: int | None
    type_code: int | None
    confidence: int | None
    direction: str | None
    trigger: str | None
    camera_plate_id: int | None
    offline: bool
    ts: datetime
    evidence_jpeg: bytes | None = None
    crop_jpeg: bytes | None = None
    quality: SnapshotQuality | None = None
    colour_name: str | None = None
    type_name: str | None = None
    received_at: datetime | None = None

    @property
    def has_plate(self) -> bool:
        return self.plate_raw != ""


@dataclass(frozen=True, slots=True)
class LaneReply:
    """The Decider's answer for one read.

    ``open``: raise the barrier. For Vzenith this becomes ``"info": "ok"`` (the camera pulses
    its configured gate output); for Hikvision the gate driver executes it. ``relay_pulse``
    additionally pulses the camera relay configured for the lane (``CameraSpec.relay_io``)
    with ``ivs_ioctrl``, for lanes whose barrier hangs on another output. ``led_lines`` go to
    the lane's LED screen through the camera's RS-485 port, ``voice`` to the camera's speaker.
    ``reason`` is for logs only.
    """

    open: bool
    led_lines: list[str] = field(default_factory=list)
    voice: str | None = None
    relay_pulse: bool = False
    reason: str = ""


KEEP_SHUT = LaneReply(open=False, reason="keep shut")

Decider = Callable[[PlateRead], Awaitable[LaneReply]]
"""Called once for every live read and every new offline record (repeats are answered from
memory), after the ``plate.read`` event is durable. Must be quick: the camera waits for the
HTTP reply. After ``decide_timeout_s`` the endpoint stops waiting and keeps the gate shut; the
call is not cancelled (a chain cut off half-way is worse than a late one) and its late answer is
only logged. An exception also means "keep shut". For offline records (``read.offline``) the
answer is recorded, never executed: the camera only gets ContinuePushOffline."""

DecisionHook = Callable[[PlateRead, LaneReply], Awaitable[None]]
"""Optional: told every decision after the Decider answered (for Hikvision lanes this is
where the gate driver opens the barrier, since those cameras ignore the HTTP reply)."""


@dataclass(frozen=True, slots=True)
class CameraSpec:
    """One camera as the site configuration declares it.

    ``addresses``: IPs or networks (``"10.1.2.3"``, ``"10.1.2.0/28"``) allowed to push for this
    camera; these cameras send no credentials, so the source address is all we can check.
    ``relay_io``: camera relay (0–3) pulsed when a reply asks for ``relay_pulse``; None: never.
    ``heartbeat_s``: how often the camera checks in; the camera is declared offline after
    ``missed_heartbeats`` of silence. Vzenith sends a heartbeat every ~5 s (with offline
    checking enabled); Hikvision only pushes on events, so give it None (no liveness timeout)
    unless a periodic event is configured on the camera.
    """

    vendor: Vendor
    addresses: tuple[str, ...]
    relay_io: int | None = None
    heartbeat_s: float | None = 5.0
    missed_heartbeats: int = 3
    name: str = ""

    def __post_init__(self) -> None:
        if self.vendor not in VENDORS:
            raise ValueError(f"vendor must be one of {VENDORS}, not {self.vendor!r}")
        if not self.addresses:
            raise ValueError("at least one allowed address is needed")
        for a in self.addresses:
            ipaddress.ip_network(a, strict=False)  # raises ValueError on a typo
        if self.relay_io is not None and not 0 <= self.relay_io <= 3:
            raise ValueError("relay_io must be 0–3 or None")
        if self.heartbeat_s is not None and self.heartbeat_s <= 0:
            raise ValueError("heartbeat_s must be > 0 or None")
        if self.missed_heartbeats < 1:
            raise ValueError("missed_heartbeats must be ≥ 1")

    def allows(self, remote: str | None) -> bool:
        """Whether ``remote`` (the TCP peer address) may push for this camera."""
        if not remote:
            return False
        try:
            ip = ipaddress.ip_address(remote.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in _network(a) for a in self.addresses)


@functools.lru_cache(maxsize=1024)
def _network(address: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(address, strict=False)
