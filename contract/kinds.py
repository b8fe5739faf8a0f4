"""Event kinds and their delivery priority (DESIGN §2: alarm > access/parking > telemetry)."""

from __future__ import annotations

from enum import IntEnum


class Priority(IntEnum):
    """Lower value is sent first. Only TELEMETRY may be dropped when the outbox is full."""

    ALARM = 0
    ACCESS = 1
    TELEMETRY = 2


class Kind:
    METER_READING = "meter.reading"
    DEVICE_ONLINE = "device.online"
    DEVICE_OFFLINE = "device.offline"
    BUFFER_DROPPED = "buffer.dropped"
    PLATE_READ = "plate.read"
    GATE_OPENED = "gate.opened"
    PARKING_EXIT = "parking.exit"
    ACCESS_DENIED = "access.denied"
    DOOR_FORCED = "door.forced"
    FIRE_ALARM = "fire.alarm"
    FIRE_FAULT = "fire.fault"
    ELEVATOR_FAULT = "elevator.fault"
    PATROL_CHECKPOINT = "patrol.checkpoint"


_ALARM_PREFIXES = ("fire.", "door.forced", "elevator.", "uitd.")
_ACCESS_PREFIXES = ("access.", "parking.", "gate.", "plate.", "door.", "payment.")
_KEEP_ALWAYS = {Kind.BUFFER_DROPPED, Kind.DEVICE_OFFLINE, Kind.DEVICE_ONLINE}


def priority_for(kind: str) -> Priority:
    """Default priority of an event kind; money and access events are never telemetry."""
    if kind.startswith(_ALARM_PREFIXES):
        return Priority.ALARM
    if kind.startswith(_ACCESS_PREFIXES) or kind in _KEEP_ALWAYS:
        return Priority.ACCESS
    return Priority.TELEMETRY
