"""The ``data`` of the life-safety kinds: fire (GB/T 26875.3 through a UITD), elevators and the
edge's fire linkage. Part of ``contract.payloads`` (which re-exports them and maps each kind to
its type); kept apart so each module stays readable.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

# -- fire (GB/T 26875.3 through a UITD) ------------------------------------------------------


class _Fire(TypedDict):
    v: int
    uitd: str
    serial: int
    #: component | system | uitd
    scope: str
    #: The device's own time tag (site time), None when it sent none.
    event_time: str | None
    location: NotRequired[dict[str, Any] | None]
    location_text: NotRequired[str]
    message: NotRequired[str]
    system_type: NotRequired[int]
    system_type_name: NotRequired[dict[str, str]]
    system_address: NotRequired[int]
    component_type: NotRequired[int]
    component_type_name: NotRequired[dict[str, str]]
    zone: NotRequired[int]
    position: NotRequired[int]
    component_address: NotRequired[int]
    status: NotRequired[int]
    states: NotRequired[list[str]]
    test_mode: NotRequired[bool]
    description: NotRequired[str | None]
    description_errors: NotRequired[int]


class FireCondition(_Fire):
    """fire.alarm / fault / supervisory / shielded / started / feedback / power_fault and the
    UITD's uitd.fault / uitd.power_fault: one raised condition."""

    condition: str
    condition_name: dict[str, str]
    repeat: bool
    cleared: list[str]


class FireRestored(_Fire):
    """fire.restored / uitd.restored: the conditions now gone (None: not known, e.g. after an
    edge restart; every alarm of that source may close)."""

    cleared: list[str] | None


class FireStatus(_Fire):
    """fire.system_status / uitd.status: the whole status word, alarms or not."""


class FireAnalog(_Fire):
    analog_type: int
    analog_type_name: dict[str, str]
    raw: int
    #: Decimal text.
    value: str
    unit: str


class FireOperation(_Fire):
    """fire.operation / uitd.operation: a panel or UITD operation (reset, silence…)."""

    flags: int
    operations: list[str]
    operation_names: list[dict[str, str]]
    operator: int
    reset: bool


# -- elevators -------------------------------------------------------------------------------


class _Elevator(TypedDict):
    v: int
    building: str
    name: str
    floor: int | None
    message: NotRequired[str]


class ElevatorState(_Elevator):
    mode: NotRequired[str]
    direction: NotRequired[str]
    door: NotRequired[str]
    people: NotRequired[bool | None]
    in_door_zone: NotRequired[bool | None]


class ElevatorFault(_Elevator):
    code: int | str
    key: str
    name_zh: str
    name_en: str
    severity: str
    trapped: NotRequired[bool]
    profile: NotRequired[str]


class ElevatorTrapped(_Elevator):
    reason: str
    code: int | str | None
    since: str
    in_door_zone: NotRequired[bool | None]
    people: NotRequired[bool | None]
    door: NotRequired[str]


class ElevatorRecovered(_Elevator):
    #: fault | trapped
    cleared: str
    code: int | str | None
    since: str
    duration_s: float
    reason: NotRequired[str]
    key: NotRequired[str]
    name_zh: NotRequired[str]
    name_en: NotRequired[str]
    severity: NotRequired[str]


class ElevatorRecall(_Elevator):
    by: str | None
    reason: str | None
    result: str
    code: NotRequired[str | None]
    detail: NotRequired[str | None]
    target_floor: NotRequired[int | None]


# -- fire linkage at the edge ----------------------------------------------------------------


class LinkageTriggered(TypedDict):
    v: int
    incident: str | None
    rule: str
    cause_event: str
    building: str | None
    actions: list[dict[str, Any]]
    message: str
    rules: NotRequired[list[str]]
    cause_kind: NotRequired[str]
    cause_device: NotRequired[str]
    cause_ts: NotRequired[str]
    location: NotRequired[dict[str, Any] | None]
    test_mode: NotRequired[bool]
    joined: NotRequired[bool]
    alarm: NotRequired[bool]
    reassert: NotRequired[bool]


class LinkageAction(TypedDict):
    v: int
    incident: str
    rule: str
    cause_event: str
    action: str
    target: str | None
    building: str | None
    result: str
    detail: NotRequired[str | None]
    cause_kind: NotRequired[str]
    attempts: NotRequired[int]
    ms: NotRequired[float | None]
    reassert: NotRequired[bool]


class LinkageReset(TypedDict):
    v: int
    incident: str
    by: str
    reason: str | None
    message: str
    started: NotRequired[str]
    buildings: NotRequired[list[str]]
    results: NotRequired[list[dict[str, Any]]]
