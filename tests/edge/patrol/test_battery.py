"""Tag batteries: the battery of an Eddystone tag (TLM frames, which carry no tag id, tied to
the tag by its MAC) raises tag_battery_low once, until a new battery reads well above."""

from __future__ import annotations

from datetime import UTC, datetime

from contract import FakeClock
from drivers.ble.model import Advert
from edge.config.model import PatrolReceiver
from edge.patrol.battery import FORGET_AFTER_S, BatteryWatch
from edge.patrol.presence import BatteryLow, Output, PresenceEngine, PresenceSettings, Seen

T0 = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
TAG = "eddystone:00112233445566778899:aabbccddeeff"
MAC = "c3:00:00:00:00:01"


def engine(out: list[Output], clock: FakeClock) -> PresenceEngine:
    return PresenceEngine([PatrolReceiver(id="cp-a", kind="adapter", source="hci0")],
                          PresenceSettings(battery_low_mv=2500), clock, out.append)


def advert(clock: FakeClock, tag: str | None, mac: str = MAC,
           battery_mv: int | None = None) -> Advert:
    return Advert(receiver="cp-a", tag=tag, mac=mac, rssi=-65, tx_power=-59,
                  battery_mv=battery_mv, at=clock.monotonic())


def test_a_low_battery_is_raised_once_until_a_new_battery() -> None:
    clock, out = FakeClock(T0), list[Output]()
    e = engine(out, clock)
    readings = [2900, 2600, 2480, 2450, 2520, 2560, 2470, 2400, 3010, 2950, 2490]
    raised: list[tuple[int, int]] = []
    for mv in readings:
        e.feed(advert(clock, TAG))  # the UID frame, then the TLM frame from the same MAC
        e.feed(advert(clock, None, battery_mv=mv))
        raised += [(o.battery_mv, o.threshold_mv) for o in out if isinstance(o, BatteryLow)]
        out.clear()
        clock.advance(10)
    # 2480 raises; 2520 / 2560 hover above the threshold (not a new battery); 3010 is one.
    assert raised == [(2480, 2500), (2490, 2500)]
    assert e.stats()["battery_low"] == 2


def test_a_tlm_from_a_mac_no_tag_was_heard_from_is_only_counted() -> None:
    clock, out = FakeClock(T0), list[Output]()
    e = engine(out, clock)
    e.feed(advert(clock, TAG))
    e.feed(advert(clock, None, mac="c3:99:99:99:99:99", battery_mv=2100))
    assert [o for o in out if isinstance(o, BatteryLow)] == []
    assert e.stats()["untagged"] == 1


def test_tag_seen_carries_the_last_battery_reading() -> None:
    clock, out = FakeClock(T0), list[Output]()
    e = engine(out, clock)
    e.feed(advert(clock, TAG))
    e.feed(advert(clock, None, battery_mv=2980))
    clock.advance(60)
    e.feed(advert(clock, TAG))
    assert [o.battery_mv for o in out if isinstance(o, Seen)] == [None, 2980]


def test_a_low_tag_not_heard_for_a_week_is_forgotten() -> None:
    w = BatteryWatch(2500)
    assert w.reading(TAG, 2400, 0.0) is True
    assert w.reading(TAG, 2400, 10.0) is False
    w.expire(FORGET_AFTER_S)
    assert w.is_low(TAG)
    w.expire(FORGET_AFTER_S + 11.0)
    assert not w.is_low(TAG) and len(w) == 0
    assert w.reading(TAG, 2400, FORGET_AFTER_S + 20.0) is True
