"""The edge's local access decision: credentials, validity, doors, time profiles,
anti-passback and duress; datasets refused with the field that is wrong."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from drivers.access.osdp_model import CardPresented, PinEntered
from drivers.access.wiegand import Credential, Refusal
from edge.access.credentials import CredentialStore, DatasetError
from edge.access.decide import AccessPoint, Decider

CST = dt.timezone(dt.timedelta(hours=8))
#: A Wednesday, 10:00 site time.
NOW = dt.datetime(2026, 12, 9, 10, 0, tzinfo=CST)

GATE_IN = AccessPoint("r-in", "east-gate", area="estate", direction="in")
GATE_OUT = AccessPoint("r-out", "east-gate", area="estate", direction="out")
LOBBY = AccessPoint("r-lobby", "b1-lobby")


def card(number: int) -> Credential:
    return Credential("h10301", 26, number, number >> 16, number & 0xFFFF)


def at(reader: str, read: Credential | Refusal | str) -> CardPresented | PinEntered:
    if isinstance(read, str):
        return PinEntered(reader, read, 0.0)
    return CardPresented(reader, read, 0.0)


def doc(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "version": 3,
        "time_profiles": {"day": [{"days": [1, 2, 3, 4, 5], "from": "07:00", "to": "22:00"}],
                          "night": [{"days": [3], "from": "22:00", "to": "06:00"}]},
        "cards": {
            "100": {"holder": "owner-1", "doors": ["east-gate", "b1-lobby"]},
            "101": {"holder": "cleaner", "doors": ["b1-lobby"], "profile": "day"},
            "102": {"holder": "guard", "doors": ["*"], "profile": "night"},
            "103": {"holder": "tenant", "doors": ["*"],
                    "valid_from": "2026-12-10T00:00:00+08:00"},
            "104": {"holder": "moved-out", "doors": ["*"],
                    "valid_to": "2026-12-01T00:00:00+08:00"},
            "105": {"holder": "owner-9", "doors": ["*"]},
            "106": {"holder": "owner-1", "doors": ["*"]},
        },
        "pins": {"2580": {"holder": "owner-1", "doors": ["*"], "profile": "day"},
                 "2589": {"holder": "owner-1", "doors": ["b1-lobby", "east-gate"],
                          "duress": True},
                 "7777": {"holder": "owner-2", "doors": ["b1-lobby"], "duress": True}},
        "blocked": ["105", "owner-9-banned"],
    }
    base.update(extra)
    return base


@pytest.fixture
def decider() -> Decider:
    return Decider(CredentialStore.from_dataset(doc()), [GATE_IN, GATE_OUT, LOBBY])


def reason(d: Decider, reader: str, read: Credential | Refusal | str,
           now: dt.datetime = NOW) -> str | None:
    decision = d.decide(at(reader, read), now)
    return "granted" if decision.granted else decision.reason


def test_a_card_with_permission_is_granted_with_its_holder(decider: Decider) -> None:
    d = decider.decide(at("r-lobby", card(100)), NOW)
    assert (d.granted, d.holder, d.door, d.credential, d.card_format) == (
        True, "owner-1", "b1-lobby", "100", "h10301")
    assert d.message() == "开门 / access granted"


def test_each_refusal_has_its_reason(decider: Decider) -> None:
    assert reason(decider, "r-lobby", card(999)) == "unknown_card"
    assert reason(decider, "r-lobby", card(105)) == "blocked"
    assert reason(decider, "r-lobby", card(103)) == "not_yet_valid"
    assert reason(decider, "r-lobby", card(104)) == "expired"
    assert reason(decider, "r-in", card(101)) == "no_permission"
    assert reason(decider, "r-unknown", card(100)) == "unknown_reader"
    assert reason(decider, "r-lobby", "0000") == "unknown_pin"
    misread = Refusal("bad_parity", "…", 26, "0" * 26)
    d = decider.decide(at("r-lobby", misread), NOW)
    assert (d.granted, d.reason, d.credential) == (False, "bad_parity", "raw:" + "0" * 26)
    assert "校验" in d.message() and "parity" in d.message()


def test_validity_edges(decider: Decider) -> None:
    starts = dt.datetime(2026, 12, 10, tzinfo=CST)
    assert reason(decider, "r-lobby", card(103), starts - dt.timedelta(seconds=1)) \
        == "not_yet_valid"
    assert reason(decider, "r-lobby", card(103), starts) == "granted"
    ends = dt.datetime(2026, 12, 1, tzinfo=CST)
    assert reason(decider, "r-lobby", card(104), ends - dt.timedelta(seconds=1)) == "granted"


def test_time_profiles_in_site_time_and_overnight(decider: Decider) -> None:
    assert reason(decider, "r-lobby", card(101)) == "granted"                 # Wed 10:00
    saturday = dt.datetime(2026, 12, 12, 10, 0, tzinfo=CST)
    assert reason(decider, "r-lobby", card(101), saturday) == "outside_schedule"
    late = dt.datetime(2026, 12, 9, 22, 0, tzinfo=CST)
    assert reason(decider, "r-lobby", card(101), late) == "outside_schedule"  # to is exclusive
    # The same instant given in UTC is judged in site time.
    assert reason(decider, "r-lobby", card(101), NOW.astimezone(dt.UTC)) == "granted"
    # Wednesday's night shift runs into Thursday morning, and not into Wednesday morning.
    assert reason(decider, "r-lobby", card(102), late) == "granted"
    thursday_5am = dt.datetime(2026, 12, 10, 5, 59, tzinfo=CST)
    assert reason(decider, "r-lobby", card(102), thursday_5am) == "granted"
    assert reason(decider, "r-lobby", card(102), thursday_5am.replace(hour=6)) \
        == "outside_schedule"
    assert reason(decider, "r-lobby", card(102), thursday_5am - dt.timedelta(days=1)) \
        == "outside_schedule"


def test_anti_passback_in_then_in_is_refused_out_then_in_passes(decider: Decider) -> None:
    assert reason(decider, "r-in", card(100)) == "granted"
    assert decider.whereabouts("estate", "owner-1") == "in"
    assert reason(decider, "r-in", card(100)) == "anti_passback"
    # The same holder's other card is the same person.
    assert reason(decider, "r-in", card(106)) == "anti_passback"
    assert reason(decider, "r-out", card(100)) == "granted"
    assert reason(decider, "r-out", card(100)) == "anti_passback"
    assert reason(decider, "r-in", card(100)) == "granted"
    # A reader outside any area keeps no state.
    assert reason(decider, "r-lobby", card(100)) == "granted"
    assert reason(decider, "r-lobby", card(100)) == "granted"


def test_anti_passback_soft_lets_through_and_flags_off_ignores() -> None:
    soft = AccessPoint("r-in", "east-gate", area="estate", direction="in",
                       anti_passback="soft")
    off = AccessPoint("r-in2", "east-gate", area="estate", direction="in",
                      anti_passback="off")
    d = Decider(CredentialStore.from_dataset(doc()), [soft, off])
    assert not d.decide(at("r-in", card(100)), NOW).apb_violation
    second = d.decide(at("r-in", card(100)), NOW)
    assert second.granted and second.apb_violation
    assert reason(d, "r-in2", card(100)) == "granted"


def test_a_pin_follows_its_time_profile(decider: Decider) -> None:
    assert reason(decider, "r-lobby", "2580") == "granted"
    sunday = dt.datetime(2026, 12, 13, 10, 0, tzinfo=CST)
    assert reason(decider, "r-lobby", "2580", sunday) == "outside_schedule"
    assert decider.decide(at("r-lobby", "2580"), NOW).credential == "PIN"


def test_a_duress_pin_grants_past_schedule_and_anti_passback_and_is_flagged(
        decider: Decider) -> None:
    assert reason(decider, "r-in", card(100)) == "granted"
    d = decider.decide(at("r-in", "2589"), NOW)
    assert d.granted and d.duress and d.holder == "owner-1" and d.reason is None
    # No permission for the door: refused, and still flagged for the silent alarm.
    d = decider.decide(at("r-in", "7777"), NOW)
    assert not d.granted and d.duress and d.reason == "no_permission"


def test_blocking_a_holder_blocks_all_their_credentials() -> None:
    d = Decider(CredentialStore.from_dataset(doc(blocked=["owner-1"])), [LOBBY])
    assert reason(d, "r-lobby", card(100)) == "blocked"
    assert reason(d, "r-lobby", card(106)) == "blocked"
    assert reason(d, "r-lobby", "2580") == "blocked"


def test_a_new_version_swaps_in_whole(decider: Decider) -> None:
    revoked = doc(version=4)
    del revoked["cards"]["100"]
    decider.swap(CredentialStore.from_dataset(revoked))
    assert decider.store.version == 4
    assert reason(decider, "r-lobby", card(100)) == "unknown_card"


@pytest.mark.parametrize(("change", "field"), [
    ({"version": "7"}, "version"),
    ({"cards": {"12ab": {"holder": "x", "doors": ["*"]}}}, "cards.12ab"),
    ({"cards": {"1": {"doors": ["*"]}}}, "cards.1.holder"),
    ({"cards": {"1": {"holder": "x", "doors": []}}}, "cards.1.doors"),
    ({"cards": {"1": {"holder": "x", "doors": ["*"], "profile": "weekend"}}},
     "cards.1.profile"),
    ({"cards": {"1": {"holder": "x", "doors": ["*"], "valid_to": "2026-12-01"}}},
     "cards.1.valid_to"),
    ({"cards": {"1": {"holder": "x", "doors": ["*"], "valid_from": "2026-12-02T00:00+08:00",
                      "valid_to": "2026-12-01T00:00+08:00"}}}, "cards.1.valid_to"),
    ({"pins": {"12": {"holder": "x", "doors": ["*"]}}}, "pins.12"),
    ({"time_profiles": {"day": [{"days": [0], "from": "07:00", "to": "08:00"}]}},
     "time_profiles.day[0].days"),
    ({"time_profiles": {"day": [{"days": [1], "from": "7am", "to": "08:00"}]}},
     "time_profiles.day[0].from"),
    ({"blocked": "105"}, "blocked"),
])
def test_a_bad_dataset_names_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(DatasetError) as err:
        CredentialStore.from_dataset(doc(**change))
    assert err.value.field == field


def test_ten_thousand_credentials_decide_in_well_under_a_millisecond() -> None:
    cards = {str(i): {"holder": f"h{i}", "doors": ["b1-lobby"], "profile": "day"}
             for i in range(10_000)}
    d = Decider(CredentialStore.from_dataset(doc(cards=cards)), [LOBBY])
    assert len(d.store) == 10_000 + 3
    t = time.perf_counter()
    for i in range(0, 10_000, 10):
        assert d.decide(at("r-lobby", card(i)), NOW).granted
    assert (time.perf_counter() - t) / 1000 < 0.001
