"""Alarms and work orders run on one lifecycle kit: a refused action names the current state
and what may be done instead, in the words guards and technicians already see."""

from __future__ import annotations

import pytest

from cloud.alarms.policy import LIFECYCLE as ALARMS
from cloud.lifecycle import Lifecycle, Refusal, Transition, TransitionRefused
from cloud.workorders.states import LIFECYCLE as WORKORDERS


def test_a_closed_alarm_cannot_be_acknowledged() -> None:
    with pytest.raises(TransitionRefused) as err:
        ALARMS.check("acknowledge", "resolved")
    assert (err.value.state, err.value.allowed) == ("resolved", [])
    assert err.value.zh == "告警当前状态为“已处理”，不能确认"
    assert err.value.en == "cannot acknowledge an alarm that is resolved"
    assert ALARMS.refused("false_alarm", "false_alarm").en == (
        "cannot false alarm an alarm that is false_alarm")


def test_an_open_alarm_may_skip_acknowledge() -> None:
    assert ALARMS.check("resolve", "open").after("open") == "resolved"
    assert ALARMS.allowed_from("acknowledged") == ["start", "resolve", "false_alarm"]


def test_a_work_order_refusal_lists_what_is_allowed() -> None:
    with pytest.raises(TransitionRefused) as err:
        WORKORDERS.check("complete", "pool")
    assert err.value.allowed == ["assign", "grab", "cancel"]
    assert err.value.zh == "工单当前状态为“待派单”，不能完工；可执行：assign, grab, cancel"
    assert err.value.en == ("cannot complete a work order that is pool; "
                            "allowed: assign, grab, cancel")
    assert WORKORDERS.refused("rate", "cancelled").zh == (
        "工单当前状态为“已取消”，不能评价；可执行：无")


def test_an_action_that_only_records_keeps_the_state() -> None:
    assert WORKORDERS.check("log_work", "paused").after("paused") == "paused"


def test_a_table_naming_a_state_it_does_not_have_is_refused_at_import() -> None:
    with pytest.raises(ValueError, match="closed"):
        Lifecycle({"open": "未处理"}, [Transition("close", "关闭", ("open",), "closed")],
                  Refusal("{state_zh}", "{state}"))
