"""The site file's schema (docs/architecture.md, "Site YAML"), declared once.

Ranges are those a Modbus line and an MQTT link actually accept, so a typo is refused at the
installer's desk instead of showing up as a silent meter on site.
"""

from __future__ import annotations

import zoneinfo
from typing import Any
from urllib.parse import urlsplit

from edge.config.schema import (
    Field,
    Float,
    Int,
    ListOf,
    MapOf,
    OneOf,
    Record,
    Str,
    Tagged,
    suggest,
)

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
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ("端口无效", "has an invalid port", *fix)
    if parts.scheme not in ("mqtt", "mqtts"):
        return ("须以 mqtt:// 或 mqtts:// 开头", "must start with mqtt:// or mqtts://", *fix)
    if not parts.hostname or port is None or port == 0:
        return ("缺少主机或端口", "needs a host and a port", *fix)
    return None


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
    }), example="cloud: {mqtt_url: mqtt://127.0.0.1:1883, username: demo}"),
    "edge": Field(Record(fields={
        "data_dir": Field(Str(zh="目录路径", en="a directory path"),
                          example="data_dir: var/edge"),
        "outbox_budget_mb": Field(Float(gt=0), required=False),
        "health_host": Field(Str(), required=False),
        "health_port": Field(Int(lo=1, hi=65535), required=False),
        "replay_rate": Field(Float(gt=0), required=False),
    }), example="edge: {data_dir: var/edge}"),
    "buses": Field(ListOf(item=Tagged(tag="type", variants={"modbus_tcp": TCP_BUS,
                                                           "modbus_rtu": RTU_BUS})),
                   required=False),
    "devices": Field(ListOf(item=DEVICE), required=False),
})
