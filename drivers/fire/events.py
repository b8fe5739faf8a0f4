"""From decoded GB/T 26875.3 objects to the events guards and linkage act on.

Choices (the standard leaves them to the receiver):

* **One event per raised condition.** A component reporting fire and fault at once gives a
  ``fire.alarm`` and a ``fire.fault``. A condition that is already active and is reported
  again is emitted again, marked ``"repeat": true``: real panels re-send alarms until
  someone acts, the cloud folds repeats into one alarm, and a repeat after an edge restart
  (when the memory is empty) must not be lost.
* **Restores.** When a component (or system) reports that conditions it had are gone, one
  ``fire.restored`` names them in ``cleared``; a UITD's cleared conditions give
  ``uitd.restored``. A component reporting no condition at all while we hold no memory of
  it (edge restarted, or a reply to a status request) also gives ``fire.restored`` with
  ``"cleared": null``, so an alarm opened before the restart can still be closed.
* **Test mode.** Bit 0 clear means "test", yet real devices send genuine fires that way
  (vector 1): nothing is dropped, ``test_mode`` is recorded beside it.
* **Resets.** A reset operation (type 4 bit 0) or a system status with the reset bit forgets
  the active conditions of that system's components (all of this UITD's when the system type
  is 0, "general"): after a reset the panel reports again whatever is still active.
* **Time.** ``ts`` is the object's own time tag (site time zone) in UTC, or the receipt time
  when it has none, is no valid time, or lies more than a day in the future (a device clock
  that is wrong: ``event_time`` still shows what it said).
* **UITD fire bit.** A UITD reporting "fire" (type 21 bit 1) gives a ``fire.alarm`` with
  ``scope: "uitd"``: the component-level frame normally comes too, but a fire is never
  dropped because it arrived only one way.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from contract import Kind, NewEvent, Priority
from drivers.base import DriverStats
from drivers.fire.appdata import (
    AnalogValue,
    AppData,
    ComponentStatus,
    InfoObject,
    Operation,
    SystemStatus,
    UitdOperation,
    UitdStatus,
)
from drivers.fire.codec import TimeTag
from drivers.fire.model import UitdConfig, ZoneLocation
from drivers.fire.names import (
    OPERATIONS,
    UITD_OPERATIONS,
    Flag,
    Name,
    analog_type,
    component_type_name,
    state_name,
    system_type_name,
)

EVENT_VERSION = 1
MAX_FUTURE_SKEW = timedelta(days=1)

KIND_ALARM = Kind.FIRE_ALARM
KIND_FAULT = Kind.FIRE_FAULT
KIND_SHIELDED = Kind.FIRE_SHIELDED
KIND_SUPERVISORY = Kind.FIRE_SUPERVISORY
KIND_STARTED = Kind.FIRE_STARTED
KIND_FEEDBACK = Kind.FIRE_FEEDBACK
KIND_POWER_FAULT = Kind.FIRE_POWER_FAULT
KIND_RESTORED = Kind.FIRE_RESTORED
KIND_SYSTEM_STATUS = Kind.FIRE_SYSTEM_STATUS
KIND_ANALOG = Kind.FIRE_ANALOG
KIND_OPERATION = Kind.FIRE_OPERATION
KIND_UITD_STATUS = Kind.UITD_STATUS
KIND_UITD_FAULT = Kind.UITD_FAULT
KIND_UITD_POWER_FAULT = Kind.UITD_POWER_FAULT
KIND_UITD_RESTORED = Kind.UITD_RESTORED
KIND_UITD_OPERATION = Kind.UITD_OPERATION

#: Condition → event kind, per scope. States not listed (delay, manual, config changed,
#: reset) are reported in ``states`` only.
COMPONENT_KINDS: dict[str, str] = {
    "fire": KIND_ALARM,
    "fault": KIND_FAULT,
    "shielded": KIND_SHIELDED,
    "supervisory": KIND_SUPERVISORY,
    "started": KIND_STARTED,
    "feedback": KIND_FEEDBACK,
    "power_fault": KIND_POWER_FAULT,
}
SYSTEM_KINDS: dict[str, str] = {
    **{k: v for k, v in COMPONENT_KINDS.items() if k != "power_fault"},
    "bus_fault": KIND_FAULT,
    "main_power_fault": KIND_POWER_FAULT,
    "backup_power_fault": KIND_POWER_FAULT,
}
UITD_KINDS: dict[str, str] = {
    "fire": KIND_ALARM,
    "fault": KIND_UITD_FAULT,
    "centre_link_fault": KIND_UITD_FAULT,
    "line_fault": KIND_UITD_FAULT,
    "main_power_fault": KIND_UITD_POWER_FAULT,
    "backup_power_fault": KIND_UITD_POWER_FAULT,
}

_Key = tuple[Any, ...]


def _join(*parts: str | None) -> str:
    return " ".join(p for p in parts if p)


def _flag_names(keys: Iterable[str], table: dict[int, Flag]) -> list[dict[str, str]]:
    by_key = {f.key: f.name for f in table.values()}
    return [(by_key.get(k) or Name(k, k)).as_dict() for k in keys]


class EventMapper:
    """Turns one UITD's decoded objects into ``NewEvent``s; remembers active conditions.

    Only the UITD's connection task calls it, so no locking.
    """

    def __init__(self, uitd: UitdConfig, tz: tzinfo, stats: DriverStats | None = None) -> None:
        self.uitd = uitd
        self.tz = tz
        self.stats = stats
        self._active: dict[_Key, frozenset[str]] = {}

    # -- entry points ---------------------------------------------------------------------

    def events(self, app: AppData, serial: int, received: datetime) -> list[NewEvent]:
        out: list[NewEvent] = []
        for obj in app.objects:
            out.extend(self.object_events(obj, serial, received))
        return out

    def object_events(self, obj: InfoObject, serial: int, received: datetime) -> list[NewEvent]:
        if isinstance(obj, ComponentStatus):
            return self._component(obj, serial, received)
        if isinstance(obj, SystemStatus):
            return self._system(obj, serial, received)
        if isinstance(obj, AnalogValue):
            return self._analog(obj, serial, received)
        if isinstance(obj, Operation):
            return self._operation(obj, serial, received)
        if isinstance(obj, UitdStatus):
            return self._uitd_status(obj, serial, received)
        return self._uitd_operation(obj, serial, received)

    def active(self) -> dict[str, list[str]]:
        """Active conditions by object, for ``status()``."""
        return {":".join(str(p) for p in key): sorted(conds)
                for key, conds in self._active.items() if conds}

    # -- helpers --------------------------------------------------------------------------

    def _times(self, tag: TimeTag | None, received: datetime) -> tuple[datetime, str | None]:
        local = tag.to_datetime(self.tz) if tag is not None else None
        if local is None:
            return received, None
        ts = local.astimezone(UTC)
        if ts - received > MAX_FUTURE_SKEW:
            if self.stats is not None:
                self.stats.inc("device_time_ignored")
            return received, local.isoformat()
        return ts, local.isoformat()

    def _location(self, system_type: int | None, system_address: int | None,
                  zone: int | None) -> tuple[dict[str, Any] | None, str]:
        loc: ZoneLocation | None = self.uitd.locate(system_type, system_address, zone)
        return (loc.as_dict(), loc.text) if loc is not None else (None, "")

    def _base(self, serial: int, scope: str, event_time: str | None) -> dict[str, Any]:
        return {"v": EVENT_VERSION, "uitd": self.uitd.id, "serial": serial, "scope": scope,
                "event_time": event_time}

    def _event(self, kind: str, data: dict[str, Any], ts: datetime,
               priority: Priority | None = None) -> NewEvent:
        return NewEvent(device=self.uitd.id, kind=kind, data=data, ts=ts, priority=priority)

    def _transition(self, key: _Key, conditions: list[str], kinds: dict[str, str]
                    ) -> tuple[list[tuple[str, bool]], list[str] | None, bool]:
        """(raised conditions with their repeat flag, cleared conditions or None when
        unknown, whether a restore is due) and remember the new state."""
        now = frozenset(c for c in conditions if c in kinds)
        before = self._active.get(key)
        self._active[key] = now
        raised = [(c, before is not None and c in before) for c in conditions if c in kinds]
        if before is None:
            return raised, None, not now
        cleared = sorted(before - now)
        return raised, cleared, bool(cleared)

    def _forget_system(self, system_type: int, system_address: int) -> None:
        for key in list(self._active):
            if key[0] == "uitd":
                continue
            if system_type == 0 or (key[1], key[2]) == (system_type, system_address):
                del self._active[key]

    # -- per type -------------------------------------------------------------------------

    def _component(self, obj: ComponentStatus, serial: int,
                   received: datetime) -> list[NewEvent]:
        ts, event_time = self._times(obj.time, received)
        location, location_text = self._location(obj.system_type, obj.system_address, obj.zone)
        comp_name = component_type_name(obj.component_type)
        states = obj.states
        data = {
            **self._base(serial, "component", event_time),
            "system_type": obj.system_type,
            "system_type_name": system_type_name(obj.system_type).as_dict(),
            "system_address": obj.system_address,
            "component_type": obj.component_type,
            "component_type_name": comp_name.as_dict(),
            "zone": obj.zone,
            "position": obj.position,
            "component_address": obj.component_address,
            "status": obj.status,
            "states": states,
            "test_mode": obj.test_mode,
            "description": obj.description,
            "description_errors": obj.description_errors,
            "location": location,
            "location_text": location_text,
        }
        where_zh = _join(location_text, obj.description,
                         f"{obj.zone}区{obj.position}号", comp_name.zh)
        where_en = _join(location_text, obj.description,
                         f"zone {obj.zone} point {obj.position}", comp_name.en)
        key = ("c", obj.system_type, obj.system_address, obj.component_address)
        return self._condition_events(key, states, COMPONENT_KINDS, KIND_RESTORED, data, ts,
                                      where_zh, where_en, obj.test_mode)

    def _system(self, obj: SystemStatus, serial: int, received: datetime) -> list[NewEvent]:
        ts, event_time = self._times(obj.time, received)
        location, location_text = self._location(obj.system_type, obj.system_address, None)
        sys_name = system_type_name(obj.system_type)
        states = obj.states
        data = {
            **self._base(serial, "system", event_time),
            "system_type": obj.system_type,
            "system_type_name": sys_name.as_dict(),
            "system_address": obj.system_address,
            "status": obj.status,
            "states": states,
            "test_mode": obj.test_mode,
            "location": location,
            "location_text": location_text,
        }
        where_zh = _join(location_text, f"{obj.system_address}号{sys_name.zh}")
        where_en = _join(location_text, f"{sys_name.en} {obj.system_address}")
        if "reset" in states:
            self._forget_system(obj.system_type, obj.system_address)
        state_text = "、".join(state_name(s).zh for s in states) or "正常"
        state_en = ", ".join(state_name(s).en for s in states) or "normal"
        status = self._event(KIND_SYSTEM_STATUS, {
            **data, "message": f"系统状态：{where_zh} {state_text} / "
                               f"System status: {where_en}: {state_en}"}, ts)
        key = ("s", obj.system_type, obj.system_address)
        return [status, *self._condition_events(key, states, SYSTEM_KINDS, KIND_RESTORED, data,
                                                ts, where_zh, where_en, obj.test_mode)]

    def _condition_events(self, key: _Key, states: list[str], kinds: dict[str, str],
                          restored_kind: str, data: dict[str, Any], ts: datetime,
                          where_zh: str, where_en: str, test_mode: bool) -> list[NewEvent]:
        raised, cleared, restore = self._transition(key, states, kinds)
        mode_zh = "（测试状态）" if test_mode else ""
        mode_en = " (test mode)" if test_mode else ""
        out: list[NewEvent] = []
        if restore:
            names = [state_name(c) for c in cleared or ()]
            what_zh = "、".join(n.zh for n in names) or "状态"
            what_en = ", ".join(n.en for n in names) or "state"
            out.append(self._event(restored_kind, {
                **data, "cleared": cleared,
                "message": f"{what_zh}恢复：{where_zh}{mode_zh} / "
                           f"{what_en} restored: {where_en}{mode_en}"}, ts))
        for condition, repeat in raised:
            name = state_name(condition)
            out.append(self._event(kinds[condition], {
                **data, "condition": condition, "condition_name": name.as_dict(),
                "repeat": repeat, "cleared": cleared or [],
                "message": f"{name.zh}：{where_zh}{mode_zh} / "
                           f"{name.en[:1].upper()}{name.en[1:]}: {where_en}{mode_en}"}, ts))
        return out

    def _analog(self, obj: AnalogValue, serial: int, received: datetime) -> list[NewEvent]:
        ts, event_time = self._times(obj.time, received)
        location, location_text = self._location(obj.system_type, obj.system_address, obj.zone)
        kind = analog_type(obj.analog_type)
        comp_name = component_type_name(obj.component_type)
        data = {
            **self._base(serial, "component", event_time),
            "system_type": obj.system_type,
            "system_type_name": system_type_name(obj.system_type).as_dict(),
            "system_address": obj.system_address,
            "component_type": obj.component_type,
            "component_type_name": comp_name.as_dict(),
            "zone": obj.zone,
            "position": obj.position,
            "component_address": obj.component_address,
            "analog_type": obj.analog_type,
            "analog_type_name": kind.name.as_dict(),
            "raw": obj.raw,
            "value": str(obj.value),
            "unit": kind.unit,
            "location": location,
            "location_text": location_text,
        }
        where = _join(location_text, f"{obj.zone}区{obj.position}号")
        data["message"] = (f"{kind.name.zh}：{where} {obj.value}{kind.unit} / "
                           f"{kind.name.en}: {obj.value} {kind.unit}").rstrip()
        return [self._event(KIND_ANALOG, data, ts, Priority.TELEMETRY)]

    def _operation(self, obj: Operation, serial: int, received: datetime) -> list[NewEvent]:
        ts, event_time = self._times(obj.time, received)
        location, location_text = self._location(obj.system_type, obj.system_address, None)
        ops = obj.operations
        if "reset" in ops:
            self._forget_system(obj.system_type, obj.system_address)
        names = _flag_names(ops, OPERATIONS)
        data = {
            **self._base(serial, "system", event_time),
            "system_type": obj.system_type,
            "system_type_name": system_type_name(obj.system_type).as_dict(),
            "system_address": obj.system_address,
            "flags": obj.flags,
            "operations": ops,
            "operation_names": names,
            "operator": obj.operator,
            "reset": "reset" in ops,
            "location": location,
            "location_text": location_text,
            "message": (f"消防设施操作：{'、'.join(n['zh'] for n in names) or '无'}"
                        f"（操作员{obj.operator}）{location_text} / Facility operation: "
                        f"{', '.join(n['en'] for n in names) or 'none'} "
                        f"(operator {obj.operator})"),
        }
        return [self._event(KIND_OPERATION, data, ts)]

    def _uitd_status(self, obj: UitdStatus, serial: int, received: datetime) -> list[NewEvent]:
        ts, event_time = self._times(obj.time, received)
        location, location_text = self._location(None, None, None)
        states = obj.states
        data = {
            **self._base(serial, "uitd", event_time),
            "status": obj.status,
            "states": states,
            "test_mode": obj.test_mode,
            "location": location,
            "location_text": location_text,
        }
        state_zh = "、".join(state_name(s).zh for s in states) or "正常"
        state_en = ", ".join(state_name(s).en for s in states) or "normal"
        status = self._event(KIND_UITD_STATUS, {
            **data, "message": f"传输装置状态：{state_zh} / UITD status: {state_en}"}, ts)
        where_zh = _join(location_text, "用户信息传输装置")
        where_en = _join(location_text, "UITD")
        return [status, *self._condition_events(("uitd",), states, UITD_KINDS,
                                                KIND_UITD_RESTORED, data, ts, where_zh,
                                                where_en, obj.test_mode)]

    def _uitd_operation(self, obj: UitdOperation, serial: int,
                        received: datetime) -> list[NewEvent]:
        ts, event_time = self._times(obj.time, received)
        location, location_text = self._location(None, None, None)
        ops = obj.operations
        if "reset" in ops:
            self._active.pop(("uitd",), None)
        names = _flag_names(ops, UITD_OPERATIONS)
        data = {
            **self._base(serial, "uitd", event_time),
            "flags": obj.flags,
            "operations": ops,
            "operation_names": names,
            "operator": obj.operator,
            "reset": "reset" in ops,
            "location": location,
            "location_text": location_text,
            "message": (f"传输装置操作：{'、'.join(n['zh'] for n in names) or '无'}"
                        f"（操作员{obj.operator}） / UITD operation: "
                        f"{', '.join(n['en'] for n in names) or 'none'} "
                        f"(operator {obj.operator})"),
        }
        return [self._event(KIND_UITD_OPERATION, data, ts)]
