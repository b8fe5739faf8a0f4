"""Door schedules in the site file: ``normally_open`` windows (inline or a named profile) and
``first_card`` on controller doors and reader doors load into ``SiteConfig.door_schedules``;
every mistake is refused at FILE:LINE:COL with the fix."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from edge.config import ConfigError, load_site
from tests.edge.config.conftest import BASE_SITE, FIXTURE_PROFILES, line_of

ACCESS = """\
access:
  time_profiles:
    office:
      - {days: [1, 2, 3, 4, 5], from: "08:00", to: "18:00"}
    night: [{from: "22:00", to: "06:00"}]
  controllers:
    - {id: c1, serial: 405419896, address: 192.168.1.100:60000, doors: 4}
  doors:
    - {id: 1-east, controller: c1, door: 1, building: "1", egress: true, normally_open: office}
    - {id: 1-lobby, controller: c1, door: 3, normally_open: office, first_card: true}
    - id: 1-garage
      controller: c1
      door: 4
      normally_open:
        - {days: [6, 7], from: 9:30, to: "12:00"}
  readers:
    - {id: r-2-in, line: /dev/ttyUSB0, address: 1, door: 2-lobby, normally_open: night}
    - {id: r-2-out, line: /dev/ttyUSB0, address: 2, door: 2-lobby}
"""


def _write(tmp_path: Path, text: str) -> Path:
    site = tmp_path / "site.yaml"
    site.write_text(BASE_SITE + text, encoding="utf-8")
    return site


def test_schedules_load_from_doors_and_readers(tmp_path: Path) -> None:
    config = load_site(_write(tmp_path, ACCESS), FIXTURE_PROFILES)
    schedules = config.door_schedules
    assert schedules is not None and schedules.timezone == "Asia/Shanghai"
    got = {s.door: (s.first_card, s.profile, [(sorted(w.days), w.start, w.end)
                                              for w in s.windows]) for s in schedules}
    office = [([1, 2, 3, 4, 5], time(8), time(18))]
    assert got == {
        "1-east": (False, "office", office),
        "1-lobby": (True, "office", office),
        "1-garage": (False, None, [([6, 7], time(9, 30), time(12))]),
        "2-lobby": (False, "night", [([1, 2, 3, 4, 5, 6, 7], time(22), time(6))]),
    }
    # The drivers' own door and reader specs are built as before.
    assert config.access is not None and [d.id for d in config.access.doors] == [
        "1-east", "1-lobby", "1-garage"]
    assert config.readers is not None and len(config.readers.readers) == 2


def test_a_site_without_schedules_has_none(tmp_path: Path) -> None:
    text = ACCESS.replace(", normally_open: office, first_card: true", "").replace(
        ", normally_open: office", "").replace(", normally_open: night", "")
    text = text.replace("""      normally_open:
        - {days: [6, 7], from: 9:30, to: "12:00"}
""", "")
    assert load_site(_write(tmp_path, text), FIXTURE_PROFILES).door_schedules is None


@pytest.mark.parametrize(("old", "new", "needle", "what", "fix"), [
    ("normally_open: office, first_card", "normally_open: ofice, first_card",
     "normally_open: ofice", "time profile ofice is not defined", 'did you mean "office"'),
    ('from: 9:30, to: "12:00"', 'from: "9:30", to: "9:30"', 'to: "9:30"',
     "no length", "past midnight"),
    ('from: 9:30, to: "12:00"', 'from: "25:00", to: "12:00"', 'from: "25:00"',
     'should be a time of day "HH:MM"', "write a time of day"),
    ("{days: [6, 7], from", "{days: [8], from", "days: [8]", "out of range: 8", "1–7"),
    ("{days: [6, 7], from", "{days: [], from", "days: []", "never applies", "weekdays"),
    ("door: 3, normally_open: office, first_card: true", "door: 3, first_card: true",
     "first_card: true", "first_card needs normally_open", "add normally_open"),
    ("normally_open: office, first_card: true", "normally_open: 3, first_card: true",
     "normally_open: 3", "should be a list of windows", "e.g. normally_open"),
    ("door: 2-lobby}", "door: 2-lobby, normally_open: office}", "r-2-out",
     "already on reader r-2-in", "one of its readers only"),
    ("first_card: true}", "first_card: yes please}", "first_card: yes please",
     "should be true or false", "write true or false"),
])
def test_a_bad_schedule_is_refused_at_its_line(tmp_path: Path, old: str, new: str, needle: str,
                                               what: str, fix: str) -> None:
    assert old in ACCESS
    text = BASE_SITE + ACCESS.replace(old, new)
    site = tmp_path / "site.yaml"
    site.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_site(site, FIXTURE_PROFILES)
    [problem] = err.value.problems
    assert problem.file == str(site) and problem.line == line_of(text, needle), str(problem)
    assert problem.col > 0
    assert what in problem.what, str(problem)
    assert fix in problem.fix, str(problem)
    assert problem.what.index(" / ") > 0  # Chinese first, then English
