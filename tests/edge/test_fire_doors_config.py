"""The site file's ``access`` section: controllers and doors (which are egress, in which
building) load into the model; a door on an undeclared controller or past its door count is
refused at FILE:LINE:COL."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import ConfigError, load_site
from tests.edge.config.conftest import BASE_SITE, FIXTURE_PROFILES, line_of

ACCESS = """\
access:
  listen: 0.0.0.0:60001
  announce: 192.168.1.10:60001
  controllers:
    - {id: c1, serial: 405419896, address: 192.168.1.100:60000, doors: 4}
    - {id: c2, serial: 303986753, address: 192.168.1.101:60000, doors: 2}
  doors:
    - {id: 1-east, controller: c1, door: 1, building: "1", egress: true}
    - {id: 1-lobby, controller: c1, door: 3, building: "1"}
    - {id: 2-east, controller: c2, door: 1, building: "2", egress: true, open_delay: 4}
"""


def test_access_section_loads(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(BASE_SITE + ACCESS, encoding="utf-8")
    config = load_site(site, FIXTURE_PROFILES)
    access = config.access
    assert access is not None and access.announce == "192.168.1.10:60001"
    assert [(c.id, c.serial, c.address, c.doors) for c in access.controllers] == [
        ("c1", 405419896, "192.168.1.100:60000", 4), ("c2", 303986753, "192.168.1.101:60000", 2)]
    assert [(d.id, d.controller, d.door, d.building, d.egress, d.open_delay)
            for d in access.doors] == [("1-east", "c1", 1, "1", True, 5),
                                       ("1-lobby", "c1", 3, "1", False, 5),
                                       ("2-east", "c2", 1, "2", True, 4)]


@pytest.mark.parametrize(("bad", "needle", "what"), [
    ("controller: c9, door: 1", "c9", "controller c9 is not declared"),
    ("controller: c2, door: 3", "door: 3, building: \"2\"", "controller c2 has only 2 doors"),
])
def test_a_bad_door_is_refused_at_its_line(tmp_path: Path, bad: str, needle: str,
                                           what: str) -> None:
    text = BASE_SITE + ACCESS.replace("controller: c2, door: 1", bad)
    site = tmp_path / "site.yaml"
    site.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_site(site, FIXTURE_PROFILES)
    [problem] = err.value.problems
    assert problem.file == str(site) and problem.line == line_of(text, needle)
    assert what in problem.what
