"""Site files as installers write them: the demo is clean, each mistake is pinned and fixable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from drivers.modbus.model import RtuBus, TcpBus
from edge.config import ConfigError, Problem, load_site
from edge.config.cli import validate_main
from tests.edge.config.conftest import BASE_SITE, DATA, FIXTURE_PROFILES, line_of

REPO = Path(__file__).resolve().parents[3]
REAL_PROFILES = REPO / "configs" / "profiles"
DEMO_PROFILE_IDS = ("eastron_sdm120", "eastron_sdm630", "chint_dtsu666", "chint_ddsu666",
                    "xintai_water")
WriteSite = Callable[[str], Path]


def _demo_profiles() -> Path:
    """The real profiles once all five exist, else the fixtures with the same ids."""
    if all((REAL_PROFILES / f"{pid}.yaml").is_file() for pid in DEMO_PROFILE_IDS):
        return REAL_PROFILES
    return FIXTURE_PROFILES


def _problems(path: Path) -> list[Problem]:
    with pytest.raises(ConfigError) as err:
        load_site(path, FIXTURE_PROFILES)
    return err.value.problems


def _one(path: Path) -> Problem:
    problems = _problems(path)
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


def test_demo_site_validates_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("COURTYARD_MQTT_URL", "COURTYARD_SITE_SECRET", "COURTYARD_EDGE_DATA"):
        monkeypatch.delenv(name, raising=False)
    config = load_site(REPO / "configs" / "sites" / "demo.yaml", _demo_profiles())
    assert config.site.id == "demo" and config.site.timezone == "Asia/Shanghai"
    assert config.cloud.mqtt_url == "mqtt://127.0.0.1:18830"
    assert config.cloud.password == "demo-secret"
    assert config.edge.health_port == 19100
    assert [type(b) for b in config.buses] == [TcpBus, RtuBus, TcpBus, TcpBus]
    assert len(config.devices) == 6
    fire = config.fire
    assert fire is not None and fire.port == 9001 and fire.centre_address == 88888
    (uitd,) = fire.uitds
    assert (uitd.id, uitd.address, uitd.checksum, uitd.peers) == (
        "uitd-1", 889, "sum", ("127.0.0.1",))
    assert [(z.zone, z.building, z.floor) for z in uitd.locations][:2] == [
        (10, "1", "3"), (12, "1", "1")]
    assert [(e.id, e.building, e.bus.id, e.address) for e in config.elevators] == [
        ("elev-1-a", "1", "tcp-elev", 1), ("elev-2-a", "2", "tcp-elev", 2)]
    assert set(config.elevator_profiles) == {"generic_gbt24476"}
    assert config.linkage_rules is not None
    (rule,) = config.linkage_rules
    assert (rule.on, rule.raise_gates, rule.recall_elevators) == (("fire.alarm",), "all", True)
    parking = config.parking
    assert parking is not None and parking.http_port == 18088
    assert [(lane.id, lane.direction, lane.gate) for lane in parking.lanes] == [
        ("lane-in-1", "in", "gate-in-1"), ("lane-out-1", "out", "gate-out-1")]
    assert {g.id: g.via for g in parking.gates} == {"gate-in-1": "camera_relay",
                                                    "gate-out-1": "modbus"}
    assert parking.dataset is not None and parking.dataset.name == "demo-dataset.yaml"
    first = config.devices[0]
    assert (first.id, first.bus, first.address, first.unit) == ("meter-1-101", "tcp1", 1, "1-101")
    assert first.profile.id == "eastron_sdm120" and first.deadband == {"voltage": 1.0}
    assert {d.profile.id for d in config.devices} == set(DEMO_PROFILE_IDS)


def test_demo_validate_cli_prints_ok_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code = validate_main(str(REPO / "configs" / "sites" / "demo.yaml"), str(_demo_profiles()))
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert "OK demo.yaml" in out and "6 台设备 / devices" in out and "eastron_sdm120 ×2" in out


def test_three_mistakes_all_reported_with_lines_and_exit_2(
        capsys: pytest.CaptureFixture[str]) -> None:
    path = DATA / "three_mistakes.yaml"
    code = validate_main(str(path), str(FIXTURE_PROFILES))
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert len(err) == 4, err
    assert err[0] == (f"{path}:19:5: 未知键 \"adress\" / unknown key \"adress\" — "
                      "是否应为 \"address\"? / did you mean \"address\"?")
    assert err[1].startswith(f"{path}:25:20: \"poll_interval\" 应为数字")
    assert "fast" in err[1]
    assert err[2].startswith(f"{path}:29:14: Modbus 地址 2 重复")
    assert "line 24" in err[2]
    assert err[3] == "3 个错误 / 3 errors in three_mistakes.yaml"


def test_missing_site_file_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path) -> None:
    code = validate_main(str(tmp_path / "nope.yaml"))
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "not found" in err


def test_base_fixture_is_valid_and_builds(write_site: WriteSite, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_site(write_site(BASE_SITE), FIXTURE_PROFILES)
    assert config.edge.data_dir == tmp_path / "var" / "edge-court-7"
    rtu = config.buses[1]
    assert isinstance(rtu, RtuBus) and rtu.parity == "E" and rtu.baudrate == 9600
    assert config.devices[1].poll_interval == 30.0
    assert config.devices[1].profile.registers[-1].data_type == "uint16"


@pytest.mark.parametrize(("old", "new", "needle", "expect"), [
    ("address: 1\n    deadband", "address: 248\n    deadband", "address: 248", "out of range"),
    ("port: 502", "port: 70000", "port: 70000", "out of range"),
    ("baudrate: 9600", "baudrate: 9601", "baudrate", "one of: 1200 | 2400"),
    ("parity: E", "parity: X", "parity", "one of: N | E | O"),
    ("id: court-7", "id: Court 7", "id: Court 7", "should be a slug"),
    ("mqtt://10.0.0.2:1883", "http://10.0.0.2:1883", "mqtt_url", "mqtt:// or mqtts://"),
    ("mqtt://10.0.0.2:1883", "mqtt://10.0.0.2", "mqtt_url", "needs a port"),
    ("poll_interval: 30", "poll_interval: 0", "poll_interval", "out of range"),
    ("port: 502", "port: 502\n    retries: 6", "retries", "out of range"),
    ("port: 502", "port: 502\n    timeout: -1", "timeout", "out of range"),
    ("parity: E", "parity: E\n    bytesize: 6", "bytesize", "one of: 7 | 8"),
    ("parity: E", "parity: E\n    stopbits: 3", "stopbits", "one of: 1 | 2"),
    ("type: modbus_tcp", "type: modbus_tpc", "modbus_tpc", 'did you mean "modbus_tcp"'),
    ("address: 1\n    poll", "address: '1'\n    poll", "address: '1'", "whole number"),
    ("address: 1\n    poll", "address: 010\n    poll", "address: 010", "octal"),
])
def test_single_mistakes_are_pinned_to_their_line(write_site: WriteSite, old: str, new: str,
                                                  needle: str, expect: str) -> None:
    assert old in BASE_SITE
    text = BASE_SITE.replace(old, new, 1)
    problem = _one(write_site(text))
    assert problem.line == line_of(text, needle)
    assert expect in problem.what + problem.fix


def test_timezone_typo_suggests_the_real_zone(write_site: WriteSite) -> None:
    problem = _one(write_site(BASE_SITE.replace("Asia/Shanghai", "Asia/Shangai")))
    assert problem.line == 4 and 'did you mean "Asia/Shanghai"' in problem.fix


def test_missing_required_key_points_at_its_mapping(write_site: WriteSite) -> None:
    text = BASE_SITE.replace("  username: court-7\n", "")
    problem = _one(write_site(text))
    assert problem.line == line_of(text, "mqtt_url")
    assert 'missing required key "username"' in problem.what


def test_unknown_profile_suggests_closest(write_site: WriteSite) -> None:
    text = BASE_SITE.replace("profile: eastron_sdm120", "profile: eastron_sdm12O")
    problem = _one(write_site(text))
    assert problem.line == line_of(text, "eastron_sdm12O")
    assert 'unknown profile "eastron_sdm12O"' in problem.what
    assert 'did you mean "eastron_sdm120"' in problem.fix


def test_cross_checks_on_ids_buses_and_ports(write_site: WriteSite) -> None:
    text = BASE_SITE + """\
  - id: meter-101
    bus: tcp9
    profile: eastron_sdm120
    address: 5
  - id: water-102
    bus: rtu1
    profile: xintai_water
    address: 1
  - id: rtu2
