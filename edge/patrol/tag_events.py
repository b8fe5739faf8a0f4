"""The events presence raises by itself (no round involved): a tag heard (sampled), a cloned
tag, a low battery. Payloads per ``contract.patrol``, messages zh then en.

``device`` is the receiver for ``patrol.tag_seen`` (what that receiver heard) and the tag key
for ``patrol.tag_cloned`` / ``patrol.tag_battery_low``: the console folds alarms by device and
kind, so two cloned tags are two alarms and a battery work order names the tag to replace.
"""

from __future__ import annotations

from contract import Kind, NewEvent
from contract.patrol import PatrolTagBattery, PatrolTagCloned, PatrolTagSeen
from edge.patrol.presence import BatteryLow, Cloned, Seen


def _who(guard: str | None) -> tuple[str, str]:
    return (f"保安 {guard} 的巡更标签", f"guard {guard}'s tag") if guard else (
        "未发放的巡更标签", "an unissued tag")


def tag_seen(out: Seen, guard: str | None) -> NewEvent:
    data: PatrolTagSeen = {"tag": out.tag, "receiver": out.receiver, "rssi": out.rssi,
                           "guard": guard, "battery_mv": out.battery_mv}
    return NewEvent(device=out.receiver, kind=Kind.PATROL_TAG_SEEN, data=dict(data), ts=out.at)


def tag_cloned(out: Cloned, guard: str | None) -> NewEvent:
    zh, en = _who(guard)
    data: PatrolTagCloned = {
        "tag": out.tag, "guard": guard, "first": out.first, "second": out.second,
        "distance_m": round(out.distance_m, 1), "elapsed_s": round(out.elapsed_s, 1),
        "message": (f"疑似克隆标签：{zh}在 {out.elapsed_s:.0f} 秒内先后出现在相距 "
                    f"{out.distance_m:.0f} 米的 {out.first} 和 {out.second} / possible cloned "
                    f"tag: {en} was heard at {out.first} and {out.second}, "
                    f"{out.distance_m:.0f} m apart, within {out.elapsed_s:.0f} s")}
    return NewEvent(device=out.tag, kind=Kind.PATROL_TAG_CLONED, data=dict(data), ts=out.at)


def tag_battery_low(out: BatteryLow, guard: str | None) -> NewEvent:
    zh, en = _who(guard)
    data: PatrolTagBattery = {
        "tag": out.tag, "battery_mv": out.battery_mv, "threshold_mv": out.threshold_mv,
        "guard": guard,
        "message": (f"{zh}电量低（{out.battery_mv} mV，低于 {out.threshold_mv} mV），请更换电池 / "
                    f"{en} battery is low ({out.battery_mv} mV, below {out.threshold_mv} mV): "
                    "replace the battery")}
    return NewEvent(device=out.tag, kind=Kind.PATROL_TAG_BATTERY_LOW, data=dict(data),
                    ts=out.at)
