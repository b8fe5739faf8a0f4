"""Controller event records → the contract's access.* / door.* events.

A record is (type, reason): type 1 is a card swipe (granted or denied, the reason says why),
types 2 and 3 are door and alarm records whose reason says what happened. Reason codes are the
vendor's (docs/protocols.md); codes with no event kind of ours (power on, reset…) are counted
and logged by the driver, never sent.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from contract import Kind, NewEvent
from drivers.access.uhppote_model import EVENT_VERSION, DoorSpec

TYPE_SWIPE = 0x01
TYPE_NONE = 0x00
TYPE_OVERWRITTEN = 0xFF
REMOTE_OPEN = 0x2C

#: Denial reasons: code → (key, zh, en).
DENIALS: dict[int, tuple[str, str, str]] = {
    0x05: ("pc_control", "由上位机控制", "PC control"),
    0x06: ("no_privilege", "无权限或不在有效期", "no privilege or outside its dates"),
    0x07: ("wrong_pin", "密码错误", "wrong PIN"),
    0x08: ("anti_passback", "反潜回", "anti-passback"),
    0x09: ("more_cards", "需多卡开门", "more cards needed"),
    0x0A: ("first_card", "首卡未开门", "first card not yet presented"),
    0x0B: ("normally_closed", "门处于常闭", "door set normally closed"),
    0x0C: ("interlock", "互锁", "interlock"),
    0x0D: ("limited_times", "次数已用完", "limited uses spent"),
    0x0F: ("time_profile", "不在允许时段", "outside its time profile"),
    0x12: ("denied", "卡未登记", "card not enrolled"),
}

#: Door and alarm reasons: code → (kind, zh, en).
DOOR_REASONS: dict[int, tuple[str, str, str]] = {
    0x14: (Kind.DOOR_BUTTON, "出门按钮开门", "exit button"),
    0x17: (Kind.DOOR_OPENED, "门已打开", "door opened"),
    0x18: (Kind.DOOR_CLOSED, "门已关闭", "door closed"),
    0x25: (Kind.DOOR_HELD_OPEN, "门开启超时", "door held open"),
    0x26: (Kind.DOOR_FORCED, "门被强行打开", "door forced open"),
    REMOTE_OPEN: (Kind.ACCESS_GRANTED, "远程开门", "remote open"),
}

_NS = uuid.UUID("6f2b8a1e-5d0c-4c3e-9a57-0e1f6b1c2d3e")


@dataclass(frozen=True, slots=True)
class Record:
    """One controller event, from a push or from get-event (uhppoted's field names vary)."""

    serial: int
    index: int
    type: int
    granted: bool
    door: int
    direction: int
    card: int
    timestamp: dt.datetime | None
    reason: int


def to_event(rec: Record, door: DoorSpec | None, device: str, tz: dt.tzinfo,
             received: dt.datetime) -> NewEvent | None:
    """The contract event for a record, or None when no kind of ours fits it.

    The id is derived from (serial, index, timestamp): the same record read twice (pushed and
    then caught up, or re-read after a crash) is the same event to the outbox and the cloud.
    """
    ts = rec.timestamp.replace(tzinfo=tz).astimezone(dt.UTC) if rec.timestamp else received
    base = {"v": EVENT_VERSION, "controller": rec.serial, "index": rec.index,
            "door": door.id if door is not None else f"{rec.serial}-{rec.door}",
            "reason_code": rec.reason}
    if door is not None and door.building is not None:
        base["building"] = door.building
    if rec.type == TYPE_SWIPE:
        base["credential"] = str(rec.card)
        base["direction"] = "in" if rec.direction == 1 else "out"
        if rec.granted:
            kind = Kind.ACCESS_GRANTED
            base["message"] = f"刷卡开门 {rec.card} / card {rec.card} granted"
        else:
            key, zh, en = DENIALS.get(rec.reason, ("denied", "拒绝", "denied"))
            kind = Kind.ACCESS_DENIED
            base["reason"] = key
            base["message"] = f"刷卡被拒（{zh}）{rec.card} / card {rec.card} denied: {en}"
    elif rec.reason in DOOR_REASONS:
        kind, zh, en = DOOR_REASONS[rec.reason]
        base["message"] = f"{zh} / {en}"
        if rec.reason == REMOTE_OPEN:
            base["credential"] = "remote"
    else:
        return None
    ident = f"uhppote:{rec.serial}:{rec.index}:{rec.timestamp.isoformat() if rec.timestamp else ''}"
    return NewEvent(device=device, kind=kind, ts=ts, data=base,
                    id=str(uuid.uuid5(_NS, ident)))