"""
    text = text.replace("  - id: rtu2\n", "")
    text = text.replace("devices:\n", """\
  - id: rtu2
    type: modbus_rtu
    port: /dev/ttyUSB0
  - id: tcp2
    type: modbus_tcp
    host: 10.0.0.50
devices:
""")
    problems = _problems(write_site(text))
    by_line = {p.line: p.what for p in problems}
    assert len(problems) == 5, "\n".join(map(str, problems))
    assert "/dev/ttyUSB0" in by_line[line_of(text, "port: /dev/ttyUSB0", 2)]
    assert "10.0.0.50:502" in by_line[line_of(text, "host: 10.0.0.50", 2)]
    assert "device id meter-101 repeats" in by_line[line_of(text, "id: meter-101", 2)]
    assert 'bus "tcp9" is not defined' in by_line[line_of(text, "bus: tcp9")]
    assert "Modbus address 1 repeats on bus rtu1" in by_line[line_of(text, "address: 1", 3)]


def test_deadband_must_name_a_non_billing_register(write_site: WriteSite) -> None:
    text = BASE_SITE.replace("{voltage: 0.5}", "{voltag: 0.5, energy_import_kwh: 0.1}")
    problems = _problems(write_site(text))
    assert len(problems) == 2
    assert all(p.line == line_of(text, "deadband") for p in problems)
    assert 'did you mean "voltage"' in problems[0].fix
    assert "billing register" in problems[1].what


def test_simulate_block_is_checked_but_not_built(write_site: WriteSite) -> None:
    good = BASE_SITE + "    simulate: {fault: slow, slow_ms: 300, exception_code: 2}\n"
    assert load_site(write_site(good), FIXTURE_PROFILES).devices[1].id == "water-101"
    bad = BASE_SITE + "    simulate: {fault: sloow, exception_code: 12}\n"
    problems = _problems(write_site(bad))
    assert len(problems) == 2
    assert 'did you mean "slow"' in problems[0].fix
    assert "exception_code" in problems[1].what


def test_unknown_top_level_key_and_env_in_site(write_site: WriteSite,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_PORT", "19101")
    text = BASE_SITE.replace("edge:\n", "edge:\n  health_port: ${EDGE_PORT}\n") + "devcies: []\n"
    problem = _one(write_site(text))
    assert problem.line == line_of(text, "devcies") and 'did you mean "devices"' in problem.fix
    monkeypatch.delenv("EDGE_PORT")
    problems = _problems(write_site(text))
    assert problems[0].line == line_of(text, "EDGE_PORT") and "EDGE_PORT" in problems[0].what


def test_profiles_dir_from_env_then_walking_up(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from edge.config import default_profiles_dir

    site_dir = tmp_path / "proj" / "configs" / "sites"
    site_dir.mkdir(parents=True)
    (tmp_path / "proj" / "configs" / "profiles").mkdir()
    monkeypatch.delenv("COURTYARD_PROFILES_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    found = default_profiles_dir(site_dir / "x.yaml")
    assert found == (tmp_path / "proj" / "configs" / "profiles").resolve()
    monkeypatch.setenv("COURTYARD_PROFILES_DIR", str(FIXTURE_PROFILES))
    assert default_profiles_dir(site_dir / "x.yaml") == FIXTURE_PROFILES


def test_broken_profile_used_by_the_site_is_reported_in_its_own_file(
        write_site: WriteSite, tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    for src in FIXTURE_PROFILES.glob("*.yaml"):
        (profiles / src.name).write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    broken = profiles / "xintai_water.yaml"
    broken.write_text(broken.read_text(encoding="utf-8").replace("0x001C", "0x0002"),
                      encoding="utf-8")
    site = write_site(BASE_SITE)
    with pytest.raises(ConfigError) as err:
        load_site(site, profiles)
    [problem] = err.value.problems
    expected_line = line_of(broken.read_text(encoding="utf-8"), "valve_state")
    assert problem.file == str(broken) and problem.line == expected_line
    assert "overlaps" in problem.what


def test_site_file_that_is_a_list_is_refused(write_site: WriteSite) -> None:
    problem = _one(write_site("- site\n- cloud\n"))
    assert (problem.line, problem.col) == (1, 1) and "should be a mapping" in problem.what


PARKING = """\
parking:
  http_port: 8088
  lots:
    - {id: lot-a, capacity: 50}
  cameras:
    - {id: cam-1, vendor: vzenith, address: 10.0.0.64}
    - {id: cam-2, vendor: hikvisoin, address: 10.0.0.64}
  gates:
    - {id: gate-1, via: camera_relay, camera: cam-9}
    - {id: gate-2, via: modbus, bus: tcp1, address: 1, open_coil: 0, close_coil: 1}
  lanes:
    - {id: lane-1, lot: lot-b, direction: in, camera: cam-1, gate: gate-1}
    - {id: lane-2, lot: lot-a, direction: out, camera: cam-1, gate: gate-2, match: fuzzy}
