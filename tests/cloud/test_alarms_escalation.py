"""Escalation moves an unacknowledged alarm up the chain of roles, per severity, with a fake
clock; and the alarm policy file overrides the defaults or says exactly what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.alarms import DEFAULT_POLICY, AlarmPolicyError, check_once, load_policy
from cloud.alarms.lifecycle import act
from cloud.alarms.policy import policy_from_dict
from cloud.alarms.tables import Alarm, AlarmAction
from cloud.features import default_registry
from cloud.ingest import Ingestor
from cloud.settings import Settings
from tests.cloud.test_alarms_ingest import Edge, all_alarms, elevator_data, fire_data


async def escalations(sessions: async_sessionmaker[AsyncSession],
                      alarm_id: int) -> list[tuple[int | None, str | None]]:
    async with sessions() as s:
        return [(a.level, a.role) for a in (await s.scalars(
            select(AlarmAction).where(AlarmAction.alarm_id == alarm_id,
                                      AlarmAction.action == "escalated")
            .order_by(AlarmAction.id))).all()]


async def test_unacknowledged_alarms_go_up_the_chain_by_severity(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    edge = Edge(sessions)
    clock = edge.clock
    await edge.send(edge.event("fire.alarm", fire_data()),                 # critical: 60 s
                    edge.event("fire.alarm", fire_data(zone=11)),          # critical, acked
                    edge.event("elevator.fault", elevator_data(code=11, key="door_close_fault"),
                               device="elevator-2"))                       # major: 300 s
    fire, acked, lift = await all_alarms(sessions)
    await act(sessions, acked.id, "acknowledge", "guard-1", None, clock.now())

    clock.advance(59)
    assert await check_once(sessions, clock, DEFAULT_POLICY) == []
    clock.advance(1)
    assert await check_once(sessions, clock, DEFAULT_POLICY) == [fire.id]
    assert await check_once(sessions, clock, DEFAULT_POLICY) == []  # once per level
    clock.advance(60)
    assert await check_once(sessions, clock, DEFAULT_POLICY) == [fire.id]
    clock.advance(180)  # 300 s: the elevator fault's first window; the fire is at the top
    assert await check_once(sessions, clock, DEFAULT_POLICY) == [lift.id]
    clock.advance(3600)
    assert await check_once(sessions, clock, DEFAULT_POLICY) == [lift.id]
    assert await check_once(sessions, clock, DEFAULT_POLICY) == []

    by_id = {a.id: a for a in await all_alarms(sessions)}
    assert (by_id[fire.id].escalated, by_id[fire.id].escalation_level) == (True, 2)
    assert await escalations(sessions, fire.id) == [(1, "security_supervisor"),
                                                    (2, "property_manager")]
    assert (by_id[acked.id].escalated, by_id[acked.id].escalation_level) == (False, 0)
    # Hours late, the elevator fault still records each role it passed.
    assert await escalations(sessions, lift.id) == [(1, "security_supervisor"),
                                                    (2, "property_manager")]
    assert by_id[lift.id].state == "open" and by_id[lift.id].escalated_at == clock.now()


async def test_acknowledging_stops_escalation(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    edge = Edge(sessions)
    await edge.send(edge.event("camera.degraded", {"v": 1, "reason": "blur"},
                               device="cam-in"))  # minor: 1800 s
    [alarm] = await all_alarms(sessions)
    edge.clock.advance(1800)
    assert await check_once(sessions, edge.clock, DEFAULT_POLICY) == [alarm.id]
    await act(sessions, alarm.id, "acknowledge", "guard-1", None, edge.clock.now())
    edge.clock.advance(3600)
    assert await check_once(sessions, edge.clock, DEFAULT_POLICY) == []
    [after] = await all_alarms(sessions)
    assert (after.state, after.escalation_level, after.escalated) == ("acknowledged", 1, True)


async def test_a_policy_file_sets_windows_chain_and_rules(
        tmp_path: Path, sessions: async_sessionmaker[AsyncSession]) -> None:
    path = tmp_path / "alarms.yaml"
    path.write_text("""
escalation:
  ack_timeout_s: {critical: 10}
  chain:
    - {role: guard, zh: 保安, en: guard}
    - {role: duty_manager, zh: 值班经理, en: duty manager}
