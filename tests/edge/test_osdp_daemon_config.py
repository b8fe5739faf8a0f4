"""OSDP readers in the site file (``access.readers``): they load with their key files under
the edge's data folder, a readers-only site runs no door-controller driver, and a mistake is
refused at FILE:LINE:COL with what to write instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import ConfigError, load_site
from edge.config.cli import summary
from edge.config.model import SiteConfig
from tests.edge.config.conftest import BASE_SITE, FIXTURE_PROFILES, line_of

READERS = """\
access:
  readers:
    - {id: r-1-in, line: /dev/ttyUSB1, address: 1, door: 1-lobby, building: "1",
       area: b1, direction: in, egress: true}
    - {id: r-1-out, line: /dev/ttyUSB1, address: 2, door: 1-lobby, building: "1",
       area: b1, direction: out, key_file: /etc/courtyard/r-1-out.scbk}
    - {id: r-2, line: /dev/ttyUSB2, address: 1, door: 2-gate, building: "2",
       relay_pulse_s: 5, anti_passback: soft}
"""


def _load(tmp: Path, text: str) -> SiteConfig:
    site = tmp / "site.yaml"
    site.write_text(text, encoding="utf-8")
    return load_site(site, FIXTURE_PROFILES)


def test_readers_load_with_their_lines_doors_and_key_files(tmp_path: Path) -> None:
    text = BASE_SITE.replace("data_dir: var/edge-court-7", f"data_dir: {tmp_path}") + READERS
    config = _load(tmp_path, text)
    assert config.access is None
    readers = config.readers
    assert readers is not None
    assert {line: [r.id for r in rs] for line, rs in readers.lines().items()} == {
        "/dev/ttyUSB1": ["r-1-in", "r-1-out"], "/dev/ttyUSB2": ["r-2"]}
    assert [r.key_file for r in readers.readers] == [
        tmp_path / "osdp-keys" / "r-1-in.scbk", Path("/etc/courtyard/r-1-out.scbk"),
        tmp_path / "osdp-keys" / "r-2.scbk"]
    assert [(d.id, d.building, d.egress) for d in readers.doors()] == [
        ("1-lobby", "1", True), ("2-gate", "2", False)]
    r2 = readers.readers[2]
    assert (r2.relay_pulse_s, r2.anti_passback, r2.point().area) == (5, "soft", None)


CONTROLLER = """\
  controllers:
    - {id: c1, serial: 405419896, address: 192.168.1.100:60000, doors: 4}
  doors:
    - {id: 1-east, controller: c1, door: 1, building: "1", egress: true}
"""


@pytest.mark.parametrize(("old", "new", "needle", "what"), [
    ("area: b1, direction: in, egress: true", "area: b1, egress: true", "area: b1, egress",
     "area without direction"),
    ("address: 2", "address: 1", "id: r-1-out", "address 1 is already used on line"),
    ("line: /dev/ttyUSB2", "line: COM3", "id: r-2", "line"),
    ("door: 2-gate", "door: 1-east", "id: r-2", "door 1-east already belongs"),
    ("relay_pulse_s: 5", "relay_pulse_s: 30", "relay_pulse_s", "relay_pulse_s must be"),
    ("address: 2", "adress: 2", "id: r-1-out", 'unknown key "adress"'),
])
def test_a_bad_reader_is_refused_at_its_line(tmp_path: Path, old: str, new: str, needle: str,
                                             what: str) -> None:
    text = BASE_SITE + READERS.replace("  readers:\n", CONTROLLER + "  readers:\n").replace(
        old, new, 1)
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    problems = [p for p in err.value.problems if what in p.what]
    assert problems, [p.what for p in err.value.problems]
    [problem] = problems
    assert problem.file == str(tmp_path / "site.yaml")
    assert problem.line == line_of(text, needle) and problem.col > 0


def test_an_access_section_with_neither_controllers_nor_readers_is_refused(
        tmp_path: Path) -> None:
    text = BASE_SITE + "access:\n  listen: 0.0.0.0:60001\n"
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    [problem] = err.value.problems
    assert "controllers or readers" in problem.what
    assert problem.line == line_of(text, "listen:")


def test_the_site_check_summary_counts_readers_lines_and_egress_doors(tmp_path: Path) -> None:
    config = _load(tmp_path, BASE_SITE + READERS)
    [line] = [s for s in summary(config) if "OSDP" in s]
    assert "3 台 / readers on 2 条线路 / lines, 2 个门 / doors（疏散门 / egress 1）" in line
