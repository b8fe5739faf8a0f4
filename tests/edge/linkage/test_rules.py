"""Linkage rules from the site YAML: defaults, and a wrong rule named at startup."""

from __future__ import annotations

import pytest
import yaml

from edge.linkage import LinkageRule, default_rules, rules_from_config
from edge.linkage.model import event_building, place_text
from tests.edge.linkage.conftest import fire


def test_no_rules_section_means_everything_on_every_fire() -> None:
    assert rules_from_config(None) == default_rules()
    [rule] = default_rules()
    assert rule.on == ("fire.alarm",) and rule.raise_gates == "all"
    assert rule.unlock_doors and rule.recall_elevators and rule.alarm
    assert rule.include_test_mode and not rule.reset_on_panel_reset
    assert rules_from_config([]) == []


def test_rules_from_yaml() -> None:
    doc = yaml.safe_load("""
        - id: tower-a
          buildings: [1, "2"]
          raise_gates: [gate-in]
          recall_elevators: false
          reset_on_panel_reset: true
        - id: garage
          on: fire.alarm
          raise_gates: all
          unlock_doors: false
    """)
    tower, garage = rules_from_config(doc)
    assert tower == LinkageRule(id="tower-a", buildings=("1", "2"), raise_gates=("gate-in",),
                                recall_elevators=False, reset_on_panel_reset=True)
    assert garage.on == ("fire.alarm",) and garage.raise_gates == "all"
    assert not garage.unlock_doors
    [one] = rules_from_config([{"id": "one", "raise_gates": "gate-in"}])
    assert one.raise_gates == ("gate-in",)


@pytest.mark.parametrize(("raw", "names"), [
    ({"buildings": ["1"]}, "must be a list"),
    ([{"id": "a", "recall": True}], "recall"),
    ([{"id": "a", "alarm": "yes"}], "alarm"),
    ([{"id": "a", "raise_gates": {"gate-in": 1}}], "raise_gates"),
    ([{"id": "a", "on": ["fire.operation"]}], "fire.operation"),
    ([{"id": "a"}, {"id": "a"}], "duplicate"),
    ([{"buildings": ["1"]}], "id"),
])
def test_a_wrong_rule_is_named(raw: object, names: str) -> None:
    with pytest.raises(ValueError, match=names):
        rules_from_config(raw)


def test_building_matching() -> None:
    rule = LinkageRule(id="b2", buildings=("2",))
    assert rule.matches(fire("2")) and not rule.matches(fire("1"))
    # Unknown location could be building 2: the rule applies, to its own buildings.
    assert rule.matches(fire(None))
    assert rule.target_buildings(None) == ("2",)
    assert LinkageRule(id="any").target_buildings(None) == ("*",)
    assert event_building(fire(None)) is None
    ev = fire("1")
    ev.data["location"]["building"] = 1
    assert event_building(ev) == "1"


def test_places_read_naturally() -> None:
    assert place_text("1", {"floor": "3"}) == "1号楼 3层 / building 1, floor 3"
    assert place_text("1栋", {"floor": "3层"}).startswith("1栋 3层 / ")
    assert "all buildings" in place_text(None)
