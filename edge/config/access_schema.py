"""The site file's ``access`` section: door controllers (微耕/UHPPOTE) and their doors.

```yaml
access:
  listen: 0.0.0.0:60001          # where controllers push events (default)
  announce: 192.168.1.10:60001   # the address told to them when listen is a wildcard
  controllers:
    - {id: c1, serial: 405419896, address: 192.168.1.100:60000, doors: 4}
  doors:
    - {id: 1-east, controller: c1, door: 1, building: "1", egress: true}
```

Declared beside the other sections' schemas so ``site_schema`` only names it; the checks
that span entries (unique ids and serials, a door on a declared controller within its door
count, one entry per controller door) are ``check_access``; ``build_access`` makes the model.
"""

from __future__ import annotations

from typing import Any

from drivers.access.uhppote_model import AccessConfig, ControllerSpec, DoorSpec
from edge.config.reader_schema import READER, check_readers
from edge.config.schedule_schema import (
    SCHEDULE_FIELDS,
    TIME_PROFILES,
    check_schedules,
    without_schedule,
)
from edge.config.schema import Bool, Ctx, Field, Float, Int, ListOf, Record, RecordValue, Str
from yamlcheck.problems import bi

_ID = Str(zh="标识（字母、数字、_ . -）", en="an id (letters, digits, _ . -)",
          pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_ADDRESS = Str(zh="主机:端口，如 192.168.1.100:60000", en="HOST:PORT, e.g. 192.168.1.100:60000",
               pattern=r"[0-9]{1,3}(\.[0-9]{1,3}){3}:[0-9]{1,5}")
_BUILDING = Str(zh="楼栋编号（文本，如 \"1\"）", en='a building id (text, e.g. "1")')

CONTROLLER = Record(fields={
    "id": Field(_ID, example="id: c1"),
    "serial": Field(Int(lo=1, hi=2**32 - 1), example="serial: 405419896"),
    "address": Field(_ADDRESS, example="address: 192.168.1.100:60000"),
    "doors": Field(Int(lo=1, hi=4), required=False),
    "name": Field(Str(), required=False),
})

DOOR = Record(fields={
    "id": Field(_ID, example="id: 1-east"),
    "controller": Field(_ID, example="controller: c1"),
    "door": Field(Int(lo=1, hi=4), example="door: 1"),
    "building": Field(_BUILDING, required=False),
    "egress": Field(Bool(), required=False),
    "name": Field(Str(), required=False),
    "open_delay": Field(Int(lo=1, hi=255), required=False),
    **SCHEDULE_FIELDS,  # normally-open windows, first card (edge/config/schedule_schema.py)
})

ACCESS = Record(fields={
    "listen": Field(_ADDRESS, required=False),
    "announce": Field(_ADDRESS, required=False),
    "bind": Field(Str(), required=False),
    "timeout": Field(Float(gt=0), required=False),
    "poll_interval": Field(Float(gt=0), required=False),
    "offline_after": Field(Int(lo=1, hi=100), required=False),
    "controllers": Field(ListOf(item=CONTROLLER), required=False),
    "doors": Field(ListOf(item=DOOR), required=False),
    #: OSDP readers the edge polls itself (edge/config/reader_schema.py).
    "readers": Field(ListOf(item=READER), required=False),
    #: Named normally-open windows doors and readers can share.
    "time_profiles": Field(TIME_PROFILES, required=False),
})


def _items(raw: RecordValue, key: str) -> list[RecordValue]:
    return [item for item in raw.get(key, []) if isinstance(item, RecordValue)]


def check_access(ctx: Ctx, raw: RecordValue) -> None:
    """Ids and serials unique, doors on declared controllers within their door count."""
    access = raw.get("access")
    if not isinstance(access, RecordValue):
        return
    controllers = _items(access, "controllers")
    check_readers(ctx, access, _items(access, "readers"))
    check_schedules(ctx, access)
    if "controllers" not in access and "readers" not in access:
        ctx.add(access.node.pos, bi("access 需要 controllers 或 readers",
                                    "access needs controllers or readers"),
                bi("添加 controllers: [...] 或 readers: [...]",
                   "add controllers: [...] or readers: [...]"))
    counts: dict[Any, int] = {}
    for key, what in (("id", ("控制器 id", "controller id")),
                      ("serial", ("控制器序列号", "controller serial"))):
        seen: set[Any] = set()
        for c in controllers:
            if key in c and c[key] in seen:
                ctx.add(c.pos(key), bi(f"{what[0]} {c[key]} 重复", f"{what[1]} {c[key]} repeats"),
                        bi("改为唯一的值", "make it unique"))
            seen.add(c.get(key))
    for c in controllers:
        counts[c.get("id")] = int(c.get("doors", 4))
        if c.get("doors") == 3:
            ctx.add(c.pos("doors"),
                    bi("控制器只有 1、2 或 4 门", "controllers have 1, 2 or 4 doors"),
                    bi("改为 1、2 或 4", "write 1, 2 or 4"))
    ids: set[Any] = set()
    places: set[tuple[Any, Any]] = set()
    for d in _items(access, "doors"):
        if d.get("id") in ids:
            ctx.add(d.pos("id"), bi(f"门 id {d['id']} 重复", f"door id {d['id']} repeats"),
                    bi("改为唯一的 id", "make it unique"))
        ids.add(d.get("id"))
        cid = d.get("controller")
        if cid is not None and cid not in counts:
            ctx.add(d.pos("controller"),
                    bi(f"控制器 {cid} 未在 access.controllers 中声明",
                       f"controller {cid} is not declared under access.controllers"),
                    bi(f"可用：{', '.join(str(k) for k in counts) or '无'}",
                       f"known: {', '.join(str(k) for k in counts) or 'none'}"))
        elif cid is not None and isinstance(d.get("door"), int) and d["door"] > counts[cid]:
            ctx.add(d.pos("door"), bi(f"控制器 {cid} 只有 {counts[cid]} 个门",
                                      f"controller {cid} has only {counts[cid]} doors"),
                    bi(f"写 1–{counts[cid]}", f"write 1–{counts[cid]}"))
        place = (cid, d.get("door"))
        if place in places:
            ctx.add(d.pos("door"),
                    bi(f"控制器 {cid} 的 {d.get('door')} 号门已声明",
                       f"door {d.get('door')} of controller {cid} is declared twice"),
                    bi("每个门只声明一次", "declare each door once"))
        places.add(place)


def build_access(raw: RecordValue | None) -> AccessConfig | None:
    if raw is None or not raw.get("controllers"):  # readers only: no controller driver
        return None
    controllers = tuple(ControllerSpec(**dict(c)) for c in raw["controllers"])
    doors = tuple(DoorSpec(**without_schedule(d)) for d in raw.get("doors", ()))
    options = {k: raw[k] for k in ("listen", "announce", "bind", "timeout", "poll_interval",
                                   "offline_after") if k in raw}
    return AccessConfig(controllers=controllers, doors=doors, **options)
