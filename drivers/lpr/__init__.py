"""Licence-plate cameras (Vzenith JSON push, Hikvision ISAPI ANPR): the edge's HTTP endpoint
that answers "open / don't open", with bounded evidence images and camera health."""

from drivers.lpr.model import (
    KEEP_SHUT,
    CameraSpec,
    Decider,
    DecisionHook,
    LaneReply,
    LprParseError,
    PlateRead,
    SnapshotQuality,
    Vendor,
)
from drivers.lpr.server import (
    KIND_CAMERA_DEGRADED,
    KIND_CAMERA_RECOVERED,
    LprConfig,
    LprEndpoint,
    LprOutcome,
    plate_read_data,
)
from drivers.lpr.snapshot import QualityThresholds, SnapshotLimits
from drivers.lpr.vzenith import LedEncoder, PlainTextLed, ReplyOptions

__all__ = [
    "KEEP_SHUT",
    "KIND_CAMERA_DEGRADED",
    "KIND_CAMERA_RECOVERED",
    "CameraSpec",
    "Decider",
    "DecisionHook",
    "LaneReply",
    "LedEncoder",
    "LprConfig",
    "LprEndpoint",
    "LprOutcome",
    "LprParseError",
    "PlainTextLed",
    "PlateRead",
    "QualityThresholds",
    "ReplyOptions",
    "SnapshotLimits",
    "SnapshotQuality",
    "Vendor",
    "plate_read_data",
]
