"""Work orders as the API shows them: UTC times with the site's local time beside them,
money as decimal strings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from cloud.web.present import decimal_str, times, utc_iso
from cloud.workorders.tables import (
    Technician,
    TechnicianShift,
    WorkOrder,
    WorkOrderAction,
    WorkOrderLine,
)

TIME_FIELDS = ("opened_at", "cause_ts", "last_event_ts", "response_due", "resolve_due",
               "responded_at", "resolved_at", "closed_at", "rating_requested_at", "updated_at")


def order_json(o: WorkOrder, site: str, tz: ZoneInfo) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": o.id, "number": o.number, "site": site, "category": o.category,
        "priority": o.priority, "state": o.state,
        "title": {"zh": o.title_zh, "en": o.title_en}, "description": o.description,
        "unit": o.unit,
        "source": {"kind": o.source_kind, "device": o.source_device,
                   "event_uuid": o.source_event_uuid, "request_id": o.request_id,
                   "requested_by": o.requested_by},
        "count": o.count, "skill": o.skill, "assignee_ids": list(o.assignee_ids or []),
        "response_breached": o.response_breached, "resolve_breached": o.resolve_breached,
        "rating": o.rating, "rating_note": o.rating_note,
        "return_visit_note": o.return_visit_note,
    }
    for name in TIME_FIELDS:
        out |= times(name, getattr(o, name), tz)
    return out


def action_json(a: WorkOrderAction, tz: ZoneInfo) -> dict[str, Any]:
    return {"action": a.action, "from": a.from_state, "to": a.to_state, "by": a.by,
            **times("at", a.at, tz), "note": a.note, "detail": a.detail}


def line_json(line: WorkOrderLine) -> dict[str, Any]:
    return {"kind": line.kind, "technician_id": line.technician_id,
            "hours": decimal_str(line.hours), "part": line.part,
            "qty": decimal_str(line.qty), "unit_price": decimal_str(line.unit_price),
            "cost": decimal_str(line.cost), "by": line.by, "at": utc_iso(line.at)}


def cost_total(lines: list[WorkOrderLine]) -> str:
    return f"{sum((line.cost for line in lines), Decimal('0')):.2f}"


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def technician_json(t: Technician, shifts: list[TechnicianShift],
                    sites: dict[int, str]) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "phone": t.phone, "skills": list(t.skills or []),
            "sites": [sites[i] for i in t.site_ids or [] if i in sites],
            "on_duty": t.on_duty, "active": t.active,
            "shifts": [{"weekday": s.weekday, "start": _hhmm(s.start_min),
                        "end": _hhmm(s.end_min)} for s in shifts]}
