"""Parking lanes at the edge: decisions, durable sessions, fees and payments, with no cloud."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from contract import FakeClock, NewEvent
from drivers.lpr.model import PlateRead
from edge.parking.datasets import parse_dataset
from edge.parking.decide import Direction, LaneRules, LotInfo
from edge.parking.lanes import LaneSetup, ParkingLanes, PaymentError
from edge.parking.sessions import SessionStore
from parkingrules.plates import Strictness

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=TZ).astimezone(UTC)  # 09:00 site time

TARIFF = {
    "id": "std", "timezone": "Asia/Shanghai", "free_minutes": 30, "grace_minutes": 15,
    "lost_entry": "flat",
    "prices": {"small": {"first_period": {"minutes": 120, "price": "5"},
                         "unit": {"minutes": 60, "price": "2"}, "daily_cap": "30",
                         "lost_entry_fee": "50"}},
}

DATASET: dict[str, Any] = {
    "version": 7,
    "vehicles": [{"plate": "粤B12345", "holder": "张伟", "unit": "1-101"}],
    "passes": [{"plate": "粤B77777", "valid_from": "2026-01-01", "valid_to": "2026-11-30",
                "grace_days": 0, "remind_days": 10},
               {"plate": "粤B70000", "valid_from": "2026-01-01", "valid_to": "2026-11-20",
                "grace_days": 5}],
    "visitors": [{"plate": "粤S99999", "start": "2026-11-23T08:00:00+08:00",
                  "end": "2026-11-23T12:00:00+08:00"}],
    "blacklist": [{"plate": "粤B44444", "reason": "冲卡"}],
    "tariffs": {"lot": TARIFF},
}


class Gate:
    """Stands in for a barrier: records what the lane asked of it."""

    def __init__(self) -> None:
        self.opens: list[dict[str, Any]] = []

    async def open(self, **kw: Any) -> None:
        self.opens.append(kw)


class Rig:
    def __init__(self, lanes: ParkingLanes, events: list[NewEvent], gate_in: Gate,
                 gate_out: Gate, clock: FakeClock) -> None:
        self.lanes, self.events, self.gate_in, self.gate_out = lanes, events, gate_in, gate_out
        self.clock = clock

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def last(self, kind: str) -> dict[str, Any]:
        return [e for e in self.events if e.kind == kind][-1].data

    async def read(self, camera: str, plate: str, offline_at: datetime | None = None
                   ) -> Any:
        return await self.lanes.decide(PlateRead(
            camera_id=camera, vendor="vzenith", plate_raw=plate, colour_code=None,
            type_code=None, confidence=90, direction=None, trigger=None, camera_plate_id=None,
            offline=offline_at is not None, ts=offline_at or self.clock.now()))


async def _rig(tmp: Path, clock: FakeClock, capacity: int = 100,
               dataset: dict[str, Any] | None = None) -> tuple[Rig, SessionStore]:
    store = await SessionStore(tmp / "parking.db").open()
    events: list[NewEvent] = []

    async def emit(ev: NewEvent) -> None:
        events.append(ev)

    gate_in, gate_out = Gate(), Gate()
    lanes = ParkingLanes(
        [LaneSetup(LaneRules("in", "lot", Direction.IN), "cam-in", "g-in", camera_relay=True),
         LaneSetup(LaneRules("out", "lot", Direction.OUT, Strictness.LENIENT), "cam-out",
                   "g-out", camera_relay=False)],
        {"lot": LotInfo("lot", "Lot", capacity)}, parse_dataset(dataset or DATASET, TZ),
        store, {"g-in": gate_in, "g-out": gate_out}, emit, clock, TZ, "t")
    return Rig(lanes, events, gate_in, gate_out, clock), store


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r, store = await _rig(tmp_path, FakeClock(T0))
    yield r
    await store.close()


async def test_owner_in_and_out_free_even_with_an_ocr_confused_read(rig: Rig) -> None:
    reply = await rig.read("cam-in", "粤812345")  # 8 for B: the OCR confusion
    assert reply.open and reply.relay_pulse and "欢迎回家" in reply.led_lines
    entry = rig.last("parking.entry")
    assert (entry["plate"], entry["category"], entry["match_rule"]) == (
        "粤B12345", "owner", "ocr_confusion")
    rig.clock.advance(5 * 3600)
    out = await rig.read("cam-out", "B12345")  # province missing: the exit lane is lenient
    assert out.open and not out.relay_pulse  # the exit gate is on the relay board
    exit_ = rig.last("parking.exit")
    assert (exit_["fee"], exit_["session"]) == ("0", entry["session"])
    assert len(rig.gate_in.opens) == 1 and len(rig.gate_out.opens) == 1


async def test_blacklisted_vehicle_stays_out_and_the_refusal_is_recorded(rig: Rig) -> None:
    reply = await rig.read("cam-in", "粤B44444")
    assert not reply.open and "禁止通行" in reply.led_lines
    assert rig.kinds() == ["parking.refused"] and not rig.gate_in.opens
    assert "blacklist" in rig.last("parking.refused")["reason"]


async def test_temporary_stay_is_charged_by_the_tariff_and_opens_once_paid(rig: Rig) -> None:
    assert (await rig.read("cam-in", "粤A2B345")).open
    rig.clock.advance(3 * 3600 + 60)  # 3 h 1 min: ¥5 first 2 h + 2 started hours × ¥2 = ¥9
    reply = await rig.read("cam-out", "粤A2B345")
    assert not reply.open and "请缴费 ¥9.00" in reply.led_lines
    assert rig.lanes.pending["out"].decision.due == Decimal("9.00")
    with pytest.raises(PaymentError, match="more than"):
        await rig.lanes.pay("out", "10", "cash")
    with pytest.raises(PaymentError, match="method"):
        await rig.lanes.pay("out", "9", "bitcoin")
    half = await rig.lanes.pay("out", "4.00", "wechat", "booth-1")
    assert not half.open and half.due == Decimal("5.00") and not rig.gate_out.opens
    done = await rig.lanes.pay("out", "5", "cash", "booth-1")
    assert done.open and rig.gate_out.opens[-1]["cause"] == "pay"
    exit_ = rig.last("parking.exit")
    assert (exit_["fee"], exit_["paid"], exit_["minutes"]) == ("9.00", "9.00", 181)
    assert [p["method"] for p in exit_["payments"]] == ["cash"]
    assert exit_["tariff_doc"]["id"] == "std" and exit_["charged_from"]
    assert rig.kinds().count("payment.recorded") == 2
    with pytest.raises(PaymentError, match="no vehicle"):
        await rig.lanes.pay("out", "1", "cash")


async def test_free_minutes_let_a_quick_visit_out_without_paying(rig: Rig) -> None:
    await rig.read("cam-in", "粤A2B345")
    rig.clock.advance(29 * 60)
    assert (await rig.read("cam-out", "粤A2B345")).open
    assert rig.last("parking.exit")["fee"] == "0.00"


async def test_monthly_pass_reminder_grace_and_expiry(rig: Rig) -> None:
    reply = await rig.read("cam-in", "粤B77777")  # ends 30 Nov: 7 days left < 10
    assert reply.open and "月卡7天后到期" in reply.led_lines
    assert rig.last("parking.entry")["category"] == "pass"
    expired = await rig.read("cam-in", "粤B70000")  # ended 20 Nov + 5 grace days: 25 Nov
    assert expired.open and "月卡已过期 请续费" in expired.led_lines


async def test_visitor_window_and_a_stay_past_it_is_charged_from_its_end(rig: Rig) -> None:
    assert (await rig.read("cam-in", "粤S99999")).open
    assert rig.last("parking.entry")["category"] == "visitor"
    rig.clock.advance(5 * 3600)  # 14:00, the window ended at 12:00: 2 h → first period ¥5
    reply = await rig.read("cam-out", "粤S99999")
    assert not reply.open and rig.lanes.pending["out"].decision.due == Decimal("5.00")


async def test_full_lot_turns_temporary_cars_away_but_not_owners(tmp_path: Path) -> None:
    rig, store = await _rig(tmp_path, FakeClock(T0), capacity=1)
    try:
        assert (await rig.read("cam-in", "粤A11111")).open
        full = await rig.read("cam-in", "粤A22222")
        assert not full.open and "车位已满" in full.led_lines
        assert (await rig.read("cam-in", "粤B12345")).open  # an owner always gets in
    finally:
        await store.close()


async def test_exit_without_entry_pays_the_lost_entry_fee(rig: Rig) -> None:
    reply = await rig.read("cam-out", "粤A33333")
    assert not reply.open and rig.lanes.pending["out"].decision.due == Decimal("50.00")
    await rig.lanes.pay("out", "50", "alipay")
    exit_ = rig.last("parking.exit")
    assert "exit_without_entry" in exit_["anomalies"] and exit_["lost_entry"] is True
    assert exit_["session"] is not None  # the payment belongs to a session the cloud can key


async def test_sessions_survive_a_restart_and_already_inside_is_an_anomaly(
        tmp_path: Path) -> None:
    clock = FakeClock(T0)
    rig, store = await _rig(tmp_path, clock)
    await rig.read("cam-in", "粤A2B345")
    first = rig.last("parking.entry")["session"]
    await store.close()
    rig, store = await _rig(tmp_path, clock)  # the edge restarts
    try:
        assert store.inside("lot") == 1
        await rig.read("cam-in", "粤A2B345")  # read again at the entry: tailgating, loop…
        entry = rig.last("parking.entry")
        assert "already_inside" in entry["anomalies"] and entry["replaced_session"] == first
        assert store.inside("lot") == 1
    finally:
        await store.close()


async def test_ambiguous_fuzzy_read_matches_nobody(tmp_path: Path) -> None:
    data = dict(DATASET, vehicles=[{"plate": "粤B12345", "holder": "a"},
                                   {"plate": "粤812345", "holder": "b"}])
    rig, store = await _rig(tmp_path, FakeClock(T0), dataset=data)
    try:
        reply = await rig.read("cam-in", "粤BI2345")  # I→1, then B/8: fits both
        entry = rig.last("parking.entry")
        assert reply.open and entry["category"] == "owner"  # exact after normalising wins
        await rig.read("cam-in", "粤8I2345")
        assert rig.last("parking.entry")["matched"] == "粤812345"
        await rig.read("cam-in", "粤B1Z345")  # Z for 2: OCR-equivalent to both stored plates
        entry = rig.last("parking.entry")
        assert entry["category"] == "temporary" and entry["matched"] is None
        assert "ambiguous_read" in entry["anomalies"]
        assert any("ambiguous" in step for step in entry["trail"])
    finally:
        await store.close()


async def test_offline_record_is_history_not_a_gate_command(rig: Rig) -> None:
    earlier = T0 - timedelta(minutes=30)
    reply = await rig.read("cam-in", "粤A2B345", offline_at=earlier)
    assert not reply.open and not rig.gate_in.opens
    entry = [e for e in rig.events if e.kind == "parking.entry"][-1]
    assert entry.ts == earlier and entry.data["offline"] is True


async def test_a_paid_car_read_again_at_the_barrier_leaves_without_a_second_exit(
        rig: Rig) -> None:
    await rig.read("cam-in", "粤A2B345")
    rig.clock.advance(3 * 3600)
    await rig.read("cam-out", "粤A2B345")
    rig.clock.advance(270)  # finding the phone and paying takes a while at the barrier
    await rig.lanes.pay("out", "7", "cash")  # 3 h: ¥5 for the first 2 h + ¥2
    rig.clock.advance(120)  # the window runs from the barrier opening, not the first read
    again = await rig.read("cam-out", "粤A2B345")  # the camera triggers again on the same car
    assert again.open and rig.kinds().count("parking.exit") == 1
    assert "parking.refused" not in rig.kinds()[-1:]
    rig.clock.advance(600)  # long after: a new read is a new exit (here without an entry)
    late = await rig.read("cam-out", "粤A2B345")
    assert not late.open and "exit_without_entry" in rig.lanes.pending["out"].decision.anomalies
