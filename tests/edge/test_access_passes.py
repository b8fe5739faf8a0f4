"""Visitor passes at the edge, offline: the signed token from a QR reader and the 9-digit code
from a QR reader in Wiegand mode, each checked for signature, window, door, the dataset's
revoked list and the uses left, counted durably across a restart; the events they record."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from osdp import CardFormat

from contract import FakeClock, Kind, NewEvent
from contract.visitor_pass import PassClaims, sign
from drivers.access.osdp import _scanned_text
from drivers.access.osdp_model import CardPresented, PassPresented
from drivers.access.wiegand import Credential
from edge.access.credentials import CredentialStore, DatasetError
from edge.access.decide import REASONS, AccessPoint, Decider
from edge.access.readers import ReaderDoors
from edge.access.visitor_passes import PASSES_FILE, MemoryUses, PassGate, PassUses

SECRET = "demo-secret-0001"
SITE = "demo"
NOW = dt.datetime(2026, 12, 9, 2, 0, tzinfo=dt.UTC)
T = int(NOW.timestamp())
LOBBY = AccessPoint("r-lobby", "b1-lobby")
GARAGE = AccessPoint("r-garage", "garage")
CODE = "418204719"


def claims(pid: int = 12, *, doors: tuple[str, ...] = ("b1-lobby",), start: int = T - 3600,
           end: int = T + 3600, uses: int = 2, site: str = SITE) -> PassClaims:
    return PassClaims(pid, site, doors, start, end, uses)


def dataset(**extra: Any) -> dict[str, Any]:
    return {"version": 5, "cards": {"100": {"holder": "owner-1", "doors": ["*"]}},
            "passes": {CODE: {"id": 12, "doors": ["b1-lobby"], "uses": 2,
                              "valid_from": "2026-12-09T01:00:00+00:00",
                              "valid_to": "2026-12-09T03:00:00+00:00"}},
            "passes_revoked": [7], **extra}


def decider(uses: Any = None, doc: dict[str, Any] | None = None,
            secret: str | None = SECRET) -> Decider:
    return Decider(CredentialStore.from_dataset(doc or dataset()), [LOBBY, GARAGE], "UTC",
                   PassGate(SITE, secret, uses if uses is not None else MemoryUses()))


def scan(text: str, reader: str = "r-lobby") -> PassPresented:
    return PassPresented(reader, text, 0.0)


def number(n: int, reader: str = "r-lobby") -> CardPresented:
    return CardPresented(reader, Credential("h10306", 34, n, n >> 16, n & 0xFFFF), 0.0)


def test_a_genuine_pass_opens_its_door_as_many_times_as_it_allows() -> None:
    d = decider()
    token = sign(SECRET, claims())
    first = d.decide(scan(token), NOW)
    assert (first.granted, first.method, first.holder, first.credential) == (
        True, "pass", "visitor-12", "pass-12")
    assert token not in repr(first)                    # the token itself is never recorded
    assert d.decide(scan(token), NOW).granted
    third = d.decide(scan(token), NOW)
    assert (third.granted, third.reason) == (False, "pass_used_up")


def test_each_refusal_has_its_reason() -> None:
    d = decider()
    good = sign(SECRET, claims())
    prefix, body, mac = good.split(".")
    cases = {
        f"{prefix}.{body}.{mac[:-2]}AA": "pass_bad_signature",
        f"{prefix}.{body[:-3]}xyz.{mac}": "pass_bad_signature",
        "cyp1.garbage": "pass_malformed",
        sign("another-sites-secret", claims()): "pass_bad_signature",
        sign(SECRET, claims(site="north")): "pass_other_site",
        sign(SECRET, claims(start=T + 60, end=T + 3600)): "pass_not_yet_valid",
        sign(SECRET, claims(start=T - 7200, end=T)): "pass_expired",
        sign(SECRET, claims(doors=("garage",))): "pass_no_permission",
        sign(SECRET, claims(pid=7)): "pass_revoked",  # revoked: in the dataset's list
    }
    for text, reason in cases.items():
        decision = d.decide(scan(text), NOW)
        assert (decision.granted, decision.reason) == (False, reason), text
        assert reason in REASONS and all(REASONS[reason])
    assert d.decide(scan(good, "r-garage"), NOW).reason == "pass_no_permission"
    assert d.decide(scan(sign(SECRET, claims(doors=("*",)))), NOW).granted
    assert d.decide(scan(good, "r-nowhere"), NOW).reason == "unknown_reader"
    blocked = decider(doc=dataset(blocked=["visitor-12"]))
    assert blocked.decide(scan(good), NOW).reason == "blocked"
    assert decider(secret=None).decide(scan(good), NOW).reason == "pass_no_secret"
    assert Decider(CredentialStore.from_dataset(dataset()), [LOBBY]).decide(
        scan(good), NOW).reason == "pass_no_secret"


def test_a_pass_issued_after_the_last_dataset_still_opens() -> None:
    d = decider(doc={"version": 1})
    assert d.decide(scan(sign(SECRET, claims(pid=99))), NOW).granted


def test_the_numeric_code_is_checked_against_the_dataset() -> None:
    uses = MemoryUses()
    d = decider(uses)
    got = d.decide(number(int(CODE)), NOW)
    assert (got.granted, got.method, got.holder, got.credential, got.pass_id) == (
        True, "pass", "visitor-12", "pass-12", 12)
    assert d.decide(number(int(CODE), "r-garage"), NOW).reason == "pass_no_permission"
    assert d.decide(number(int(CODE)), NOW + dt.timedelta(hours=1)).reason == "pass_expired"
    assert d.decide(number(int(CODE)), NOW - dt.timedelta(hours=2)).reason == "pass_not_yet_valid"
    # The token and the code share the count: one use left, taken by the token.
    assert d.decide(scan(sign(SECRET, claims())), NOW).granted
    assert d.decide(number(int(CODE)), NOW).reason == "pass_used_up"
    unknown = d.decide(number(123456789), NOW)
    assert (unknown.method, unknown.reason) == ("card", "unknown_card")
    assert d.decide(number(100), NOW).granted          # cards are untouched
    revoked = decider(doc=dataset(passes_revoked=[12]))
    assert revoked.decide(number(int(CODE)), NOW).reason == "pass_revoked"


def test_bad_pass_entries_are_refused_with_the_field() -> None:
    for bad, field in (({"passes": {"x1": {}}}, "passes.x1"),
                       ({"passes": {CODE: {"id": 0}}}, f"passes.{CODE}.id"),
                       ({"passes": {CODE: {"id": 1, "uses": 1, "doors": ["*"],
                                           "valid_from": "2026-12-09T01:00:00+00:00",
                                           "valid_to": "2026-12-09T01:00:00+00:00"}}},
                        f"passes.{CODE}.valid_to"),
                       ({"passes_revoked": ["7"]}, "passes_revoked")):
        try:
            CredentialStore.from_dataset({"version": 1, **bad})
        except DatasetError as err:
            assert err.field == field
        else:
            raise AssertionError(f"accepted {bad}")


async def test_uses_survive_a_restart(tmp_path: Path) -> None:
    token = sign(SECRET, claims(uses=2))
    uses = await PassUses.open(tmp_path / PASSES_FILE)
    assert decider(uses).decide(scan(token), NOW).granted
    await uses.aclose()
    again = await PassUses.open(tmp_path / PASSES_FILE)
    try:
        d = decider(again)
        assert again.used(12) == 1
        assert d.decide(number(int(CODE)), NOW).granted      # the last use, by its code
        await again.flush()
    finally:
        await again.aclose()
    third = await PassUses.open(tmp_path / PASSES_FILE)
    try:
        assert third.used(12) == 2
        assert decider(third).decide(scan(token), NOW).reason == "pass_used_up"
    finally:
        await third.aclose()


class Line:
    def __init__(self) -> None:
        self.granted: list[str] = []
        self.denied: list[str] = []

    async def grant(self, reader: str, pulse_s: float | None = None) -> float:
        self.granted.append(reader)
        return 0.0

    async def deny(self, reader: str) -> None:
        self.denied.append(reader)


async def test_grants_and_denials_are_ordinary_access_events() -> None:
    events: list[NewEvent] = []

    async def emit(event: NewEvent) -> None:
        events.append(event)

    doors = ReaderDoors(decider(), emit, FakeClock(NOW))
    line = Line()
    doors.attach(line)
    token = sign(SECRET, claims(uses=1))
    await doors.on_input(scan(token))
    await doors.on_input(scan(token))
    assert (line.granted, line.denied) == (["r-lobby"], ["r-lobby"])
    granted, denied = events
    assert (granted.kind, granted.device) == (Kind.ACCESS_GRANTED, "b1-lobby")
    assert {k: granted.data[k] for k in ("method", "holder", "credential", "pass_id")} == {
        "method": "pass", "holder": "visitor-12", "credential": "pass-12", "pass_id": 12}
    assert denied.kind == Kind.ACCESS_DENIED and denied.data["reason"] == "pass_used_up"
    assert "次数已用完" in denied.data["message"] and "no uses left" in denied.data["message"]
    assert all(token not in str(e.data) for e in events)


def test_the_driver_tells_a_scanned_text_from_card_data() -> None:
    token = b"cyp1.eyJpZCI6MX0.abc"
    assert _scanned_text(CardFormat.Unspecified, token) == token.decode()
    assert _scanned_text(CardFormat.ASCII, b"HELLO 123") == "HELLO 123"
    assert _scanned_text(CardFormat.Unspecified, b"ABCD") is None       # raw card data
    assert _scanned_text(CardFormat.Wiegand, token) is None
    assert _scanned_text(CardFormat.Unspecified, b"cyp1.\x00\x01") is None
    assert _scanned_text(CardFormat.ASCII, b"") is None
