"""Every event kind is named once, in ``contract.kinds``: the parts name kinds through ``Kind``
and never retype them, every kind has a payload type, and priorities follow DESIGN §2."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from contract import KINDS, Kind, Priority, priority_for
from contract.payloads import PAYLOADS

REPO = Path(__file__).resolve().parents[2]
#: Where kinds are emitted (drivers, edge) or acted on (the console's handlers and rules).
SCANNED = [REPO / "drivers", REPO / "edge", *sorted((REPO / "cloud").glob("*/handlers.py")),
           REPO / "cloud" / "rules", REPO / "cloud" / "alarms" / "policy.py"]
EVENT_FAMILIES = ("fire", "uitd", "elevator", "gate", "plate", "parking", "meter", "device",
                  "camera", "linkage", "payment", "buffer", "access", "door", "patrol", "reader",
                  "controller")
KIND_SHAPE = re.compile(rf"^(?:{'|'.join(EVENT_FAMILIES)})\.[a-z_]+$")


def _sources() -> list[Path]:
    out: list[Path] = []
    for p in SCANNED:
        out.extend(sorted(p.rglob("*.py")) if p.is_dir() else [p])
    return out


def _kind_arguments(tree: ast.AST) -> list[ast.expr]:
    """Expressions passed as an event's kind: ``kind=`` keywords and the second positional
    argument of ``NewEvent(device, kind, …)``."""
    found: list[ast.expr] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        found.extend(k.value for k in node.keywords if k.arg == "kind")
        name = node.func.id if isinstance(node.func, ast.Name) else (
            node.func.attr if isinstance(node.func, ast.Attribute) else "")
        if name == "NewEvent" and len(node.args) >= 2:
            found.append(node.args[1])
    return found


def test_no_part_retypes_an_event_kind_as_a_string() -> None:
    retyped = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in KINDS:
                retyped.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value!r}")
    assert retyped == [], "use contract.Kind instead of:\n" + "\n".join(retyped)


def test_every_literal_event_kind_is_a_kind_the_contract_knows() -> None:
    unknown = []
    for path in _sources():
        for expr in _kind_arguments(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(expr, ast.Constant) and isinstance(expr.value, str)
                    and KIND_SHAPE.match(expr.value) and expr.value not in KINDS):
                unknown.append(f"{path.relative_to(REPO)}:{expr.lineno}: {expr.value!r}")
    assert unknown == []


def test_the_scan_would_see_a_retyped_kind() -> None:
    tree = ast.parse('NewEvent("g1", "gate.recovered", {}, ts)\nf(kind="gate.exploded")')
    literals = [str(e.value) for e in _kind_arguments(tree) if isinstance(e, ast.Constant)]
    assert sorted(literals) == ["gate.exploded", "gate.recovered"]
    assert "gate.recovered" in KINDS and "gate.exploded" not in KINDS


def test_kinds_the_parts_emit_are_in_the_contract() -> None:
    assert {Kind.GATE_CLOSED, Kind.GATE_RECOVERED, Kind.UITD_RESTORED} <= KINDS
    for kind in KINDS:
        assert KIND_SHAPE.match(kind) or kind in (Kind.INGEST_QUARANTINED,
                                                  Kind.INGEST_CONFLICT), kind


def test_every_kind_has_a_payload_type() -> None:
    assert set(PAYLOADS) == KINDS


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_priorities_alarm_then_access_then_telemetry(kind: str) -> None:
    family = kind.split(".")[0]
    telemetry = {Kind.METER_READING, Kind.FIRE_ANALOG, Kind.ELEVATOR_STATE, Kind.PLATE_EVIDENCE,
                 Kind.PATROL_TAG_SEEN, Kind.INGEST_QUARANTINED, Kind.INGEST_CONFLICT}
    if kind in telemetry:
        expected = Priority.TELEMETRY
    elif family in ("fire", "uitd", "elevator", "linkage") or kind in (
            Kind.DOOR_FORCED, Kind.ACCESS_DURESS, Kind.READER_TAMPER,
            Kind.PATROL_CHECKPOINT_MISSED, Kind.PATROL_ROUND_MISSED, Kind.PATROL_TAG_CLONED):
        expected = Priority.ALARM
    else:
        expected = Priority.ACCESS  # access, parking, gates, money, device presence, visits
    assert priority_for(kind) == expected
