"""The listener sections of a site file: the operators' port, camera allowlists and
credentials, each mistake pinned at FILE:LINE:COL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from edge.config import ConfigError, Problem, load_site
from tests.edge.config.conftest import BASE_SITE, FIXTURE_PROFILES, line_of

WriteSite = Callable[[str], Path]

PARKING = """\
parking:
  http_port: 8088
  lots: [{id: lot-a, capacity: 10}]
  cameras:
    - {id: cam-in, vendor: vzenith, address: 10.0.0.64, allow: [10.0.1.0/28]}
    - id: cam-out
      vendor: hikvision
      address: 10.0.0.65
      username: lpr-push
      password: s3cret
  lanes:
    - {id: lane-in, lot: lot-a, direction: in, camera: cam-in}
    - {id: lane-out, lot: lot-a, direction: out, camera: cam-out}
"""


def _problems(path: Path) -> list[Problem]:
    with pytest.raises(ConfigError) as err:
        load_site(path, FIXTURE_PROFILES)
    return err.value.problems


def test_operator_defaults_to_loopback_and_cameras_keep_their_credentials(
        write_site: WriteSite) -> None:
    config = load_site(write_site(BASE_SITE + PARKING), FIXTURE_PROFILES)
    assert (config.operator.host, config.operator.port) == ("127.0.0.1", 9180)
    assert config.parking is not None
    cam_in, cam_out = config.parking.cameras
    assert cam_in.allow == ("10.0.1.0/28",) and cam_in.username is None
    assert (cam_out.username, cam_out.password) == ("lpr-push", "s3cret")
    assert "s3cret" not in repr(cam_out)
    moved = load_site(write_site(BASE_SITE + "operator: {host: 10.0.0.9, port: 9443}\n"),
                      FIXTURE_PROFILES)
    assert (moved.operator.host, moved.operator.port) == ("10.0.0.9", 9443)


def test_a_username_without_password_is_pinned(write_site: WriteSite) -> None:
    text = BASE_SITE + PARKING.replace("      password: s3cret\n", "")
    (problem,) = _problems(write_site(text))
    assert problem.line == line_of(text, "username: lpr-push")
    assert "needs both username and password" in problem.what


def test_an_allow_entry_that_is_not_an_address_is_pinned(write_site: WriteSite) -> None:
    text = BASE_SITE + PARKING.replace("allow: [10.0.1.0/28]", "allow: [guardroom-pc]")
    (problem,) = _problems(write_site(text))
    assert problem.line == line_of(text, "guardroom-pc")
    assert "not an IP address" in problem.what


def test_the_operator_port_may_not_collide(write_site: WriteSite) -> None:
    text = BASE_SITE.replace("  data_dir: var/edge-court-7\n",
                             "  data_dir: var/edge-court-7\n  health_port: 9180\n") + PARKING
    (problem,) = _problems(write_site(text))
    assert "operator.port" in problem.what and problem.line == line_of(text, "health_port")
    text = BASE_SITE + PARKING + "operator: {port: 8088}\n"
    (problem,) = _problems(write_site(text))
    assert "parking.http_port uses port 8088 like operator.port" in problem.what


def test_a_private_ca_is_found_next_to_the_site_file_and_a_missing_one_stops_the_uplink(
        write_site: WriteSite) -> None:
    from edge.uplink import Uplink, UplinkSettings

    site = BASE_SITE.replace("  username: court-7\n",
                             "  username: court-7\n  ca_file: pki/ca.pem\n")
    site = site.replace("mqtt://10.0.0.2:1883", "mqtts://10.0.0.2:8883")
    path = write_site(site)
    config = load_site(path, FIXTURE_PROFILES)
    assert config.cloud.ca_file == (path.parent / "pki" / "ca.pem").resolve()
    settings = UplinkSettings.from_site(config)
    assert settings.ca_file == str(config.cloud.ca_file)
    with pytest.raises(ValueError, match=r"cloud\.ca_file"):
        Uplink(settings, outbox=None)  # type: ignore[arg-type]
