"""Every installer file on the one positioned reader: all problems at once, FILE:LINE:COL."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.alarms.policy import DEFAULT_POLICY, AlarmPolicyError, load_policy
from yamlcheck.cli import run_check
from yamlcheck.positions import parse_yaml, plain, where_is
from yamlcheck.problems import ConfigError, Problem

BAD_POLICY = """\
rules:
  fire.alarm: {severity: urgent}
  fire.restored: {severity: minor}
  gate.fault:
    colour: red
escalation:
  ack_timeout_s: {critical: 0}
alarms: {}
"""


def test_an_alarm_policy_file_reports_every_problem_at_its_position(tmp_path: Path) -> None:
    path = tmp_path / "alarms.yaml"
    path.write_text(BAD_POLICY, encoding="utf-8")
    with pytest.raises(AlarmPolicyError) as caught:
        load_policy(path)
    lines = str(caught.value).splitlines()
    assert [line.split(": ", 2)[:2] for line in lines] == [
        [f"{path}:2:16", "rules.fire.alarm.severity"],
        [f"{path}:3:3", "rules.fire.restored"],
        [f"{path}:5:5", "rules.gate.fault.colour"],
        [f"{path}:7:19", "escalation.ack_timeout_s.critical"],
        [f"{path}:8:1", "alarms"],
    ]
    assert "must be one of critical, major, minor; got 'urgent'" in lines[0]
    assert caught.value.where.endswith("alarms.yaml.alarms")  # the first found, as before


def test_an_alarm_policy_with_a_syntax_error_or_nothing_in_it(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules:\n  fire.alarm: {severity: major\n", encoding="utf-8")
    with pytest.raises(AlarmPolicyError) as caught:
        load_policy(broken)
    assert str(caught.value).startswith(f"{broken}:3:1: YAML 语法错误")
    empty = tmp_path / "empty.yaml"
    empty.write_text("# 暂无覆盖 / no overrides yet\n", encoding="utf-8")
    assert load_policy(empty) == DEFAULT_POLICY


def test_where_is_follows_keys_with_dots_and_list_items() -> None:
    doc = plain(parse_yaml("rules:\n  fire.alarm:\n    severity: x\nchain:\n  - {role: a}\n"
                           "  - {role: b}\n", "p.yaml"))
    pos = where_is(doc, "p.yaml", "p.yaml.rules.fire.alarm.severity")
    assert pos is not None and (pos.line, pos.col) == (3, 5)
    pos = where_is(doc, "p.yaml", "p.yaml.chain[1].role")
    assert pos is not None and (pos.line, pos.col) == (6, 6)
    pos = where_is(doc, "p.yaml", "p.yaml.rules.gate.fault")  # not there: its nearest parent
    assert pos is not None and (pos.line, pos.col) == (1, 1)


def test_plain_types_keys_as_safe_load_does() -> None:
    doc = plain(parse_yaml('values: {0: stopped, "1": up, 0x2: down}\n', "v.yaml"))
    assert doc == {"values": {0: "stopped", "1": "up", 2: "down"}}
    assert (doc["values"].pos_of(2).line, doc["values"].pos_of(2).col) == (1, 31)


def test_run_check_prints_every_problem_a_count_and_exits_2(
        capsys: pytest.CaptureFixture[str]) -> None:
    def bad() -> int:
        raise ConfigError([Problem("f.yaml", 1, 2, "错 / wrong", "改 / fix"),
                           Problem("f.yaml", 3, 1, "又错 / wrong again", "")])

    assert run_check(bad, lambda n: [f"OK {n}"], zh_tail="，未采用", en_tail=", refused") == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == ["f.yaml:1:2: 错 / wrong — 改 / fix",
                                "f.yaml:3:1: 又错 / wrong again",
                                "2 个错误，未采用 / 2 errors, refused"]
    assert run_check(lambda: 7, lambda n: [f"OK {n}"]) == 0
    assert capsys.readouterr() == ("OK 7\n", "")
