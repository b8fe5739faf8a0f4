"""`courtyard rules check` run as the installer runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cloud.rules import default_rules
from courtyard.rules_cli import main
from tests.rules.test_load import BAD

REPO = Path(__file__).resolve().parents[2]


def test_check_refuses_a_bad_file_with_every_position(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(BAD, encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "courtyard", "rules", "check", str(f)], cwd=REPO,
                       capture_output=True, text=True, encoding="utf-8", timeout=60)
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.splitlines()
    assert [line.split(": ", 1)[0] for line in lines[:-1]] == [
        f"{f}:{pos}" for pos in ("5:7", "8:19", "9:19", "13:9", "14:10", "20:24", "26:27",
                                 "27:11")]
    assert lines[-1] == "8 个错误，规则未采用 / 8 errors, rules refused"


def test_check_accepts_the_shipped_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(REPO / "configs" / "rules")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"OK: {len(default_rules().rules)} 条规则 / rules")
    assert "urgent 1" in out
    assert "elevator.trapped" in out
