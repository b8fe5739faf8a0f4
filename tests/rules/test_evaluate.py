"""Events through the rule engine: thresholds, offline timers, wildcards and folding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cloud.rules import (
    EventFacts,
    Nothing,
    OpenAlarm,
    OpenWorkOrder,
    RuleEngine,
    default_rules,
    load_rules,
)
from contract.clock import FakeClock

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def ev(kind: str, at: float = 0, device: str = "dev-1", device_type: str | None = None,
       site: str = "s1", **data: Any) -> EventFacts:
    return EventFacts(site, kind, device, device_type, T0 + timedelta(seconds=at), data)


def engine(tmp_path: Path, text: str) -> RuleEngine:
    f = tmp_path / "r.yaml"
    f.write_text(text, encoding="utf-8")
    return RuleEngine(load_rules(f), FakeClock(T0))


def test_trapped_passenger_opens_an_urgent_order_timed_from_the_device_event() -> None:
    eng = RuleEngine(default_rules(), FakeClock(T0 + timedelta(minutes=3)))
    [d] = eng.decide(ev("elevator.trapped", device="lift-2"))
    assert isinstance(d.action, OpenWorkOrder) and d.action.priority == "urgent"
    assert d.cause_ts == T0 and d.rule_id == "elevator-trapped"


REPEAT = """\
rules:
  - id: gate-often
    on: gate.fault
    when: {repeat: {count: 3, within_s: 600}}
    then: {alarm: {severity: major}}
  - id: gate-once
    on: gate.fault
    then: {nothing: one fault is noise}
"""


def test_repeat_n_within_m_fires_from_the_nth_event_and_falls_through_before(
        tmp_path: Path) -> None:
    eng = engine(tmp_path, REPEAT)
    rules = [eng.decide(ev("gate.fault", at))[0].rule_id for at in (0, 100, 200, 300)]
    assert rules == ["gate-once", "gate-once", "gate-often", "gate-often"]


def test_repeat_window_slides_and_is_per_device(tmp_path: Path) -> None:
    eng = engine(tmp_path, REPEAT)
    # 0, 400, 900: never 3 within 600 s
    assert [eng.decide(ev("gate.fault", at))[0].rule_id for at in (0, 400, 900)] == [
        "gate-once"] * 3
    # two faults on another device do not count towards dev-1
    eng.decide(ev("gate.fault", 950, device="dev-2"))
    eng.decide(ev("gate.fault", 960, device="dev-2"))
    [d] = eng.decide(ev("gate.fault", 1000))
    assert d.rule_id == "gate-often" and d.count == 3 and isinstance(d.action, OpenAlarm)


def test_offline_order_comes_due_only_if_the_device_stays_offline() -> None:
    clock = FakeClock(T0)
    eng = RuleEngine(default_rules(), clock)
    assert eng.decide(ev("device.offline", 0, device="meter-7", device_type="meter")) == []
    assert eng.decide(ev("device.offline", 0, device="cam-1", device_type="camera")) == []
    assert eng.due(T0 + timedelta(seconds=599)) == []
    # the camera is back after 5 minutes: no order for it
    eng.decide(ev("device.online", 300, device="cam-1", device_type="camera"))
    [d] = eng.due(T0 + timedelta(seconds=600))
    assert d.rule_id == "meter-offline" and d.device == "meter-7" and d.cause_ts == T0
    assert isinstance(d.action, OpenWorkOrder) and d.action.skill == "electrician"
    assert eng.due(T0 + timedelta(hours=1)) == []  # returned once


def test_a_return_after_the_deadline_does_not_cancel_and_a_late_online_still_counts() -> None:
    eng = RuleEngine(default_rules(), FakeClock(T0))
    eng.decide(ev("device.offline", 0, device="gw"))
    eng.decide(ev("device.online", 700, device="gw"))  # back, but after 10 minutes
    assert [d.rule_id for d in eng.due(T0 + timedelta(seconds=800))] == ["device-offline"]
    # an "online" that overtook its "offline" in transit still means a short drop
    eng.decide(ev("device.online", 1060, device="gw"))
    assert eng.decide(ev("device.offline", 1000, device="gw")) == []
    assert eng.due(T0 + timedelta(hours=2)) == []


def test_due_defaults_to_the_injected_clock() -> None:
    clock = FakeClock(T0 + timedelta(seconds=601))
    eng = RuleEngine(default_rules(), clock)
    eng.decide(ev("device.offline", 0, device="gw"))
    assert [d.device for d in eng.due()] == ["gw"]


def test_wildcard_matches_the_family_and_specific_rules_placed_first_win(
        tmp_path: Path) -> None:
    eng = engine(tmp_path, """\
