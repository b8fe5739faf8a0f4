"""The ``data`` of each event kind: what a handler in the console may rely on.

One TypedDict per kind (``PAYLOADS`` maps every ``Kind`` to its type). Most keys are
``NotRequired`` because a payload grows by adding keys (``v`` counts incompatible changes
only) and handlers must read defensively anyway: an event from an older edge may lack a key a
newer one sends. Every payload that people read carries a ``message`` (zh / en).
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from contract.kinds import Kind
from contract.patrol import (  # re-exported: one place to look a payload up
    PatrolCheckpoint,
    PatrolCheckpointMissed,
    PatrolRound,
    PatrolTagBattery,
    PatrolTagCloned,
    PatrolTagSeen,
)
from contract.payloads_safety import (  # re-exported: one place to look a payload up
    ElevatorFault,
    ElevatorRecall,
    ElevatorRecovered,
    ElevatorState,
    ElevatorTrapped,
    FireAnalog,
    FireCondition,
    FireOperation,
    FireRestored,
    FireStatus,
    LinkageAction,
    LinkageReset,
    LinkageTriggered,
)

# -- devices and the outbox -----------------------------------------------------------------


class MeterReading(TypedDict):
    v: int
    #: Register name → engineering value (only those that moved past their deadband).
    values: dict[str, float]
    profile: NotRequired[str]
    unit: NotRequired[str | None]
    units: NotRequired[dict[str, str]]
    latency_ms: NotRequired[float]


class _Device(TypedDict):
    """What the families add about the device: meters (``profile``, ``unit``), cameras
    (``vendor``), UITDs (``uitd``, ``address``, ``peer``), elevators (``building``, ``name``,
    ``floor``)."""

    message: str
    v: NotRequired[int]
    profile: NotRequired[str]
    unit: NotRequired[str | None]
    vendor: NotRequired[str]
    uitd: NotRequired[str]
    address: NotRequired[int]
    peer: NotRequired[str | None]
    building: NotRequired[str]
    name: NotRequired[str]
    floor: NotRequired[int | None]


class DeviceOnline(_Device):
    via: NotRequired[str]


class DeviceOffline(_Device):
    #: Why the edge lost it: ``timeout``, ``heartbeat_timeout``, ``bus_down``…
    reason: str
    detail: NotRequired[str | None]
    silent_s: NotRequired[float]


class BufferDropped(TypedDict):
    count: int
    #: Inclusive ``[lo, hi]`` seq ranges dropped (also sent as the batch's ``gaps``).
    ranges: list[list[int]]


# -- cameras, barriers, lanes ---------------------------------------------------------------


class PlateRead(TypedDict):
    v: int
    camera: str
    plate_raw: str | None
    vendor: NotRequired[str]
    confidence: NotRequired[float | None]
    colour_code: NotRequired[int | None]
    colour_name: NotRequired[str | None]
    type_code: NotRequired[int | None]
    type_name: NotRequired[str | None]
    direction: NotRequired[str | None]
    trigger: NotRequired[str | None]
    camera_plate_id: NotRequired[str | None]
    received_at: NotRequired[str | None]
    offline: NotRequired[bool]
    quality: NotRequired[dict[str, Any] | None]
    #: Base64 JPEG; None when the camera sent none.
    evidence_jpeg_b64: NotRequired[str | None]
    crop_jpeg_b64: NotRequired[str | None]
    #: Images left out to keep the event under its size limit.
    images_dropped: NotRequired[list[str]]


class PlateEvidence(TypedDict):
    v: int
    #: The ``id`` of the ``plate.read`` these images belong to.
    read: str
    camera: NotRequired[str]
    plate_raw: NotRequired[str | None]
    quality: NotRequired[dict[str, Any] | None]
    evidence_jpeg_b64: NotRequired[str | None]
    crop_jpeg_b64: NotRequired[str | None]
    images_dropped: NotRequired[list[str]]


class CameraDegraded(TypedDict):
    v: int
    reason: str
    message: str
    median: NotRequired[dict[str, float]]
    samples: NotRequired[int]
    thresholds: NotRequired[dict[str, float]]


class CameraRecovered(TypedDict):
    v: int
    previous_reason: str
    message: str
    median: NotRequired[dict[str, float]]
    samples: NotRequired[int]


class GateOpened(TypedDict):
    v: int
    gate: str
    lane: str | None
    #: plate | manual | remote | fire | pay | safety | external
    cause: str
    by: str | None
    reason: str | None
    plate: str | None
    session: str | None
    transport: str


class GateClosed(TypedDict):
    v: int
    gate: str
    lane: str | None
    #: manual | remote | auto | external
    cause: str
    by: str | None
    reason: str | None
    confirmed_by: str
    elapsed_s: float | None


class GateFault(TypedDict):
    v: int
    gate: str
    lane: str | None
    #: no_confirmation | limits_inconsistent | command_failed
    fault: str
    command: str | None
    message: str
    expected: NotRequired[dict[str, Any] | None]
    inputs: NotRequired[dict[str, Any] | None]
    inputs_seen: NotRequired[list[dict[str, bool | None]]]
    elapsed_s: NotRequired[float | None]
    detail: NotRequired[str | None]


class GateRecovered(TypedDict):
    v: int
    gate: str
    lane: str | None
    fault: str
    command: str | None
    state: str
    confirmed_by: str
    fault_s: float
    message: str
    inputs: NotRequired[dict[str, Any] | None]


class _Lane(TypedDict):
    v: int
    lane: str
    lot: str
    plate: str
    plate_read: NotRequired[str | None]
    category: NotRequired[str]
    anomalies: NotRequired[list[str]]
    offline: NotRequired[bool]


class ParkingEntry(_Lane):
    session: str
    matched: NotRequired[str | None]
    match_rule: NotRequired[str | None]
    trail: NotRequired[list[Any]]
    replaced_session: NotRequired[str | None]
    camera: NotRequired[str]


class ParkingPayment(TypedDict):
    id: str
    amount: str
    method: str
    operator: str | None
    at: str


class ParkingExit(_Lane):
    session: str | None
    entry_ts: str | None
    exit_ts: str
    minutes: int
    #: Money as decimal text (never floats).
    fee: str
    paid: str
    due: str
    paid_at: NotRequired[str | None]
    payments: NotRequired[list[ParkingPayment]]


class ParkingRefused(_Lane):
    reason: str
    due: NotRequired[str]
    matched: NotRequired[str | None]
    match_rule: NotRequired[str | None]
    trail: NotRequired[list[Any]]


class PaymentRecorded(TypedDict):
    v: int
    session: str
    lane: str
    lot: str
    plate: str
    amount: str
    method: str
    operator: str | None
    payment: str


class AccessGranted(TypedDict):
    """access.granted (and, with ``reason``, access.denied): a card at a door."""

    door: NotRequired[str]
    credential: NotRequired[str]
    message: NotRequired[str]
    v: NotRequired[int]
    #: The controller's serial number and its own event index (catch-up by index).
    controller: NotRequired[int]
    index: NotRequired[int]
    direction: NotRequired[str]
    reason_code: NotRequired[int]
    #: Readers the edge drives itself (OSDP): the reader, how the person identified
    #: (card | pin), the holder, the anti-passback area and the decision time.
    reader: NotRequired[str]
    method: NotRequired[str]
    card_format: NotRequired[str]
    holder: NotRequired[str | None]
    area: NotRequired[str | None]
    decide_ms: NotRequired[float]
    relay_ms: NotRequired[float]
    #: ``failed`` when the reader did not take the door command (the door stayed shut).
    feedback: NotRequired[str]
    #: Soft anti-passback let the holder through out of order.
    apb_violation: NotRequired[bool]
    #: A visitor pass (method ``pass``): its id; at the guard booth (``POST /access/pass``)
    #: ``operator`` is the staff member who let the visitor in (``name (role, sub)``).
    pass_id: NotRequired[int]
    operator: NotRequired[str]


class AccessDenied(AccessGranted):
    reason: NotRequired[str]


class AccessDuress(AccessGranted):
    """access.duress: a duress PIN opened the door as asked, and raises this silent alarm."""

    granted: NotRequired[bool]


class ReaderStatus(_Device):
    """reader.tamper / reader.power_fault, reader.restored (``cleared``: ``tamper`` |
    ``power_fault``), reader.offline / reader.online: an OSDP reader the edge polls."""

    reader: str
    active: NotRequired[bool]
    cleared: NotRequired[list[str]]
    reason: NotRequired[str]


class DoorForced(TypedDict):
    """door.forced / opened / closed / held_open / button: a door's own event."""

    door: str
    message: NotRequired[str]
    v: NotRequired[int]
    controller: NotRequired[int]
    index: NotRequired[int]
    reason_code: NotRequired[int]


