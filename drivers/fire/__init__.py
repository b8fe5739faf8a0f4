"""Fire panels: the monitoring-centre side of GB/T 26875.3-2011 for the site's user information
transmission devices (UITDs) over TCP: frames, application data, events and the server."""

from drivers.fire.codec import (
    BadEndError,
    BadStartError,
    ChecksumError,
    Command,
    Frame,
    FrameError,
    OversizeError,
    StreamReassembler,
    TimeTag,
    TruncatedFrameError,
    UnknownCommandError,
    build_frame,
    confirm_for,
    deny_for,
    parse_frame,
)
from drivers.fire.model import FireConfig, UitdConfig, ZoneLocation
from drivers.fire.server import FireCommandError, FireServer

__all__ = [
    "BadEndError",
    "BadStartError",
    "ChecksumError",
    "Command",
    "FireCommandError",
    "FireConfig",
    "FireServer",
    "Frame",
    "FrameError",
    "OversizeError",
    "StreamReassembler",
    "TimeTag",
    "TruncatedFrameError",
    "UitdConfig",
    "UnknownCommandError",
    "ZoneLocation",
    "build_frame",
    "confirm_for",
    "deny_for",
    "parse_frame",
]
