"""The site file's schema (docs/architecture.md, "Site YAML"), declared once.

Ranges are those a Modbus line and an MQTT link actually accept, so a typo is refused at the
installer's desk instead of showing up as a silent meter on site.
"""

from __future__ import annotations

import ipaddress
import zoneinfo
from typing import Any
from urllib.parse import urlsplit

import brokerurl
from contract import Kind
from edge.config.access_schema import ACCESS
from edge.config.patrol_schema import PATROL
from edge.config.schema import (
    INVALID,
    Bool,
    Ctx,
    Field,
    Float,
    Int,
    ListOf,
    MapOf,
    OneOf,
    Record,
    Spec,
    Str,
    Tagged,
    suggest,
)
from yamlcheck.positions import YNode, YScalar

SITE_ID = r"[a-z0-9][a-z0-9_-]{0,62}"
THING_ID = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
Bad = tuple[str, str, str, str] | None


def check_timezone(name: Any) -> Bad:
    try:
        zoneinfo.ZoneInfo(name)
        return None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        close = suggest(name, sorted(zoneinfo.available_timezones()))
        hint = close or "Asia/Shanghai"
        return ("不是有效的时区", "is not a known time zone",
                f'是否应为 "{hint}"?', f'did you mean "{hint}"?')


def check_mqtt_url(url: Any) -> Bad:
    fix = ("写成 mqtt://主机:端口，如 mqtt://127.0.0.1:1883",
           "write mqtt://HOST:PORT, e.g. mqtt://127.0.0.1:1883")
    try:
        brokerurl.parse(url, require_port=True)  # the same reader the uplink connects with
    except brokerurl.BrokerURLError as exc:
        return (exc.zh, exc.en, *fix)
    return None


def check_http_url(url: Any) -> Bad:
    """The console's base URL for dataset pulls: scheme, host and port only, because the edge
    appends the API path itself and a path or credentials here would be silently wrong."""
    if url == "":
        return None  # `http_url: ${COURTYARD_CONSOLE_URL:-}` left unset: no pulls
    fix = ("写成 http(s)://主机[:端口]，如 http://127.0.0.1:8080",
           "write http(s)://HOST[:PORT], e.g. http://127.0.0.1:8080")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ("端口无效", "has an invalid port", *fix)
    if parts.scheme not in ("http", "https"):
        return ("须以 http:// 或 https:// 开头", "must start with http:// or https://", *fix)
    if not parts.hostname or port == 0:
        return ("缺少主机", "needs a host", *fix)
    if parts.username is not None or parts.password is not None:
        return ("不能包含用户名或密码（使用 username/password）",
                "must not carry a user or password (username/password are used)", *fix)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return ("只能包含协议、主机和端口", "must be only scheme, host and port", *fix)
    return None


def check_ip(value: Any) -> Bad:
    """An IP address or network (``192.168.1.64``, ``10.1.2.0/28``): who may connect."""
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return ("不是 IP 地址或网段", "is not an IP address or network",
                "写成 192.168.1.64 或 192.168.1.0/28", "write 192.168.1.64 or 192.168.1.0/28")
    return None


_IP = Str(zh="IP 地址或网段", en="an IP address or network", extra=check_ip)
ANY_PEER = "any"


class Peers(Spec):
    """``peers: [ip, …]`` or the explicit ``peers: any`` (validated with a warning)."""

    def __init__(self) -> None:
        super().__init__(zh="IP 地址列表或 any", en="a list of IP addresses, or any")

    def convert(self, node: YNode, ctx: Ctx, label: str) -> Any:
        if isinstance(node, YScalar) and node.value == ANY_PEER:
            return ANY_PEER
        if isinstance(node, YScalar):
            return self.wrong(node, ctx, label, "写成 [192.168.1.80]，或明确写 any",
                              "write [192.168.1.80], or any explicitly")
        value = ListOf(item=_IP).check(node, ctx, label)
        return INVALID if value is INVALID or INVALID in value else value


_ID = Str(zh="标识（字母、数字、_ . -）", en="an id (letters, digits, _ . -)", pattern=THING_ID)
_TIMEOUT = Field(Float(gt=0), required=False)
_RETRIES = Field(Int(lo=0, hi=5), required=False)

TCP_BUS = Record(fields={
    "id": Field(_ID, example="id: tcp1"),
    "type": Field(OneOf(choices=("modbus_tcp",))),
    "host": Field(Str(), example="host: 192.168.1.50"),
    "port": Field(Int(lo=1, hi=65535), required=False),
    "timeout": _TIMEOUT,
    "retries": _RETRIES,
})

RTU_BUS = Record(fields={
    "id": Field(_ID, example="id: rtu1"),
    "type": Field(OneOf(choices=("modbus_rtu",))),
    "port": Field(Str(zh="串口路径", en="a serial port path"), example="port: /dev/ttyUSB0"),
    "baudrate": Field(OneOf(choices=BAUDRATES), required=False),
    "parity": Field(OneOf(choices=("N", "E", "O")), required=False),
    "stopbits": Field(OneOf(choices=(1, 2)), required=False),
    "bytesize": Field(OneOf(choices=(7, 8)), required=False),
    "timeout": _TIMEOUT,
    "retries": _RETRIES,
})

