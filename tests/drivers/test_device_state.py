"""Per-meter rules: deadlines on a fixed grid, probe backoff, one event per transition."""

from __future__ import annotations

from drivers.modbus.device import PROBE_BACKOFF_MAX_S, DeviceRuntime, offline_message
from drivers.modbus.model import MeterDevice
from tests.drivers.profiles import load_profile

SDM120 = load_profile("eastron_sdm120")


def runtime(interval: float = 10.0, online_after: int = 1) -> DeviceRuntime:
    dev = MeterDevice(id="m1", bus="b", profile=SDM120, address=1, poll_interval=interval,
                      deadband={"voltage": 1.0})
    return DeviceRuntime(dev, next_due=100.0, online_after=online_after)


def test_deadlines_stay_on_the_grid_and_skip_rather_than_burst() -> None:
    rt = runtime()
    assert rt.advance_live(now=100.3) == 0
    assert rt.next_due == 110.0          # not 110.3: a late poll does not shift the grid
    assert rt.advance_live(now=145.0) == 2
    assert rt.next_due == 140.0          # 120 and 130 were skipped, 140 is due now


def test_offline_after_three_failures_once_and_online_after_one_success() -> None:
    rt = runtime()
    assert rt.record_success(100.0) is not None and rt.online is True
    assert rt.record_failure(110.0, "exception", "code 2", slow=False) is None
    assert rt.record_failure(120.0, "exception", "code 2", slow=False) is None
    change = rt.record_failure(130.0, "exception", "code 2", slow=False)
    assert change is not None and not change.online and change.reason == "exception"
    assert all(rt.record_failure(140.0 + i, "exception", "", slow=False) is None
               for i in range(5))
    back = rt.record_success(200.0)
    assert back is not None and back.online
    assert rt.record_success(210.0) is None


def test_a_meter_dead_from_the_start_is_reported_offline() -> None:
    rt = runtime()
    changes = [rt.record_failure(100.0 + i, "timeout", "", slow=True) for i in range(5)]
    assert [c.online for c in changes if c] == [False]
    assert rt.online is False


def test_online_after_m_good_polls() -> None:
    rt = runtime(online_after=2)
    assert rt.record_success(100.0) is None
    assert rt.record_success(110.0) is not None


def test_silent_meter_is_probed_with_backoff_up_to_a_minute() -> None:
    rt = runtime(interval=1.0)
    now = 100.0
    waits = []
    for _ in range(12):
        rt.record_failure(now, "timeout", "", slow=True)
        waits.append(rt.next_due - now)
        now = rt.next_due
    assert rt.probing
    assert waits[:3] == [1.0, 1.0, 1.0]          # at its own rate until declared offline
    assert waits[3:6] == [2.0, 4.0, 8.0]
    assert max(waits) == PROBE_BACKOFF_MAX_S
    rt.record_probe_answer(now)
    assert not rt.probing and rt.next_due == now


def test_deadband_leaves_out_small_moves_but_never_billing() -> None:
    rt = runtime()
    first = rt.filter_deadband({"voltage": 230.0, "energy_import_kwh": 5.0, "current": 1.0})
    assert first == {"voltage": 230.0, "energy_import_kwh": 5.0, "current": 1.0}
    assert rt.filter_deadband({"voltage": 230.9, "energy_import_kwh": 5.0, "current": 1.0}) == \
        {"energy_import_kwh": 5.0, "current": 1.0}
    # The band is measured from the last value sent, so a slow drift is still reported.
    assert "voltage" in rt.filter_deadband({"voltage": 231.0, "energy_import_kwh": 5.0})


def test_offline_message_is_chinese_first() -> None:
    assert offline_message("timeout") == "表计离线：无应答 / Meter offline: no reply"
