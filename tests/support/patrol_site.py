"""The patrol acceptance site: receivers on a line, the plans of a scripted day, and the
console calls the acceptance test makes (tests/e2e/test_patrol_site.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

SITE = "qinghe"
SECRET = "qinghe-site-secret-0001"


def midday_zone(now: datetime) -> ZoneInfo:
    """A whole-hour zone where ``now`` is about noon: the scripted day (a few minutes) never
    crosses the site's midnight, whenever the test runs. ``Etc/GMT-8`` is UTC+8."""
    offset = 12 - now.astimezone(UTC).hour  # -11 … +12
    return ZoneInfo("Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}"
                    f"{abs(offset)}")


@dataclass(frozen=True)
class Receiver:
    id: str
    kind: str  # openmqttgateway | espresense
    source: str
    x: float
    y: float = 0.0


#: Three routes of receivers 30 m apart (a guard walks between them in ~10 s at 3 m/s), one
#: checkpoint nobody visits (the round nobody starts) and two receivers without a checkpoint,
#: a kilometre apart, for the cloned tag.
RECEIVERS = (
    Receiver("a1", "openmqttgateway", "gw_a1", 0), Receiver("a2", "espresense", "room_a2", 30),
    Receiver("a3", "openmqttgateway", "gw_a3", 60),
    Receiver("b1", "espresense", "room_b1", 0, 200), Receiver("b2", "openmqttgateway", "gw_b2",
                                                              30, 200),
    Receiver("b3", "espresense", "room_b3", 60, 200),
    Receiver("c1", "openmqttgateway", "gw_c1", 0, 400), Receiver("c2", "espresense",
                                                                 "room_c2", 30, 400),
    Receiver("d1", "openmqttgateway", "gw_d1", 0, 600),
    Receiver("x-near", "openmqttgateway", "gw_xn", 0, 800),
    Receiver("x-far", "espresense", "room_xf", 1000, 800),
)


def site_yaml(tmp: Path, *, cloud_broker: int, site_broker: int, http: int,
              health: int, tz: ZoneInfo) -> Path:
    receivers = "\n".join(
        f"    - {{id: {r.id}, kind: {r.kind}, source: {r.source}, rssi_at_1m: -59, "
        f"x: {r.x}, y: {r.y}}}" for r in RECEIVERS)
    path = tmp / "site.yaml"
    path.write_text(f"""\
site: {{id: {SITE}, name: 清河苑, timezone: {tz.key}}}
cloud: {{mqtt_url: "mqtt://127.0.0.1:{cloud_broker}", username: {SITE}, password: {SECRET},
        http_url: "http://127.0.0.1:{http}"}}
edge: {{data_dir: "{tmp / 'edge'}", health_host: 127.0.0.1, health_port: {health}}}
patrol:
  broker: mqtt://127.0.0.1:{site_broker}
  dwell_s: 3
  receivers:
{receivers}
""", encoding="utf-8")
    return path


def clock_time(at: datetime, tz: ZoneInfo) -> str:
    """``HH:MM:SS`` of ``at`` in the site's zone (a plan's start)."""
    return at.astimezone(tz).strftime("%H:%M:%S")


def plan_body(code: str, route: str, start: datetime, tz: ZoneInfo, *, window_s: int = 30,
              tolerance_s: int = 10, late_s: int = 10) -> dict[str, object]:
    """One round a day at ``start`` (the shift ends an hour later)."""
    return {"code": code, "name": f"验收计划 {code}", "route": route,
            "days": [1, 2, 3, 4, 5, 6, 7], "start": clock_time(start, tz),
            "end": clock_time(start + timedelta(hours=1), tz), "every_s": 0,
            "start_window_s": window_s, "tolerance_s": tolerance_s, "late_s": late_s,
            "tolerances": {}, "escalate_s": 300}