rules:
  fire.shielded: {severity: major}
  camera.degraded: null
  access.denied: {severity: minor, title: {zh: 门禁拒绝, en: Access denied}, source: [door]}
""", encoding="utf-8")
    policy = load_policy(path)
    chosen = Settings.from_env({"COURTYARD_ALARM_POLICY": str(path)}).alarm_policy_path
    assert load_policy(chosen) == policy
    assert policy.escalation.ack_timeout_s["major"] == 300  # untouched defaults stay
    edge = Edge(sessions)
    edge.ingestor = Ingestor(sessions, edge.clock, default_registry(policy))
    await edge.send(edge.event("fire.alarm", fire_data()),
                    edge.event("fire.shielded", fire_data("fire.shielded")),
                    edge.event("camera.degraded", {"v": 1}, device="cam-in"),
                    edge.event("access.denied", {"v": 1, "door": "1-unit-door"},
                               device="door-1"))
    alarms = await all_alarms(sessions)
    assert [(a.kind, a.severity) for a in alarms] == [
        ("fire.alarm", "critical"), ("fire.shielded", "major"), ("access.denied", "minor")]
    edge.clock.advance(10)
    assert await check_once(sessions, edge.clock, policy) == [alarms[0].id]
    assert await escalations(sessions, alarms[0].id) == [(1, "duty_manager")]
    async with sessions() as s:
        top = (await s.scalars(select(Alarm).where(Alarm.id == alarms[0].id))).one()
    assert top.escalation_level == policy.escalation.max_level == 1


@pytest.mark.parametrize(("doc", "where"), [
    ({"rules": {"fire.alarm": {"severity": "urgent"}}}, "rules.fire.alarm.severity"),
    ({"rules": {"fire.alarm": {"colour": "red"}}}, "rules.fire.alarm.colour"),
    ({"rules": {"x.y": {"title": {"zh": "只有中文"}}}}, "rules.x.y.title"),
    ({"rules": {"fire.restored": {"severity": "minor"}}}, "rules.fire.restored"),
    ({"escalation": {"ack_timeout_s": {"critical": 0}}}, "escalation.ack_timeout_s.critical"),
    ({"escalation": {"ack_timeout_s": {"urgent": 5}}}, "escalation.ack_timeout_s"),
    ({"escalation": {"chain": []}}, "escalation.chain"),
    ({"escalation": {"chain": [{"role": "guard"}]}}, "escalation.chain[0]"),
    ({"alarms": {}}, "alarms"),
])
def test_a_bad_policy_names_the_field(doc: dict[str, object], where: str) -> None:
    with pytest.raises(AlarmPolicyError) as caught:
        policy_from_dict(doc, "f.yaml")
    assert caught.value.where == f"f.yaml.{where}"


def test_the_shipped_example_policy_loads_and_a_missing_file_is_named(
        repo_root: Path, tmp_path: Path) -> None:
    example = load_policy(repo_root / "configs" / "alarms" / "example.yaml")
    assert example.escalation.chain[0].key == "guard"
    with pytest.raises(AlarmPolicyError) as caught:
        load_policy(tmp_path / "missing.yaml")
    assert caught.value.where.endswith("missing.yaml")
    assert load_policy(None) is DEFAULT_POLICY



async def test_a_patrol_plans_own_escalation_window_is_the_alarms(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    """A missed checkpoint escalates to the supervisor after its plan's ``escalate_s``
    (120 s here), not the 300 s of a major alarm."""
    edge = Edge(sessions)
    await edge.send(edge.event("patrol.checkpoint_missed", {
        "plan": "night", "round": "night@2026-12-07T14:00:00Z", "checkpoint": "cp-gate",
        "deadline": "2026-12-07T14:05:00Z", "escalate_s": 120,
        "message": "漏巡点：北门 / checkpoint missed: north gate"}, device="patrol"))
    [alarm] = await all_alarms(sessions)
    assert alarm.severity == "major"
    edge.clock.advance(119)
    assert await check_once(sessions, edge.clock, DEFAULT_POLICY) == []
    edge.clock.advance(1)
    assert await check_once(sessions, edge.clock, DEFAULT_POLICY) == [alarm.id]
    assert await escalations(sessions, alarm.id) == [(1, "security_supervisor")]
