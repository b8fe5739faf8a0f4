"""Rule files as an installer writes them: the shipped defaults, and files with mistakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.rules import (
    Nothing,
    OpenWorkOrder,
    RulesError,
    RuleSet,
    default_rules,
    load_rules,
)
from cloud.rules.load import DEFAULT_FILE


def order_for(rs: RuleSet, kind: str) -> OpenWorkOrder:
    rule = rs.for_kind(kind)[0]
    assert isinstance(rule.then, OpenWorkOrder), (kind, rule)
    return rule.then


def test_default_file_covers_every_required_kind() -> None:
    rs = default_rules()
    expected = {
        "elevator.fault": ("elevator", "high", "elevator"),
        "fire.fault": ("fire", "high", "fire"),
        "gate.fault": ("gate", "high", "gate"),
        "camera.degraded": ("camera", "normal", "camera"),
        "meter.anomaly": ("meter", "normal", "electrician"),
        "buffer.dropped": ("network", "low", "network"),
        "device.offline": ("device", "normal", "electrician"),
    }
    for kind, (category, priority, skill) in expected.items():
        order = order_for(rs, kind)
        assert (order.category, order.priority, order.skill) == (category, priority, skill), kind
        assert rs.category(order.category) is not None
        assert order.title_zh and order.title_en
        assert order.sla_resolve_s >= order.sla_response_s


def test_trapped_passenger_is_an_urgent_rescue_with_a_30_minute_sla() -> None:
    order = order_for(default_rules(), "elevator.trapped")
    assert (order.category, order.priority, order.skill) == ("elevator_rescue", "urgent",
                                                             "elevator")
    assert (order.sla_response_s, order.sla_resolve_s) == (300, 1800)


def test_device_offline_waits_ten_minutes_and_traffic_is_explicitly_nothing() -> None:
    rs = default_rules()
    offline = rs.for_kind("device.offline")
    assert offline and all(r.when.offline_for_s == 600 for r in offline)
    assert {r.then.skill for r in offline if isinstance(r.then, OpenWorkOrder)} == {
        "electrician", "network"}
    for kind in ("plate.read", "meter.reading", "parking.entry", "parking.exit",
                 "parking.refused"):
        assert isinstance(rs.for_kind(kind)[0].then, Nothing), kind


def test_trapped_sla_is_configurable(tmp_path: Path) -> None:
    text = DEFAULT_FILE.read_text(encoding="utf-8").replace(
        "sla_resolve_s: 1800", "sla_resolve_s: 2400", 1)
    f = tmp_path / "site.yaml"
    f.write_text(text, encoding="utf-8")
    assert order_for(load_rules(f), "elevator.trapped").sla_resolve_s == 2400


BAD = """\
rules:
  - id: trapped
    on: [elevator.trapped]
    when:
      severity: [major]
    then:
      work_order:
        category: elevator_rescu
        priority: asap
        skill: elevator
        title_zh: 困人
        title_en: Trapped
  - id: trapped
    on: [elevtor.fault, gate.fault]
    then:
      work_order:
        category: gate
        priority: high
        sla_response_s: 3600
        sla_resolve_s: 600
        skill: gate
        title_zh: 道闸
        title_en: Gate
  - id: late
    on: device.offline
    when: {offline_for_s: ten}
    then: {nothing: ok, alarm: {severity: major}}
"""


def test_a_file_with_several_mistakes_lists_them_all_in_line_order(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(BAD, encoding="utf-8")
    with pytest.raises(RulesError) as exc:
        load_rules(f)
    got = [(p.line, p.col) for p in exc.value.problems]
    assert got == [(5, 7), (8, 19), (9, 19), (13, 9), (14, 10), (20, 24), (26, 27), (27, 11)]
    text = [str(p) for p in exc.value.problems]
    assert text[0].startswith(f"{f}:5:7: rules[0].when: ")
    assert 'did you mean "severities"?' in text[0]
    assert 'did you mean "elevator_rescue"?' in text[1]
    assert 'unknown priority "asap"' in text[2]
    assert 'duplicate rule id "trapped"' in text[3]
    assert 'unknown family elevtor.' in text[4]
    assert "shorter than response SLA" in text[5]
    assert "positive number of seconds" in text[6]
    assert "exactly one action" in text[7]


def test_an_error_in_one_file_refuses_the_whole_set(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "rules:\n  - id: ok\n    on: gate.fault\n    then: {nothing: later}\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text(
        "rules:\n  - id: ok\n    on: gate.fault\n    then: {alarm: {severity: loud}}\n",
        encoding="utf-8")
    with pytest.raises(RulesError) as exc:
        load_rules(tmp_path)
    assert [(Path(p.file).name, p.line) for p in exc.value.problems] == [("b.yaml", 2),
                                                                       ("b.yaml", 4)]


@pytest.mark.parametrize(("snippet", "message"), [
    ("on: gate.*\n    when: {offline_for_s: 60}", "only applies to device.offline"),
    ("on: gate.fault\n    when: {repeat: {count: 1, within_s: 60}}", "at least 2"),
    ("on: gate.fault\n    enabled: sometimes", "true or false"),
    ("on: [gate.fault]\n    when: {severities: [loud]}", 'unknown severity "loud"'),
    ("on: gate.**", 'unreadable event kind "gate.**"'),
])
def test_each_mistake_is_named(tmp_path: Path, snippet: str, message: str) -> None:
    f = tmp_path / "r.yaml"
    f.write_text(f"rules:\n  - id: r\n    {snippet}\n    then: {{nothing: x}}\n",
                 encoding="utf-8")
    with pytest.raises(RulesError) as exc:
        load_rules(f)
    assert any(message in str(p) for p in exc.value.problems), exc.value


def test_site_file_without_categories_uses_the_default_categories(tmp_path: Path) -> None:
    f = tmp_path / "site.yaml"
    f.write_text("rules:\n  - id: door\n    on: door.forced\n    then:\n      work_order:\n"
                 "        category: repair\n        priority: high\n        skill: locksmith\n"
                 "        title_zh: 门被撬\n        title_en: Door forced\n", encoding="utf-8")
    order = order_for(load_rules(f), "door.forced")
    assert (order.sla_response_s, order.sla_resolve_s) == (1800, 14400)  # "high" defaults
