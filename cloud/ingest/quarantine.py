"""Events the database would refuse, kept under their seq as ``ingest.quarantined`` so the
site's watermark moves on and the evidence stays (``Ingestor.decode``)."""

from __future__ import annotations

from datetime import datetime

from contract import ContractError, Envelope, Kind, Priority, Rejected, jsoncodec
from contract.envelope import parse_ts

#: Column widths of ``events`` (device, kind, id).
MAX_DEVICE, MAX_KIND, MAX_ID = 128, 64, 64


def stored_limit_problem(ev: Envelope) -> tuple[str, str] | None:
    """What the database would refuse in this event (field, reason), checked up front so one
    bad event never makes its whole batch fail to commit."""
    for name, value, limit in (("device", ev.device, MAX_DEVICE), ("kind", ev.kind, MAX_KIND),
                               ("id", ev.id, MAX_ID)):
        if len(value) > limit:
            return name, f"longer than {limit} characters"
        if "\x00" in value:
            return name, "contains a NUL character"
    return None


QUARANTINE_RAW_CHARS = 2000


def quarantined(rejected: Rejected, now: datetime) -> tuple[Envelope, str]:
    """The event stored under a rejected event's seq: it keeps the seq accounted for (the
    watermark moves on, the site does not stall on one bad event) and keeps the evidence."""
    raw = rejected.raw

    def text(key: str, limit: int) -> str | None:
        v = raw.get(key)
        return v if isinstance(v, str) and v and len(v) <= limit and "\x00" not in v else None

    body = jsoncodec.dumps(raw).replace("\\u0000", "\\ufffd")
    data = {"field": rejected.field, "reason": rejected.reason, "kind": text("kind", MAX_KIND),
            "raw": body[:QUARANTINE_RAW_CHARS], "raw_truncated": len(body) > QUARANTINE_RAW_CHARS}
    try:
        ts = parse_ts(raw.get("ts"))
    except ContractError:
        ts = now
    env = Envelope(seq=rejected.seq, id=text("id", MAX_ID) or "", ts=ts,
                   device=text("device", MAX_DEVICE) or "(unknown)",
                   kind=Kind.INGEST_QUARANTINED, data=data, priority=Priority.TELEMETRY)
    return env, jsoncodec.dumps(data)
