"""OSDP readers in the site file's ``access`` section (``access.readers``).

```yaml
access:
  readers:
    - {id: r-1-in, line: /dev/ttyUSB0, address: 1, door: 1-lobby, building: "1",
       area: b1, direction: in, egress: true}
```

``key_file`` defaults to ``<data_dir>/osdp-keys/<id>.scbk``; a relative path is taken from
the edge's data folder. The checks across entries (unique ids, one address per line, area
with direction, a door not also a controller's door) point at FILE:LINE:COL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge.access.reader_config import ReaderEntry, ReadersConfig
from edge.config.schedule_schema import SCHEDULE_FIELDS, without_schedule
from edge.config.schema import (
    Bool,
    Ctx,
    Field,
    Float,
    Int,
    OneOf,
    Record,
    RecordValue,
    Str,
)
from yamlcheck.problems import bi

KEYS_DIR = "osdp-keys"
_ID = Str(zh="标识（字母、数字、_ . -）", en="an id (letters, digits, _ . -)",
          pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

READER = Record(fields={
    "id": Field(_ID, example="id: r-1-in"),
    "line": Field(Str(zh="串口设备路径，如 /dev/ttyUSB0", en="a serial device, e.g. /dev/ttyUSB0",
                      pattern=r"/\S+"), example="line: /dev/ttyUSB0"),
    "address": Field(Int(lo=0, hi=126), example="address: 1"),
    "door": Field(_ID, example="door: 1-lobby"),
    "key_file": Field(Str(), required=False),
    "building": Field(Str(zh="楼栋编号（文本，如 \"1\"）", en='a building id (text, e.g. "1")'),
                      required=False),
    "area": Field(_ID, required=False),
    "direction": Field(OneOf(choices=("in", "out")), required=False),
    "anti_passback": Field(OneOf(choices=("hard", "soft", "off")), required=False),
    "egress": Field(Bool(), required=False),
    "install": Field(Bool(), required=False),
    "output": Field(Int(lo=0, hi=255), required=False),
    "relay_pulse_s": Field(Float(gt=0), required=False),
    "name": Field(Str(), required=False),
    **SCHEDULE_FIELDS,  # the door's schedule, on one of its readers (schedule_schema.py)
})


def check_readers(ctx: Ctx, access: RecordValue, readers: list[RecordValue]) -> None:
    """Unique ids, one address per line, area and direction together, own doors."""
    controller_doors = {d.get("id") for d in access.get("doors", [])
                        if isinstance(d, RecordValue)}
    ids: set[Any] = set()
    places: set[tuple[Any, Any]] = set()
    for r in readers:
        if r.get("id") in ids:
            ctx.add(r.pos("id"), bi(f"读卡器 id {r['id']} 重复", f"reader id {r['id']} repeats"),
                    bi("改为唯一的 id", "make it unique"))
        ids.add(r.get("id"))
        place = (r.get("line"), r.get("address"))
        if None not in place and place in places:
            ctx.add(r.pos("address"),
                    bi(f"线路 {place[0]} 上地址 {place[1]} 已被占用",
                       f"address {place[1]} is already used on line {place[0]}"),
                    bi("同一线路上每个读卡器用不同地址",
                       "give each reader on a line its own address"))
        places.add(place)
        if ("area" in r) != ("direction" in r):
            have, missing = ("area", "direction") if "area" in r else ("direction", "area")
            ctx.add(r.pos(have), bi(f"有 {have} 却缺少 {missing}（反潜回需要两者）",
                                    f"{have} without {missing} (anti-passback needs both)"),
                    bi(f"添加 {missing}，或删除 {have}", f"add {missing}, or remove {have}"))
        if r.get("door") in controller_doors:
            ctx.add(r.pos("door"),
                    bi(f"门 {r['door']} 已属于门禁控制器", f"door {r['door']} already belongs "
                       "to a door controller"),
                    bi("读卡器的门用另一个 id", "give the reader's door its own id"))
        pulse = r.get("relay_pulse_s")
        if isinstance(pulse, float | int) and not 0.1 <= pulse <= 25.5:
            ctx.add(r.pos("relay_pulse_s"),
                    bi("开门脉冲须在 0.1–25.5 秒之间", "relay_pulse_s must be 0.1–25.5 s"),
                    bi("例如 relay_pulse_s: 3", "e.g. relay_pulse_s: 3"))


def build_readers(raw: RecordValue | None, data_dir: Path) -> ReadersConfig | None:
    if raw is None or not raw.get("readers"):
        return None
    out = []
    for r in raw["readers"]:
        fields = without_schedule(r)
        key = Path(str(fields.pop("key_file", "")) or Path(KEYS_DIR) / f"{r['id']}.scbk")
        out.append(ReaderEntry(key_file=key if key.is_absolute() else data_dir / key,
                               **fields))
    return ReadersConfig(tuple(out))
