"""The site file's ``patrol:`` section (巡更): BLE receivers and the presence settings.

```yaml
patrol:
  broker: mqtt://192.168.1.20:1883   # the site-local broker remote receivers publish to
  username: courtyard                # optional, with password
  dwell_s: 5                         # presence settings: docs/patrol.md "Presence"
  receivers:
    - {id: omg-north, kind: openmqttgateway, source: gw-north, rssi_at_1m: -59, x: 0, y: 0}
    - {id: esp-b1, kind: espresense, source: b1-lobby, x: 120, y: 40}
    - {id: box, kind: adapter, source: hci0}
```

Checks across entries (``check_patrol``): unique receiver ids, one receiver per gateway /
room / adapter, a broker when any receiver is remote, leave level below the enter level.
A receiver no checkpoint names yet is fine: the dataset maps checkpoints to receivers.
"""

from __future__ import annotations

from typing import Any

import brokerurl
from edge.config.model import PatrolConfig, PatrolReceiver
from edge.config.schema import Ctx, Field, Float, Int, ListOf, OneOf, Record, RecordValue, Str
from yamlcheck.problems import bi

KINDS = ("openmqttgateway", "espresense", "adapter")
REMOTE = ("openmqttgateway", "espresense")
_ID = Str(zh="标识（字母、数字、_ . -）", en="an id (letters, digits, _ . -)",
          pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# MQTT topic level: no wildcards or separators (the gateway name / room is one level).
_SOURCE = Str(zh="网关名、房间名或适配器（如 hci0），不含 / + #",
              en="a gateway name, room or adapter (e.g. hci0), without / + #",
              pattern=r"[^/+#\s]{1,64}")


def _check_broker(url: Any) -> tuple[str, str, str, str] | None:
    try:
        brokerurl.parse(url, require_port=True)
    except brokerurl.BrokerURLError as exc:
        return (exc.zh, exc.en, "写成 mqtt://主机:端口，如 mqtt://192.168.1.20:1883",
                "write mqtt://HOST:PORT, e.g. mqtt://192.168.1.20:1883")
    return None


RECEIVER = Record(fields={
    "id": Field(_ID, example="id: omg-north"),
    "kind": Field(OneOf(choices=KINDS), example="kind: openmqttgateway"),
    "source": Field(_SOURCE, example="source: gw-north"),
    # A tag 1 m away reads about -59 dBm on common receivers; a metal box reads lower.
    "rssi_at_1m": Field(Int(lo=-120, hi=0), required=False),
    "x": Field(Float(ge=-100_000), required=False),
    "y": Field(Float(ge=-100_000), required=False),
})

PATROL = Record(fields={
    "broker": Field(Str(extra=_check_broker), required=False,
                    example="broker: mqtt://192.168.1.20:1883"),
    "username": Field(Str(), required=False),
    "password": Field(Str(empty_ok=True), required=False),
    "dwell_s": Field(Float(gt=0), required=False),
    "enter_db": Field(Float(gt=0), required=False),
    "hysteresis_db": Field(Float(ge=0), required=False),
    "leave_after_s": Field(Float(gt=0), required=False),
    "max_speed_mps": Field(Float(gt=0), required=False),
    "range_m": Field(Float(ge=0), required=False),
    "battery_low_mv": Field(Int(lo=1000, hi=5000), required=False),
    "tag_seen_every_s": Field(Float(gt=0), required=False),
    "pull_every_s": Field(Float(gt=0), required=False),
    # None for a QR-only site: scans still count at the edge (patrol.scan).
    "receivers": Field(ListOf(item=RECEIVER), required=False,
                       example="receivers: [{id: omg-north, kind: openmqttgateway, "
                               "source: gw-north}]"),
})

_RANGES: dict[str, tuple[float, float, str]] = {
    # key: (lo, hi, unit) — beyond these a value is a typo, not a site's choice.
    "dwell_s": (0.5, 600, "s"),
    "enter_db": (1, 60, "dB"),
    "hysteresis_db": (0, 30, "dB"),
    "leave_after_s": (1, 3600, "s"),
    "max_speed_mps": (0.5, 50, "m/s"),
    "range_m": (0, 100, "m"),
    "tag_seen_every_s": (1, 86_400, "s"),
    "pull_every_s": (10, 86_400, "s"),
}


def _receivers(patrol: RecordValue) -> list[RecordValue]:
    return [r for r in patrol.get("receivers") or [] if isinstance(r, RecordValue)]


def check_patrol(ctx: Ctx, raw: RecordValue) -> None:
    """What one entry cannot see: unique ids and sources, a broker for remote receivers,
    settings within what a site could mean."""
    patrol = raw.get("patrol")
    if not isinstance(patrol, RecordValue):
        return
    for key, (lo, hi, unit) in _RANGES.items():
        value = patrol.get(key)
        if isinstance(value, int | float) and not lo <= value <= hi:
            ctx.add(patrol.pos(key), bi(f'"{key}" 超出范围：{value:g}',
                                        f'"{key}" out of range: {value:g}'),
                    bi(f"应在 {lo:g}–{hi:g} {unit} 之间", f"must be {lo:g}–{hi:g} {unit}"))
    receivers = _receivers(patrol)
    ids: set[Any] = set()
    sources: dict[tuple[Any, Any], Any] = {}
    for r in receivers:
        if "id" in r and r["id"] in ids:
            ctx.add(r.pos("id"), bi(f"接收器 id {r['id']} 重复", f"receiver id {r['id']} repeats"),
                    bi("改为唯一的 id", "make it unique"))
        ids.add(r.get("id"))
        place = (r.get("kind"), r.get("source"))
        if None not in place and place in sources:
            ctx.add(r.pos("source"),
                    bi(f"{place[0]} 的 source {place[1]} 已由接收器 {sources[place]} 使用",
                       f"{place[0]} source {place[1]} is already receiver {sources[place]}"),
                    bi("每个网关 / 房间 / 适配器只对应一个接收器",
                       "give each gateway, room or adapter one receiver"))
        sources.setdefault(place, r.get("id"))
    remote = [r for r in receivers if r.get("kind") in REMOTE]
    if remote and "broker" not in patrol.node.entries:
        ctx.add(patrol.node.pos,
                bi(f"接收器 {remote[0].get('id')} 经 MQTT 上报，但 patrol 没有 broker",
                   f"receiver {remote[0].get('id')} reports over MQTT but patrol has no broker"),
                bi("添加 broker: mqtt://主机:端口（现场网关所连的 MQTT）",
                   "add broker: mqtt://HOST:PORT (the site-local broker the receivers use)"))
    if ("password" in patrol) and "username" not in patrol:
        ctx.add(patrol.pos("password"), bi("有 password 却没有 username",
                                           "password without username"),
                bi("添加 username: …，或删除 password", "add username: …, or remove password"))


def build_patrol(raw: RecordValue | None) -> PatrolConfig | None:
    if raw is None:
        return None
    receivers = tuple(
        PatrolReceiver(id=r["id"], kind=r["kind"], source=r["source"],
                       rssi_at_1m=int(r.get("rssi_at_1m", -59)), x=float(r.get("x", 0.0)),
                       y=float(r.get("y", 0.0)))
        for r in raw.get("receivers") or [])
    settings = {k: raw[k] for k in (*_RANGES, "battery_low_mv") if k in raw}
    return PatrolConfig(receivers=receivers, broker=raw.get("broker"),
                        username=raw.get("username"), password=raw.get("password"), **settings)