SIMULATE = Record(fields={
    "fault": Field(OneOf(choices=("none", "no_reply", "exception", "slow", "garbage")),
                   required=False),
    "slow_ms": Field(Int(lo=0), required=False),
    "exception_code": Field(Int(lo=1, hi=11), required=False),
})

DEVICE = Record(fields={
    "id": Field(_ID, example="id: meter-1-101"),
    "bus": Field(_ID, example="bus: tcp1"),
    "profile": Field(Str(zh="设备型号标识", en="a profile id"), example="profile: eastron_sdm120"),
    "address": Field(Int(lo=1, hi=247), example="address: 1"),
    "poll_interval": Field(Float(gt=0), required=False),
    "unit": Field(Str(), required=False),
    "deadband": Field(MapOf(value=Float(ge=0)), required=False),
    "simulate": Field(SIMULATE, required=False),
})

_COIL = Field(Int(lo=0, hi=65535), required=False)

LOT = Record(fields={
    "id": Field(_ID, example="id: lot-main"),
    "name": Field(Str(), required=False),
    "capacity": Field(Int(lo=1, hi=100_000), example="capacity: 120"),
})

CAMERA = Record(fields={
    "id": Field(_ID, example="id: cam-in-1"),
    "vendor": Field(OneOf(choices=("vzenith", "hikvision"))),
    "address": Field(Str(zh="摄像机 IP 地址", en="the camera's IP address", extra=check_ip),
                     example="address: 192.168.1.64"),
    # More source addresses allowed to push for this camera (a NAT, a second interface).
    "allow": Field(ListOf(item=_IP), required=False),
    # HTTP credentials the camera sends with each push (Hikvision's alarm host can);
    # when set, a push without them is refused 401.
    "username": Field(Str(), required=False),
    "password": Field(Str(), required=False),
})

CAMERA_RELAY_GATE = Record(fields={
    "id": Field(_ID, example="id: gate-in-1"),
    "via": Field(OneOf(choices=("camera_relay",))),
    "camera": Field(_ID, example="camera: cam-in-1"),
    "relay_io": Field(Int(lo=0, hi=3), required=False),
})

MODBUS_GATE = Record(fields={
    "id": Field(_ID, example="id: gate-out-1"),
    "via": Field(OneOf(choices=("modbus",))),
    "bus": Field(_ID, example="bus: tcp1"),
    "address": Field(Int(lo=1, hi=247), example="address: 10"),
    "open_coil": Field(Int(lo=0, hi=65535), example="open_coil: 0"),
    "close_coil": Field(Int(lo=0, hi=65535), example="close_coil: 1"),
    "stop_coil": _COIL,
    "open_limit_input": _COIL,
    "closed_limit_input": _COIL,
    "loop_input": _COIL,
    "pulse_ms": Field(Int(lo=50, hi=5000), required=False),
    "confirm_timeout": Field(Float(gt=0), required=False),
    "auto_close": Field(Float(ge=0), required=False),
})

LANE = Record(fields={
    "id": Field(_ID, example="id: lane-in-1"),
    "lot": Field(_ID, example="lot: lot-main"),
    "direction": Field(OneOf(choices=("in", "out"))),
    "camera": Field(_ID, example="camera: cam-in-1"),
    "gate": Field(_ID, required=False),
    "match": Field(OneOf(choices=("exact", "ocr", "lenient")), required=False),
    "temporary": Field(Bool(), required=False),
    "reread_minutes": Field(Float(ge=0), required=False),
})

PARKING = Record(fields={
    "http_host": Field(Str(), required=False),
    "http_port": Field(Int(lo=1, hi=65535), example="http_port: 8088"),
    "dataset": Field(Str(zh="数据集文件路径", en="a dataset file path"), required=False),
    "decide_timeout": Field(Float(gt=0), required=False,
                            example="decide_timeout: 1.0"),
    "lots": Field(ListOf(item=LOT), example="lots: [{id: lot-main, capacity: 120}]"),
    "cameras": Field(ListOf(item=CAMERA)),
    "gates": Field(ListOf(item=Tagged(tag="via", variants={"camera_relay": CAMERA_RELAY_GATE,
                                                          "modbus": MODBUS_GATE})),
                   required=False),
    "lanes": Field(ListOf(item=LANE)),
})

_BUILDING = Str(zh="楼栋（如 1 或 A座）", en="a building (e.g. 1 or A)")

ZONE_LOCATION = Record(fields={
    "building": Field(_BUILDING, example='building: "1"'),
    "floor": Field(Str(), required=False),
    "area": Field(Str(), required=False),
    "system_type": Field(Int(lo=0, hi=255), required=False),
    "system_address": Field(Int(lo=0, hi=255), required=False),
    "zone": Field(Int(lo=0, hi=65535), required=False),
})

