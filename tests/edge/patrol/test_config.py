"""The site file's ``patrol:`` section: receivers and presence settings load into the model,
and every mistake is refused at once, each at FILE:LINE:COL with what to write instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import ConfigError, load_site
from edge.config.cli import summary
from edge.config.model import PatrolReceiver, SiteConfig
from tests.edge.config.conftest import BASE_SITE, FIXTURE_PROFILES, line_of

PATROL = """\
patrol:
  broker: mqtt://192.168.1.20:1883
  username: courtyard
  password: s3cret
  dwell_s: 4
  enter_db: 10
  receivers:
    - {id: omg-north, kind: openmqttgateway, source: gw-north, rssi_at_1m: -62, x: 0, y: 0}
    - {id: esp-b1, kind: espresense, source: b1-lobby, x: 120, y: 40.5}
    - {id: box, kind: adapter, source: hci0}
"""


def _load(tmp: Path, text: str) -> SiteConfig:
    site = tmp / "site.yaml"
    site.write_text(text, encoding="utf-8")
    return load_site(site, FIXTURE_PROFILES)


def _problems(tmp: Path, text: str) -> list[tuple[int, str]]:
    with pytest.raises(ConfigError) as err:
        _load(tmp, text)
    for p in err.value.problems:
        assert p.file == str(tmp / "site.yaml") and p.col > 0, str(p)
    return [(p.line, p.what) for p in err.value.problems]


def test_receivers_and_settings_load(tmp_path: Path) -> None:
    patrol = _load(tmp_path, BASE_SITE + PATROL).patrol
    assert patrol is not None
    assert patrol.receivers == (
        PatrolReceiver("omg-north", "openmqttgateway", "gw-north", -62, 0.0, 0.0),
        PatrolReceiver("esp-b1", "espresense", "b1-lobby", -59, 120.0, 40.5),
        PatrolReceiver("box", "adapter", "hci0"))
    assert (patrol.broker, patrol.username, patrol.password) == (
        "mqtt://192.168.1.20:1883", "courtyard", "s3cret")
    assert (patrol.dwell_s, patrol.enter_db, patrol.hysteresis_db) == (4.0, 10.0, 6.0)
    assert [r.id for r in patrol.remote] == ["omg-north", "esp-b1"]
    assert [r.id for r in patrol.adapters] == ["box"]


def test_a_site_without_patrol_has_none_and_a_qr_only_site_needs_no_broker(
        tmp_path: Path) -> None:
    assert _load(tmp_path, BASE_SITE).patrol is None
    qr_only = _load(tmp_path, BASE_SITE + "patrol:\n  dwell_s: 5\n").patrol
    assert qr_only is not None and qr_only.receivers == () and qr_only.broker is None
    adapter_only = _load(tmp_path, BASE_SITE + (
        "patrol:\n  receivers:\n    - {id: box, kind: adapter, source: hci0}\n")).patrol
    assert adapter_only is not None and adapter_only.broker is None


def test_every_mistake_is_reported_at_once_at_its_line(tmp_path: Path) -> None:
    text = BASE_SITE + """\
patrol:
  dwell_s: 0.1
  enter_db: -3
  receivers:
    - {id: omg-north, kind: openmqttgateway, source: gw-north}
    - {id: omg-north, kind: openmqtgateway, source: gw-south}
    - {id: esp-b1, kind: espresense}
    - {id: esp-b2, kind: espresense, source: b2/lobby, rssi_at_1m: 20}
    - {id: omg-east, kind: openmqttgateway, source: gw-north}
"""
    found = _problems(tmp_path, text)
    expect = [
        (line_of(text, "dwell_s: 0.1"), "has no broker"),  # the section
        (line_of(text, "dwell_s: 0.1"), '"dwell_s" out of range'),
        (line_of(text, "enter_db: -3"), '"enter_db" out of range'),
        (line_of(text, "gw-south"), "receiver id omg-north repeats"),
        (line_of(text, "gw-south"), "should be one of"),
        (line_of(text, "id: esp-b1"), 'missing required key "source"'),
        (line_of(text, "b2/lobby"), '"source" should be'),
        (line_of(text, "b2/lobby"), '"rssi_at_1m" out of range'),
        (line_of(text, "id: omg-east"), "is already receiver omg-north"),
    ]
    for line, needle in expect:
        assert any(ln == line and needle in what for ln, what in found), (line, needle, found)
    # The kind's fix names the right spelling.
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    [kind] = [p for p in err.value.problems if "openmqtgateway" in p.what]
    assert 'did you mean "openmqttgateway"' in kind.fix


def test_a_bad_broker_url_and_a_password_without_user_are_refused(tmp_path: Path) -> None:
    text = BASE_SITE + PATROL.replace("mqtt://192.168.1.20:1883", "192.168.1.20").replace(
        "  username: courtyard\n", "")
    found = _problems(tmp_path, text)
    assert any(ln == line_of(text, "broker:") and '"broker"' in w for ln, w in found), found
    assert any(ln == line_of(text, "password:") and "password without username" in w
               for ln, w in found), found


def test_the_site_check_summary_lists_receivers(tmp_path: Path) -> None:
    config = _load(tmp_path, BASE_SITE + PATROL)
    [line] = [s for s in summary(config) if "patrol" in s]
    assert "3 个接收器 / receivers" in line
    assert "adapter ×1, espresense ×1, openmqttgateway ×1" in line
    assert "broker mqtt://192.168.1.20:1883" in line