class DoorModeChanged(TypedDict):
    """door.mode_changed: the edge set a door ``normally_open`` / ``controlled`` /
    ``normally_closed``; ``reason`` is ``schedule``, ``first_card`` or ``guard``."""

    door: str
    mode: str
    reason: str
    v: NotRequired[int]
    message: NotRequired[str]
    #: Who: ``schedule``, the first card's number, or the guard's login.
    by: NotRequired[str]
    #: When the schedule takes the door back (end of the window, next change), UTC ISO.
    until: NotRequired[str | None]


class ControllerOffline(_Device):
    controller: int
    reason: str


class ControllerOnline(_Device):
    """controller.online: the controller answers again after ``controller.offline``."""

    controller: int


# -- written by the console, never sent by an edge -------------------------------------------


class IngestQuarantined(TypedDict):
    field: str
    reason: str
    kind: str | None
    #: The event as received, JSON text cut to a bounded length.
    raw: str
    raw_truncated: bool


class IngestConflict(TypedDict):
    """Stored by the cloud (its own epoch, seq = the conflict's id) to raise the alarm."""

    epoch: str
    seq: int
    stored_id: str
    incoming_id: str
    incoming_kind: str
    incoming_device: str
    conflict_id: int
    #: It came above its epoch's acked mark, so the mark stays below it.
    holds_mark: bool


