"""Work-order categories (with the skill they need) and default SLAs per priority.

Rules (``cloud/rules``) name their own SLA per event kind; these defaults serve staff and
owners' requests, which only say what is wrong and how urgent it is.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    name: str
    zh: str
    skill: str


CATEGORIES: dict[str, Category] = {c.name: c for c in (
    Category("elevator_rescue", "电梯困人救援", "elevator"),
    Category("elevator_fault", "电梯故障", "elevator"),
    Category("fire_fault", "消防设备故障", "fire"),
    Category("gate_fault", "门禁道闸故障", "access"),
    Category("camera", "监控故障", "cctv"),
    Category("meter", "表计异常", "meter"),
    Category("network", "设备离线", "network"),
    Category("plumbing", "水暖", "plumbing"),
    Category("electrical", "电气", "electrical"),
    Category("public_area", "公共区域", "general"),
    Category("other", "其他", "general"),
    Category("complaint", "投诉", "general"),
)}

#: (response, resolve) seconds for a request of each priority.
REQUEST_SLA_S: dict[str, tuple[int, int]] = {
    "urgent": (30 * 60, 4 * 3600),
    "high": (2 * 3600, 24 * 3600),
    "normal": (4 * 3600, 72 * 3600),
    "low": (24 * 3600, 7 * 86400),
}