rules:
  - id: fire-fault
    on: fire.fault
    then: {alarm: {severity: minor}}
  - id: fire-rest
    on: fire.*
    then: {nothing: the alarm module handles it}
""")
    assert eng.decide(ev("fire.fault"))[0].rule_id == "fire-fault"
    assert eng.decide(ev("fire.shielded"))[0].rule_id == "fire-rest"
    assert isinstance(eng.decide(ev("fire.alarm"))[0].action, Nothing)
    assert eng.decide(ev("firework.alarm")) == []
    assert eng.decide(ev("uitd.fault")) == []
    assert RuleEngine(default_rules(), FakeClock(T0)).decide(ev("parking.exit"))[0].rule_id \
        == "parking"


def test_conditions_on_building_device_type_and_severity(tmp_path: Path) -> None:
    eng = engine(tmp_path, """\
rules:
  - id: b3-lift
    on: elevator.fault
    when: {buildings: ["3"], device_types: [elevator], severities: [major, critical]}
    then: {alarm: {severity: critical}}
""")
    assert eng.decide(ev("elevator.fault", device_type="elevator", building="3",
                         severity="major"))
    assert eng.decide(ev("elevator.fault", device_type="elevator",
                         location={"building": 3}, severity="critical"))
    assert not eng.decide(ev("elevator.fault", device_type="elevator", building="4",
                             severity="major"))
    assert not eng.decide(ev("elevator.fault", device_type="elevator", building="3",
                             severity="minor"))
    assert not eng.decide(ev("elevator.fault", device_type=None, building="3",
                             severity="major"))


def test_disabled_rule_is_skipped_and_a_yes_no_word_id_stays_text(tmp_path: Path) -> None:
    eng = engine(tmp_path, "rules:\n  - id: off\n    on: gate.fault\n    enabled: false\n"
                 "    then: {alarm: {severity: minor}}\n")
    assert eng.decide(ev("gate.fault")) == []


def test_fifty_flaps_of_one_device_share_one_fold_key() -> None:
    eng = RuleEngine(default_rules(), FakeClock(T0))
    keys = set()
    for i in range(50):
        eng.decide(ev("device.offline", i * 12, device="gate-1", device_type="gate"))
        eng.decide(ev("device.online", i * 12 + 6, device="gate-1", device_type="gate"))
        keys |= {d.fold_key for d in eng.decide(ev("gate.fault", i * 12 + 1, device="gate-1"))}
    assert eng.due(T0 + timedelta(hours=1)) == []  # every drop was short: no offline order
    assert keys == {"s1:gate-1:gate-fault"}
    other = eng.decide(ev("gate.fault", 0, device="gate-2"))[0].fold_key
    assert other != "s1:gate-1:gate-fault"


def test_state_stays_bounded(tmp_path: Path) -> None:
    f = tmp_path / "r.yaml"
    f.write_text(REPEAT, encoding="utf-8")
    eng = RuleEngine(load_rules(f), FakeClock(T0), max_keys=10)
    for i in range(100):
        eng.decide(ev("gate.fault", i, device=f"d{i}"))
        eng.decide(ev("device.offline", i, device=f"d{i}"))
    assert len(eng._windows) == 10 and eng.pending() == 0  # no offline rule in REPEAT


def test_fifty_long_outages_of_one_device_fold_into_one_key() -> None:
    eng = RuleEngine(default_rules(), FakeClock(T0))
    keys = []
    for i in range(50):
        start = i * 1000
        eng.decide(ev("device.offline", start, device="cam-9", device_type="camera"))
        keys += [d.fold_key for d in eng.due(T0 + timedelta(seconds=start + 600))]
        eng.decide(ev("device.online", start + 700, device="cam-9", device_type="camera"))
    assert len(keys) == 50 and set(keys) == {"s1:cam-9:device-offline"}