UITD = Record(fields={
    "id": Field(_ID, example="id: uitd-1"),
    "address": Field(Int(lo=0, hi=2**48 - 1), example="address: 889"),
    "building": Field(_BUILDING, required=False),
    # Required (checked in crosscheck, to say why): a UITD sends no credentials.
    "peers": Field(Peers(), required=False),
    "checksum": Field(OneOf(choices=("sum", "sum_from_command", "xor")), required=False),
    "serial_order": Field(OneOf(choices=("little", "big")), required=False),
    "heartbeat_timeout": Field(Float(gt=0), required=False),
    "displace_after": Field(Float(gt=0), required=False),
    "clock_sync_interval": Field(Float(gt=0), required=False),
    "locations": Field(ListOf(item=ZONE_LOCATION), required=False),
})

FIRE = Record(fields={
    "host": Field(Str(), required=False),
    "port": Field(Int(lo=1, hi=65535), example="port: 9001"),
    "centre_address": Field(Int(lo=0, hi=2**48 - 1), required=False),
    "uitds": Field(ListOf(item=UITD), example="uitds: [{id: uitd-1, address: 889}]"),
})

ELEVATOR = Record(fields={
    "id": Field(_ID, example="id: elev-1-a"),
    "name": Field(Str(), required=False),
    "building": Field(_BUILDING, example='building: "1"'),
    "bus": Field(_ID, example="bus: tcp-elev"),
    "address": Field(Int(lo=1, hi=247), example="address: 1"),
    "profile": Field(Str(zh="电梯型号标识", en="an elevator profile id"),
                     example="profile: generic_gbt24476"),
    "poll_interval": Field(Float(gt=0), required=False),
    "trapped_after": Field(Float(gt=0), required=False),
    "main_landing": Field(Int(lo=-10, hi=200), required=False),
})

LINKAGE_RULE = Record(fields={
    "id": Field(_ID, example="id: fire-any"),
    "on": Field(ListOf(item=OneOf(choices=(Kind.FIRE_ALARM, Kind.FIRE_STARTED,
                                           Kind.FIRE_SUPERVISORY))), required=False),
    "buildings": Field(ListOf(item=_BUILDING), required=False),
    "unlock_doors": Field(Bool(), required=False),
    "raise_gates": Field(Bool(), required=False),
    "gates": Field(ListOf(item=_ID), required=False),
    "recall_elevators": Field(Bool(), required=False),
    "alarm": Field(Bool(), required=False),
    "include_test_mode": Field(Bool(), required=False),
    "reset_on_panel_reset": Field(Bool(), required=False),
})

LINKAGE = Record(fields={
    "rules": Field(ListOf(item=LINKAGE_RULE), required=False),
})

SITE = Record(fields={
    "site": Field(Record(fields={
        "id": Field(Str(zh="标识（小写字母、数字、_ -，最长 63）",
                        en="a slug (a-z, 0-9, _ -, up to 63)", pattern=SITE_ID),
                    example="id: demo"),
        "name": Field(Str(), example="name: 小区名称"),
        "timezone": Field(Str(extra=check_timezone), required=False),
    }), example="site: {id: demo, name: 演示小区}"),
    "cloud": Field(Record(fields={
        "mqtt_url": Field(Str(extra=check_mqtt_url), example="mqtt_url: mqtt://127.0.0.1:1883"),
        "username": Field(Str(), example="username: demo"),
        "password": Field(Str(empty_ok=True), required=False),
        # The console's base URL; the edge pulls datasets from it (DESIGN §2, down/sync).
        "http_url": Field(Str(empty_ok=True, extra=check_http_url), required=False),
        # A private CA (PEM) that signed the broker's and the console's TLS certificates;
        # relative to the site file. Unset: the system's trust store.
        "ca_file": Field(Str(empty_ok=True), required=False, example="ca_file: ca.pem"),
    }), example="cloud: {mqtt_url: mqtt://127.0.0.1:1883, username: demo}"),
    "edge": Field(Record(fields={
        "data_dir": Field(Str(zh="目录路径", en="a directory path"),
                          example="data_dir: var/edge"),
        "outbox_budget_mb": Field(Float(gt=0), required=False),
        "health_host": Field(Str(), required=False),
        "health_port": Field(Int(lo=1, hi=65535), required=False),
        "replay_rate": Field(Float(gt=0), required=False),
    }), example="edge: {data_dir: var/edge}"),
    # The operators' listener (booth, guard room, linkage reset): loopback unless told.
    "operator": Field(Record(fields={
        "host": Field(Str(), required=False),
        "port": Field(Int(lo=1, hi=65535), required=False),
    }), required=False, example="operator: {host: 127.0.0.1, port: 9180}"),
    "buses": Field(ListOf(item=Tagged(tag="type", variants={"modbus_tcp": TCP_BUS,
                                                           "modbus_rtu": RTU_BUS})),
                   required=False),
    "devices": Field(ListOf(item=DEVICE), required=False),
    "parking": Field(PARKING, required=False),
    "fire": Field(FIRE, required=False),
    "elevators": Field(ListOf(item=ELEVATOR), required=False),
    "linkage": Field(LINKAGE, required=False),
    "access": Field(ACCESS, required=False),
    # 巡更: BLE receivers and presence settings (edge/config/patrol_schema.py).
    "patrol": Field(PATROL, required=False),
})
