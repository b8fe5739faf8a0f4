"""``courtyard sim site`` with a ``patrol:`` section, and ``python -m simulators.patrol``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiomqtt
import pytest

from simulators.patrol.__main__ import main as patrol_main
from simulators.patrol.run import PatrolOptions
from simulators.site import SiteSimulator
from simulators.siteconfig import SiteError, load_site
from tests.simulators.conftest import PROFILES
from tests.simulators.patrol.conftest import IBEACON, site_yaml
from tests.support.services import Mosquitto


def test_site_file_patrol_section_is_read(tmp_path: Path) -> None:
    spec = load_site(site_yaml(tmp_path, "mqtt://recv:s3cret@127.0.0.1:1884")).patrol
    assert spec is not None
    assert (spec.host, spec.port, spec.username, spec.password) == ("127.0.0.1", 1884, "recv",
                                                                    "s3cret")
    assert [r.id for r in spec.simulated] == ["omg-north", "omg-east", "esp-b1", "esp-far"]
    assert spec.receiver("esp-b1").source == "b1_lobby"


def test_a_patrol_section_the_simulator_cannot_use_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("patrol:\n  broker: http://x\n  receivers: []\n", encoding="utf-8")
    with pytest.raises(SiteError, match="mqtt://"):
        load_site(path)
    with pytest.raises(SiteError, match="no receiver 'nowhere'"):
        SiteSimulator(site_yaml(tmp_path, "mqtt://127.0.0.1:1884"), PROFILES,
                      patrol=PatrolOptions(route=("nowhere",)))


async def test_sim_site_walks_every_receiver_on_a_loop_by_default(mosquitto: Mosquitto,
                                                                  tmp_path: Path) -> None:
    topics: set[str] = set()
    fast = PatrolOptions(loop=True, stay_s=3.0, start_after_s=0.2, speedup=40.0)
    async with aiomqtt.Client(mosquitto.host, mosquitto.port, timeout=5) as client:
        await client.subscribe("#")
        async with SiteSimulator(site_yaml(tmp_path, mosquitto.url), PROFILES,
                                 patrol=fast) as sim:
            assert any("patrol: guard" in ln and "omg-north → omg-east → esp-b1 → esp-far → box"
                       in ln for ln in sim.summary())
            async with asyncio.timeout(20):
                async for msg in client.messages:
                    topics.add(str(msg.topic).split("/")[1 if "home" in str(msg.topic) else 3])
                    if {"omg_north", "omg_east", "b1_lobby", "far_gate"} <= topics:
                        break


def test_patrol_cli_walks_the_route_and_exits(mosquitto: Mosquitto, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    site = site_yaml(tmp_path, mosquitto.url)
    code = patrol_main([str(site), "--scenario", "perfect", "--route", "omg-north,esp-b1",
                        "--tag", IBEACON, "--stay", "2", "--start-after", "0.2",
                        "--speedup", "40"])
    out = capsys.readouterr().out
    assert code == 0
    assert "guard 张保安 at receiver omg-north" in out and "at receiver esp-b1" in out
    assert "receiver messages published" in out
    assert patrol_main([str(site), "--route", "omg-north,nowhere"]) == 2
    assert "no receiver 'nowhere'" in capsys.readouterr().out
