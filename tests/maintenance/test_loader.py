"""Plan files: the shipped one loads; mistakes name the line and how to fix them."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.maintenance.loader import load_plans
from yamlcheck.problems import ConfigError

PLANS = Path(__file__).resolve().parents[2] / "configs" / "maintenance" / "plans.yaml"

GOOD_PLAN = """\
plans:
  - id: lift
    asset_kind: elevator
    skill: elevator
    category: elevator.maintenance
    release_days_ahead: 3
    sla_resolve_s: 86400
    start: 2027-01-01
    tiers:
      - {name: half_month, zh: 半月, en: half-month, every: 15d, checklist: [brake]}
      - {name: quarterly, zh: 季度, en: quarterly, every: 3m, checklist: [ropes]}
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "plans.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_plans(path)
    return [str(p) for p in err.value.problems]


def test_the_shipped_plans_load() -> None:
    plans = {p.id: p for p in load_plans(PLANS)}
    assert set(plans) == {"elevator-tsg-t5002", "fire-monthly", "meter-calibration"}
    lift = plans["elevator-tsg-t5002"]
    assert [(t.name, t.every) for t in lift.tiers] == [
        ("half_month", "15d"), ("quarterly", "3m"), ("half_year", "6m"), ("annual", "1y")]
    assert all(t.checklist and t.zh and t.en for t in lift.tiers)
    assert lift.release_days_ahead == 3 and lift.skill == "elevator"


def test_a_good_file_loads(tmp_path: Path) -> None:
    (plan,) = load_plans(write(tmp_path, GOOD_PLAN))
    assert plan.tier("quarterly").checklist == ("ropes",)


def test_an_unknown_cadence_names_its_line_and_the_fix(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_PLAN.replace("every: 3m", "every: quarterly"))
    (msg,) = problems(path)
    assert msg.startswith(f"{path}:11:")
    assert 'unknown cadence "quarterly"' in msg and "e.g. every: 15d" in msg


def test_a_cadence_not_a_multiple_of_the_visit_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_PLAN.replace("every: 15d", "every: 2m"))
    (msg,) = problems(path)
    assert msg.startswith(f"{path}:11:")  # the quarterly tier's every:
    assert "quarterly: 3m is not a whole multiple" in msg and "— " in msg


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    text = (GOOD_PLAN.replace("release_days_ahead: 3", "release_days_ahead: -1")
            .replace("start: 2027-01-01", "start: soon")
            .replace("    skill: elevator\n", "    skil: elevator\n"))
    got = problems(write(tmp_path, text))
    joined = "\n".join(got)
    assert len(got) == 4, joined
    assert ':4:5: 计划 lift 中未知的字段 "skil"' in joined and "known fields:" in joined
    assert ':2:5: 计划 lift 缺少字段 "skill"' in joined and "add skill: …" in joined
    assert ":6:25:" in joined and "at least 0" in joined
    assert ":8:12:" in joined and "write YYYY-MM-DD" in joined


def test_duplicate_plan_ids_point_at_the_first(tmp_path: Path) -> None:
    second = GOOD_PLAN.split("plans:\n", 1)[1]
    (msg,) = problems(write(tmp_path, GOOD_PLAN + second))
    assert ":12:9:" in msg and "plan id lift repeated (already at line 2)" in msg


def test_a_file_without_plans_says_how_to_start(tmp_path: Path) -> None:
    (msg,) = problems(write(tmp_path, "plan: []\n"))
    assert "the top-level plans list is missing" in msg and "start with plans:" in msg


def test_a_missing_file_is_one_clear_problem(tmp_path: Path) -> None:
    (msg,) = problems(tmp_path / "nope.yaml")
    assert "file not found" in msg
