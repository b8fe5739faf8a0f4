"""The default rules for access control: a controller offline and a card reader fault open
work orders at once; a door forced or held open opens one only the third time within an hour
(a single one is the alarm module's), and ordinary passes open nothing."""

from __future__ import annotations

from datetime import timedelta

from cloud.rules import Nothing, OpenWorkOrder, RuleEngine, default_rules
from contract.clock import FakeClock
from tests.rules.test_evaluate import T0, ev


def test_controller_offline_and_reader_faults_open_access_work_orders() -> None:
    eng = RuleEngine(default_rules(), FakeClock(T0))
    for kind, rule in (("controller.offline", "controller-offline"),
                       ("reader.offline", "reader-fault"), ("reader.tamper", "reader-fault")):
        [d] = eng.decide(ev(kind, device="c1"))
        assert isinstance(d.action, OpenWorkOrder) and d.rule_id == rule
        assert (d.action.category, d.action.skill) == ("access", "access")


def test_a_door_that_keeps_failing_opens_a_work_order_the_third_time_in_an_hour() -> None:
    eng = RuleEngine(default_rules(), FakeClock(T0 + timedelta(hours=1)))
    got = [eng.decide(ev(kind, at, device="1-east"))[0]
           for kind, at in (("door.forced", 0), ("door.held_open", 600), ("door.forced", 1200))]
    assert [d.rule_id for d in got] == ["access-traffic", "access-traffic", "door-keeps-failing"]
    assert isinstance(got[2].action, OpenWorkOrder) and got[2].action.priority == "high"
    [other] = eng.decide(ev("door.forced", 1300, device="2-east"))
    assert isinstance(other.action, Nothing)


def test_passes_and_refusals_open_nothing() -> None:
    eng = RuleEngine(default_rules(), FakeClock(T0))
    for kind in ("access.granted", "access.denied", "door.opened", "reader.online"):
        [d] = eng.decide(ev(kind))
        assert isinstance(d.action, Nothing), kind