"""


def test_parking_mistakes_are_each_pinned_with_a_fix(write_site: WriteSite) -> None:
    text = BASE_SITE + PARKING
    problems = _problems(write_site(text))
    by_line: dict[int, list[str]] = {}
    for p in problems:
        by_line.setdefault(p.line, []).append(p.what)
    assert len(problems) == 7, "\n".join(map(str, problems))
    assert any('"hikvision"' in p.fix for p in problems)  # vendor typo: did you mean
    def on(needle: str, what: str) -> bool:
        return any(what in w for w in by_line[line_of(text, needle)])

    assert on("id: cam-2", "camera address 10.0.0.64 repeats")
    assert on("id: gate-1", 'camera "cam-9" is not defined')
    assert on("id: gate-2", "also a meter's on this bus")
    assert on("id: lane-1", 'lot "lot-b" is not defined')
    assert on("id: lane-2", "lane camera cam-1 repeats")
    assert on("id: lane-2", '"match"')


def test_parking_section_builds_lanes_gates_and_the_dataset_path(write_site: WriteSite) -> None:
    text = BASE_SITE + PARKING.replace("hikvisoin", "hikvision").replace(
        "address: 10.0.0.64}\n    - {id: cam-2", "address: 10.0.0.65}\n    - {id: cam-2", 1
    ).replace("camera: cam-9", "camera: cam-1").replace("address: 1, open_coil", "address: 9, "
              "open_coil").replace("lot: lot-b", "lot: lot-a").replace(
        "camera: cam-1, gate: gate-2, match: fuzzy", "camera: cam-2, gate: gate-2, match: exact"
    ) + "  dataset: parking.yaml\n  decide_timeout: 2.5\n"
    path = write_site(text)
    config = load_site(path, FIXTURE_PROFILES)
    assert config.parking is not None
    assert config.parking.dataset == path.parent / "parking.yaml"
    assert config.parking.decide_timeout == 2.5
    gate = {g.id: g for g in config.parking.gates}["gate-2"]
    assert (gate.bus, gate.address, gate.confirm_timeout, gate.loop_input) == ("tcp1", 9, 6.0,
                                                                                None)
    assert [(ln.id, ln.match, ln.temporary) for ln in config.parking.lanes] == [
        ("lane-1", "ocr", True), ("lane-2", "exact", True)]