PAYLOADS: dict[str, type] = {
    Kind.METER_READING: MeterReading,
    Kind.DEVICE_ONLINE: DeviceOnline,
    Kind.DEVICE_OFFLINE: DeviceOffline,
    Kind.BUFFER_DROPPED: BufferDropped,
    Kind.PLATE_READ: PlateRead,
    Kind.PLATE_EVIDENCE: PlateEvidence,
    Kind.GATE_OPENED: GateOpened,
    Kind.GATE_CLOSED: GateClosed,
    Kind.PARKING_ENTRY: ParkingEntry,
    Kind.PARKING_EXIT: ParkingExit,
    Kind.PARKING_REFUSED: ParkingRefused,
    Kind.PAYMENT_RECORDED: PaymentRecorded,
    Kind.GATE_FAULT: GateFault,
    Kind.GATE_RECOVERED: GateRecovered,
    Kind.CAMERA_DEGRADED: CameraDegraded,
    Kind.CAMERA_RECOVERED: CameraRecovered,
    Kind.ACCESS_GRANTED: AccessGranted,
    Kind.ACCESS_DENIED: AccessDenied,
    Kind.ACCESS_DURESS: AccessDuress,
    Kind.READER_TAMPER: ReaderStatus,
    Kind.READER_POWER_FAULT: ReaderStatus,
    Kind.READER_OFFLINE: ReaderStatus,
    Kind.READER_ONLINE: ReaderStatus,
    Kind.READER_RESTORED: ReaderStatus,
    Kind.DOOR_FORCED: DoorForced,
    Kind.DOOR_OPENED: DoorForced,
    Kind.DOOR_CLOSED: DoorForced,
    Kind.DOOR_HELD_OPEN: DoorForced,
    Kind.DOOR_BUTTON: DoorForced,
    Kind.DOOR_MODE_CHANGED: DoorModeChanged,
    Kind.CONTROLLER_OFFLINE: ControllerOffline,
    Kind.CONTROLLER_ONLINE: ControllerOnline,
    Kind.FIRE_ALARM: FireCondition,
    Kind.FIRE_FAULT: FireCondition,
    Kind.FIRE_SUPERVISORY: FireCondition,
    Kind.FIRE_SHIELDED: FireCondition,
    Kind.FIRE_STARTED: FireCondition,
    Kind.FIRE_FEEDBACK: FireCondition,
    Kind.FIRE_RESTORED: FireRestored,
    Kind.FIRE_POWER_FAULT: FireCondition,
    Kind.FIRE_SYSTEM_STATUS: FireStatus,
    Kind.FIRE_ANALOG: FireAnalog,
    Kind.FIRE_OPERATION: FireOperation,
    Kind.UITD_STATUS: FireStatus,
    Kind.UITD_FAULT: FireCondition,
    Kind.UITD_POWER_FAULT: FireCondition,
    Kind.UITD_RESTORED: FireRestored,
    Kind.UITD_OPERATION: FireOperation,
    Kind.ELEVATOR_STATE: ElevatorState,
    Kind.ELEVATOR_FAULT: ElevatorFault,
    Kind.ELEVATOR_TRAPPED: ElevatorTrapped,
    Kind.ELEVATOR_RECOVERED: ElevatorRecovered,
    Kind.ELEVATOR_RECALL: ElevatorRecall,
    Kind.LINKAGE_TRIGGERED: LinkageTriggered,
    Kind.LINKAGE_ACTION: LinkageAction,
    Kind.LINKAGE_RESET: LinkageReset,
    Kind.PATROL_TAG_SEEN: PatrolTagSeen,
    Kind.PATROL_CHECKPOINT: PatrolCheckpoint,
    Kind.PATROL_ROUND_STARTED: PatrolRound,
    Kind.PATROL_ROUND_COMPLETED: PatrolRound,
    Kind.PATROL_ROUND_MISSED: PatrolRound,
    Kind.PATROL_CHECKPOINT_MISSED: PatrolCheckpointMissed,
    Kind.PATROL_TAG_CLONED: PatrolTagCloned,
    Kind.PATROL_TAG_BATTERY_LOW: PatrolTagBattery,
    Kind.INGEST_QUARANTINED: IngestQuarantined,
    Kind.INGEST_CONFLICT: IngestConflict,
}
"""Every kind's payload type."""
