"""Event kinds and their delivery priority (DESIGN §2: alarm > access/parking > telemetry)."""

from __future__ import annotations

from enum import IntEnum


class Priority(IntEnum):
    """Lower value is sent first. Only TELEMETRY may be dropped when the outbox is full."""

    ALARM = 0
    ACCESS = 1
    TELEMETRY = 2


class Kind:
    """Every event kind on the wire; drivers and handlers name kinds only through these.

    Payload shapes: ``contract.payloads``. Priorities: ``priority_for``.
    """

    METER_READING = "meter.reading"
    DEVICE_ONLINE = "device.online"
    DEVICE_OFFLINE = "device.offline"
    BUFFER_DROPPED = "buffer.dropped"
    PLATE_READ = "plate.read"
    #: The snapshots of a plate read, sent after the gate decision; droppable under the disk
    #: budget (the read itself, and what was decided, are not).
    PLATE_EVIDENCE = "plate.evidence"
    GATE_OPENED = "gate.opened"
    GATE_CLOSED = "gate.closed"
    PARKING_ENTRY = "parking.entry"
    PARKING_EXIT = "parking.exit"
    PARKING_REFUSED = "parking.refused"
    PAYMENT_RECORDED = "payment.recorded"
    GATE_FAULT = "gate.fault"
    GATE_RECOVERED = "gate.recovered"
    CAMERA_DEGRADED = "camera.degraded"
    CAMERA_RECOVERED = "camera.recovered"
    ACCESS_GRANTED = "access.granted"
    ACCESS_DENIED = "access.denied"
    #: A duress PIN: the door opens as usual and this silent alarm goes to the guards.
    ACCESS_DURESS = "access.duress"
    #: OSDP readers the edge polls: tamper and power from their local status, link lost/back.
    READER_TAMPER = "reader.tamper"
    READER_POWER_FAULT = "reader.power_fault"
    READER_OFFLINE = "reader.offline"
    READER_ONLINE = "reader.online"
    #: Tamper or power back to normal (``cleared`` names which): marks the alarm restored.
    READER_RESTORED = "reader.restored"
    DOOR_FORCED = "door.forced"
    DOOR_OPENED = "door.opened"
    DOOR_CLOSED = "door.closed"
    DOOR_HELD_OPEN = "door.held_open"
    DOOR_BUTTON = "door.button"
    #: A door set normally open / controlled by its schedule, a first card or a guard.
    DOOR_MODE_CHANGED = "door.mode_changed"
    #: A door controller (微耕/UHPPOTE) stopped answering; its doors are unknown until it does.
    CONTROLLER_OFFLINE = "controller.offline"
    #: The controller answers again (after ``controller.offline``): marks the alarm restored.
    CONTROLLER_ONLINE = "controller.online"
    FIRE_ALARM = "fire.alarm"
    FIRE_FAULT = "fire.fault"
    FIRE_SUPERVISORY = "fire.supervisory"
    FIRE_SHIELDED = "fire.shielded"
    FIRE_STARTED = "fire.started"
    FIRE_FEEDBACK = "fire.feedback"
    FIRE_RESTORED = "fire.restored"
    FIRE_POWER_FAULT = "fire.power_fault"
    FIRE_SYSTEM_STATUS = "fire.system_status"
    FIRE_ANALOG = "fire.analog"
    FIRE_OPERATION = "fire.operation"
    UITD_STATUS = "uitd.status"
    UITD_FAULT = "uitd.fault"
    UITD_POWER_FAULT = "uitd.power_fault"
    UITD_RESTORED = "uitd.restored"
    UITD_OPERATION = "uitd.operation"
    ELEVATOR_STATE = "elevator.state"
    ELEVATOR_FAULT = "elevator.fault"
    ELEVATOR_TRAPPED = "elevator.trapped"
    ELEVATOR_RECOVERED = "elevator.recovered"
    ELEVATOR_RECALL = "elevator.recall"
    #: Fire linkage at the edge: an incident began, one action's result, a guard's reset.
    LINKAGE_TRIGGERED = "linkage.triggered"
    LINKAGE_ACTION = "linkage.action"
    LINKAGE_RESET = "linkage.reset"
    #: Patrol (巡更, ``contract.patrol``): a tag heard (sampled), a visit, a round's life, and
    #: what the guards must act on (missed, cloned tag); a low tag battery opens a work order.
    PATROL_TAG_SEEN = "patrol.tag_seen"
    PATROL_CHECKPOINT = "patrol.checkpoint"
    PATROL_ROUND_STARTED = "patrol.round_started"
    PATROL_ROUND_COMPLETED = "patrol.round_completed"
    PATROL_CHECKPOINT_MISSED = "patrol.checkpoint_missed"
    PATROL_ROUND_MISSED = "patrol.round_missed"
    PATROL_TAG_CLONED = "patrol.tag_cloned"
    PATROL_TAG_BATTERY_LOW = "patrol.tag_battery_low"
    #: Stored by the cloud in place of an event that broke the contract, under its seq.
    INGEST_QUARANTINED = "ingest.quarantined"
    #: Stored by the cloud when an event came to a stored (site, epoch, seq) with another id.
    INGEST_CONFLICT = "ingest.conflict"


KINDS: frozenset[str] = frozenset(
    v for k, v in vars(Kind).items() if k.isupper() and isinstance(v, str))
"""Every kind ``Kind`` names."""

_ALARM_PREFIXES = ("fire.", "door.forced", "elevator.", "uitd.", "linkage.", "access.duress",
                   "reader.tamper", "patrol.checkpoint_missed", "patrol.round_missed",
                   "patrol.tag_cloned")
#: Measurements and car positions: telemetry although their family is an alarm family.
_SAFETY_TELEMETRY = {Kind.FIRE_ANALOG, Kind.ELEVATOR_STATE, Kind.PATROL_TAG_SEEN}
_ACCESS_PREFIXES = ("access.", "parking.", "gate.", "plate.", "door.", "payment.", "reader.",
                    "patrol.")
#: Telemetry by name but never dropped under the disk budget: someone must act on them.
_KEEP_ALWAYS = {Kind.BUFFER_DROPPED, Kind.DEVICE_OFFLINE, Kind.DEVICE_ONLINE,
                Kind.CAMERA_DEGRADED, Kind.CAMERA_RECOVERED, Kind.CONTROLLER_OFFLINE,
                Kind.CONTROLLER_ONLINE}


def priority_for(kind: str) -> Priority:
    """Default priority of an event kind; money and access events are never telemetry."""
    if kind == Kind.PLATE_EVIDENCE or kind in _SAFETY_TELEMETRY:
        return Priority.TELEMETRY
    if kind.startswith(_ALARM_PREFIXES):
        return Priority.ALARM
    if kind.startswith(_ACCESS_PREFIXES) or kind in _KEEP_ALWAYS:
        return Priority.ACCESS
    return Priority.TELEMETRY
