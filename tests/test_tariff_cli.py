"""`courtyard tariff check|quote` run as the installer runs it: `python -m courtyard ...`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RESIDENTIAL = "configs/tariffs/residential_standard.yaml"
COMMERCIAL = "configs/tariffs/commercial.yaml"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "courtyard", "tariff", *args], cwd=REPO,
                          capture_output=True, text=True, encoding="utf-8", timeout=60)


@pytest.mark.parametrize("name", ["residential_standard", "day_night", "commercial"])
def test_check_accepts_the_examples(name: str) -> None:
    r = run("check", f"configs/tariffs/{name}.yaml")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"OK {name}.yaml: 收费标准 / tariff ")


def test_check_lists_every_problem_with_its_position(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nlost_entry: flat\nprices:\n  small:\n"
                   "    unit: {minutes: 0, price: 2.001}\n    lost_entry_fee: 10\n",
                   encoding="utf-8")
    r = run("check", str(bad))
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.splitlines()
    assert lines[0].startswith(f"{bad}:5:21: prices.small.unit.minutes: ")
    assert lines[1].startswith(f"{bad}:5:31: prices.small.unit.price: ")
    assert lines[2] == "2 个错误 / 2 errors in bad.yaml"


def test_quote_prints_fee_due_and_lines_in_site_time() -> None:
    r = run("quote", RESIDENTIAL, "--entry", "2024-05-01T08:00", "--exit", "2024-05-01T11:30")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "入场 / entry: 2024-05-01 08:00:00" in out
    assert "停车时长 / stay: 210 分钟 / min (3 h 30 min)" in out
    assert "首段 120 分钟 05-01 08:00–10:00 / first 120 min 05-01 08:00–10:00" in out
    assert "2 个计费单位 × ¥2.00/60分钟 / 05-01 10:00–11:30: 2 × ¥2.00 per 60 min" in out
    assert "应收 / fee: ¥9.00" in out
    assert "应付 / due: ¥9.00" in out


def test_quote_converts_offsets_to_the_tariff_timezone() -> None:
    r = run("quote", RESIDENTIAL, "--entry", "2024-05-01T00:00:00Z",
            "--exit", "2024-05-01T03:30:00+00:00")
    assert r.returncode == 0, r.stderr
    assert "入场 / entry: 2024-05-01 08:00:00" in r.stdout
    assert "出场 / exit: 2024-05-01 11:30:00" in r.stdout
    assert "应收 / fee: ¥9.00" in r.stdout


def test_quote_after_payment_and_grace() -> None:
    r = run("quote", RESIDENTIAL, "--entry", "2024-05-01T08:00", "--exit", "2024-05-01T12:10",
            "--paid", "9", "--paid-at", "2024-05-01T11:30")
    assert r.returncode == 0, r.stderr
    assert "应收 / fee: ¥11.00" in r.stdout
    assert "已付 / paid: ¥9.00" in r.stdout
    assert "应付 / due: ¥2.00" in r.stdout
    assert "缴费后超过 15 分钟离场" in r.stdout


def test_plate_decides_class_and_new_energy() -> None:
    r = run("quote", COMMERCIAL, "--entry", "2024-05-01T10:00", "--exit", "2024-05-01T12:00",
            "--plate", "粤B12345D")  # large new-energy plate: ¥16 × 0.85 = 13.60 → 14
    assert r.returncode == 0, r.stderr
    assert "车牌 / plate: 粤B12345D (新能源 / new energy)" in r.stdout
    assert "车型 / vehicle: 大型车 / large, 新能源 / new energy: 是 / yes" in r.stdout
    assert "新能源车优惠 15%" in r.stdout
    assert "应收 / fee: ¥14.00" in r.stdout


def test_lost_entry_needs_no_entry_time() -> None:
    r = run("quote", COMMERCIAL, "--lost-entry", "--exit", "2024-05-01T12:00",
            "--vehicle-class", "large")
    assert r.returncode == 0, r.stderr
    assert "入场 / entry: 无记录 / none" in r.stdout
    assert "应收 / fee: ¥200.00" in r.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--entry", "2024-05-01T10:00", "--exit", "2024-05-01T09:00"], "is before entry"),
    (["--entry", "yesterday", "--exit", "2024-05-01T09:00"], "not an ISO 8601 time"),
    (["--exit", "2024-05-01T09:00"], "--entry is required"),
    (["--entry", "2024-05-01T08:00", "--exit", "2024-05-01T09:00", "--paid", "1,5"],
     "not an amount"),
    (["--entry", "2024-05-01T08:00", "--exit", "2024-05-01T09:00", "--plate", "粤B1234"],
     "expected 7 or 8"),
    (["--entry", "2024-05-01T08:00", "--exit", "2024-05-01T09:00", "--plate", "粤B12345",
      "--new-energy"], "--plate sets the vehicle class"),
    (["--entry", "2024-05-01T08:00", "--exit", "2024-05-01T09:00", "--vehicle-class", "bus"],
     "invalid choice"),
])
def test_bad_arguments_exit_2(args: list[str], message: str) -> None:
    r = run("quote", RESIDENTIAL, *args)
    assert r.returncode == 2
    assert message in r.stderr
    assert r.stdout == ""


def test_quote_with_a_missing_tariff_file_exits_2() -> None:
    r = run("quote", "configs/tariffs/nope.yaml", "--entry", "2024-05-01T08:00",
            "--exit", "2024-05-01T09:00")
    assert r.returncode == 2
    assert "configs/tariffs/nope.yaml: 文件不存在 / file not found" in r.stderr
