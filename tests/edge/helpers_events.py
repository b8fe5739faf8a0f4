"""Small builders of events for the edge tests."""

from __future__ import annotations

from datetime import UTC, datetime

from contract import NewEvent


def reading(device: str = "m1", n: int = 0, pad: int = 0) -> NewEvent:
    data: dict[str, object] = {"v": 1, "values": {"energy_import_kwh": float(n)}}
    if pad:
        data["pad"] = "x" * pad
    return NewEvent(device=device, kind="meter.reading", data=data,
                    ts=datetime(2026, 1, 1, tzinfo=UTC))


def alarm(device: str = "f1", n: int = 0) -> NewEvent:
    return NewEvent(device=device, kind="fire.alarm", data={"zone": n},
                    ts=datetime(2026, 1, 1, tzinfo=UTC))


def access(device: str = "g1", n: int = 0) -> NewEvent:
    return NewEvent(device=device, kind="gate.opened", data={"n": n},
                    ts=datetime(2026, 1, 1, tzinfo=UTC))
