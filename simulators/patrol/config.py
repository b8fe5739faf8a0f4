"""The ``patrol:`` section of a site file, as far as simulating receivers needs: the site-local
broker and where each receiver stands. The presence settings (``dwell_s`` …) are the edge's;
the edge validates the whole section for installers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote, urlsplit

KINDS: Final = ("openmqttgateway", "espresense", "adapter")
SIMULATED: Final = ("openmqttgateway", "espresense")  # the box's own radio is not simulated


@dataclass(frozen=True, slots=True)
class ReceiverSpec:
    id: str
    kind: str
    source: str  # OpenMQTTGateway: the gateway name; ESPresense: the room; adapter: hci0
    rssi_at_1m: int = -59
    x: float = 0.0
    y: float = 0.0

    def distance(self, x: float, y: float) -> float:
        return math.hypot(self.x - x, self.y - y)


@dataclass(frozen=True, slots=True)
class PatrolSpec:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None
    receivers: tuple[ReceiverSpec, ...]

    @property
    def broker(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def receiver(self, rid: str) -> ReceiverSpec:
        for r in self.receivers:
            if r.id == rid:
                return r
        known = ", ".join(r.id for r in self.receivers) or "none"
        raise ValueError(f"站点文件中没有接收器 {rid} / no receiver {rid!r} in patrol.receivers "
                         f"(known: {known})")

    @property
    def simulated(self) -> tuple[ReceiverSpec, ...]:
        return tuple(r for r in self.receivers if r.kind in SIMULATED)


def _num(raw: Any, what: str) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{what} 应为数字 / must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} 应为有限数 / must be finite, got {raw!r}")
    return value


def broker_parts(url: str) -> tuple[str, int, bool, str | None, str | None]:
    """(host, port, tls, username, password) of ``mqtt://[user:pw@]host[:port]``."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(f"patrol.broker 应为 mqtt://主机:端口 / must be mqtt://host:port, "
                         f"got {url!r}")
    try:
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    except ValueError:
        raise ValueError(f"patrol.broker 端口无效 / bad port in {url!r}") from None
    user = unquote(parts.username) if parts.username else None
    pw = unquote(parts.password) if parts.password else None
    return parts.hostname, port, parts.scheme == "mqtts", user, pw


def patrol_of(raw: Any) -> PatrolSpec | None:
    """The site file's ``patrol`` mapping (env already expanded) → PatrolSpec; None without
    one. ValueError (zh/en) when the simulator cannot use it."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValueError("patrol 应为映射 / patrol must be a mapping")
    host, port, tls, user, pw = broker_parts(str(raw.get("broker") or ""))
    if raw.get("username") is not None:
        user = str(raw["username"])
    if raw.get("password") is not None:
        pw = str(raw["password"])
    receivers: list[ReceiverSpec] = []
    seen: set[str] = set()
    for r in raw.get("receivers") or []:
        if not isinstance(r, dict):
            raise ValueError(f"patrol.receivers 的每一项应为映射 / each receiver must be a "
                             f"mapping, got {r!r}")
        rid, kind = str(r.get("id") or ""), str(r.get("kind") or "")
        if not rid or rid in seen:
            raise ValueError(f"接收器 id 为空或重复 / receiver id empty or repeated: {rid!r}")
        if kind not in KINDS:
            raise ValueError(f"接收器 {rid} 的 kind 应为 {' | '.join(KINDS)} / receiver {rid}: "
                             f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        seen.add(rid)
        w = f"patrol.receivers.{rid}"
        receivers.append(ReceiverSpec(
            id=rid, kind=kind, source=str(r.get("source") or rid),
            rssi_at_1m=round(_num(r.get("rssi_at_1m", -59), f"{w}.rssi_at_1m")),
            x=_num(r.get("x", 0), f"{w}.x"), y=_num(r.get("y", 0), f"{w}.y")))
    return PatrolSpec(host=host, port=port, tls=tls, username=user, password=pw,
                      receivers=tuple(receivers))
