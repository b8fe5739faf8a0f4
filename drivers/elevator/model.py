"""Elevators watched through a monitoring box: typed configuration, profile and state.

A monitoring box (电梯物联网监测终端) sits on the car roof or in the machine room and exposes
the GB/T 24476 data items over Modbus. Where each item lives, how it is encoded and what its
fault codes mean differ per box model, so that is a profile (``configs/elevators/*.yaml``,
loaded by ``drivers.elevator.profile``); the site YAML says which box serves which elevator
(``ElevatorConfig``). The driver only consumes these, it never parses the site file.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from contract import Kind
from drivers.modbus.model import RtuBus, TcpBus

ELEVATOR_STATE = Kind.ELEVATOR_STATE
ELEVATOR_FAULT = Kind.ELEVATOR_FAULT
ELEVATOR_TRAPPED = Kind.ELEVATOR_TRAPPED
ELEVATOR_RECOVERED = Kind.ELEVATOR_RECOVERED
ELEVATOR_RECALL = Kind.ELEVATOR_RECALL
EVENT_VERSION = 1

Severity = Literal["critical", "major", "minor", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "major", "minor", "info")
#: Severities that take the car out of normal service (mode ``fault``).
SERVICE_AFFECTING: frozenset[str] = frozenset({"critical", "major"})

#: Vendor-independent meaning of a fault code: the code itself is the vendor's, the key is
#: what the cloud, the linkage rules and the simulator understand. ``other`` is for a vendor's
#: extra codes that none of these describe (it may repeat).
FAULT_KEYS: dict[str, tuple[str, str]] = {
    "trapped_between_floors": ("非平层困人", "passengers trapped between floors"),
    "trapped_at_landing": ("平层困人", "passengers trapped at a landing"),
    "door_open_while_running": ("运行中开门", "door opened while running"),
    "stopped_outside_door_zone": ("非平层停梯", "stopped outside the door zone"),
    "overspeed": ("超速", "overspeed"),
    "overrun_top": ("冲顶", "overrun at the top"),
    "overrun_bottom": ("蹲底", "overrun at the bottom"),
    "moving_with_door_open": ("开门走车", "moving with the door open"),
    "safety_circuit_open": ("安全回路断路", "safety circuit open"),
    "door_lock_fault": ("门锁回路故障", "door lock circuit fault"),
    "door_close_fault": ("关门故障", "door close fault"),
    "door_open_fault": ("开门故障", "door open fault"),
    "alarm_button": ("轿厢报警按钮", "passenger alarm button"),
    "fire_return": ("消防返回", "fire return"),
    "emergency_power": ("应急电源运行", "on emergency power"),
    "power_failure": ("停电", "mains power failure"),
    "out_of_service": ("停止服务", "out of service"),
    "inspection": ("检修运行", "inspection operation"),
    "other": ("其他故障", "other fault"),
}
#: An undocumented bit ``n`` of the fault bitmask is reported under code ``BIT_CODE_BASE + n``
#: (outside the 16-bit range of a fault code register, so it never collides with a real code).
BIT_CODE_BASE = 0x10000

# Names of the state fields a profile maps to registers.
FieldName = Literal["direction", "door_zone", "floor", "door", "people", "inspection",
                    "maintenance", "fault_code", "fault_code_2", "fault_bits"]
REQUIRED_FIELDS: tuple[FieldName, ...] = ("direction", "door_zone", "floor", "door",
                                          "fault_code")
OPTIONAL_FIELDS: tuple[FieldName, ...] = ("people", "inspection", "maintenance",
                                          "fault_code_2", "fault_bits")


class Mode(StrEnum):
    NORMAL = "normal"
    INSPECTION = "inspection"
    MAINTENANCE = "maintenance"
    FAULT = "fault"
    OFFLINE = "offline"


class Direction(StrEnum):
    STOPPED = "stopped"
    UP = "up"
    DOWN = "down"


class Door(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    CLOSING = "closing"
    OPENING = "opening"


TrapReason = Literal["fault_code", "stopped_outside_door_zone", "doors_shut_with_people"]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """Where one data item lives: a whole register, or ``width`` bits from ``bit`` of one.

    ``values`` maps raw numbers to names for direction and door (vendors number them
    differently); ``signed`` reads the register as int16 (floor: basements are negative).
    Any other field is a flag (non-zero = true) or a plain number (fault codes).
    """

    name: str
    address: int
    bit: int | None = None
    width: int = 1
    signed: bool = False
    values: tuple[tuple[int, str], ...] = ()

    def raw(self, word: int) -> int:
        """This field's raw value out of its register's 16-bit ``word``."""
        if self.bit is None:
            return word - 0x10000 if self.signed and word >= 0x8000 else word
        return (word >> self.bit) & ((1 << self.width) - 1)

    def name_of(self, raw: int) -> str | None:
        return dict(self.values).get(raw)


@dataclass(frozen=True, slots=True)
class ControlSpec:
    """The register a recall is written to (FC 6 or 16) and the value that means recall."""

    address: int
    recall_value: int
    function_code: Literal[6, 16] = 6


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """One entry of a profile's fault table.

    ``code`` is what the box puts in its fault code register(s); ``bit`` (optional) is where
    it reports the same condition in its fault bitmask. ``trapped``: the code itself says
    passengers are trapped (非平层困人, 平层困人).
    """

    code: int
    key: str
    zh: str
    en: str
    severity: Severity
    trapped: bool = False
    bit: int | None = None


@dataclass(frozen=True, slots=True)
class ElevatorProfile:
    id: str
    name: str
    function_code: Literal[3, 4]
    fields: tuple[FieldSpec, ...]
    faults: tuple[FaultSpec, ...]
    control: ControlSpec | None = None
    max_gap: int = 10

    def field_spec(self, name: str) -> FieldSpec | None:
        for spec in self.fields:
            if spec.name == name:
                return spec
        return None

    def fault(self, code: int) -> FaultSpec:
        """The table entry for ``code``; an undocumented code still gets one (it is a fault
        the box reports, and a guard must see it)."""
        for spec in self.faults:
            if spec.code == code:
                return spec
        if code >= BIT_CODE_BASE:
            n = code - BIT_CODE_BASE
            return FaultSpec(code=code, key="other", zh=f"未定义的故障位 {n}",
                             en=f"undocumented fault bit {n}", severity="major")
        return FaultSpec(code=code, key="other", zh=f"未知故障码 {code}",
                         en=f"unknown fault code {code}", severity="major")

    def code_for_bit(self, bit: int) -> int:
        for spec in self.faults:
            if spec.bit == bit:
                return spec.code
        return BIT_CODE_BASE + bit


@dataclass(frozen=True, slots=True)
class ElevatorConfig:
    id: str
    profile: str            # profile id (file stem in configs/elevators/)
    bus: TcpBus | RtuBus    # from drivers.modbus.model
    address: int            # Modbus unit id
    building: str
    name: str | None = None
    poll_interval: float = 1.0
    #: seconds: stopped outside the door zone, or doors shut with people inside
    trapped_after: float = 30.0
    main_landing: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.address <= 247:
            raise ValueError(f"elevator {self.id}: Modbus unit id must be within 0..247")
        if self.poll_interval <= 0:
            raise ValueError(f"elevator {self.id}: poll_interval must be > 0")
        if self.trapped_after <= 0:
            raise ValueError(f"elevator {self.id}: trapped_after must be > 0")


@dataclass(frozen=True, slots=True)
class Reading:
    """One decoded poll of the box: what it says right now."""

    direction: Direction
    in_door_zone: bool
    floor: int
    door: Door
    people: bool | None
    inspection: bool
    maintenance: bool
    fault_codes: frozenset[int]


@dataclass(frozen=True, slots=True)
class ElevatorState:
    """What the edge knows of an elevator. Fields are None before the first reading; while
    offline they keep the last known values (mode says they are stale)."""

    mode: Mode = Mode.OFFLINE
    direction: Direction | None = None
    floor: int | None = None
    door: Door | None = None
    in_door_zone: bool | None = None
    people: bool | None = None
    inspection: bool = False
    maintenance: bool = False
    fault_codes: tuple[int, ...] = ()
    trapped: bool = False

    def as_dict(self) -> dict[str, object]:
        """JSON-ready (status pages, ``elevator.state`` data)."""
        return {"mode": self.mode.value,
                "direction": self.direction.value if self.direction else None,
                "floor": self.floor, "door": self.door.value if self.door else None,
                "in_door_zone": self.in_door_zone, "people": self.people,
                "inspection": self.inspection, "maintenance": self.maintenance,
                "faults": list(self.fault_codes), "trapped": self.trapped}

    def telemetry_key(self) -> tuple[object, ...]:
        """What a change of triggers ``elevator.state``."""
        return (self.mode, self.direction, self.floor, self.door)


RecallOutcome = Literal["ok", "refused", "failed"]


@dataclass(frozen=True, slots=True)
class RecallResult:
    """What became of a recall: ``outcome`` ok / refused (not attempted) / failed (the write
    did not go through); ``code`` is the machine-readable why, ``message`` the zh/en one."""

    outcome: RecallOutcome
    code: str
    message: str
    by: str
    reason: str
    target_floor: int
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def floor_label(floor: int | None) -> str:
    """How a floor is written in China: basements as B1, B2…; unknown as ?."""
    if floor is None:
        return "?"
    return f"B{-floor}" if floor < 0 else str(floor)
