"""Visitor passes through a real OSDP line (libosdp CP ↔ the simulated reader's libosdp PD on a
pty): a QR reader in Wiegand mode sends the pass's 9-digit code and the relay opens; a QR
reader's text arrives as text and is judged as a pass; and the limit libosdp 3.2.9 puts on a
card read (64 bytes), which a signed pass token does not fit."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from contract import Kind
from contract.visitor_pass import PassClaims, sign
from drivers.access.osdp_model import LED_GREEN, LED_RED, OUTPUT_TEMPORARY_ON
from edge.access.visitor_passes import MemoryUses, PassGate
from simulators.access.osdp_sim import CARD_DATA_MAX, OsdpReaderSim
from tests.drivers.osdp_rig import DOOR, KEY, dataset, rig

SECRET = "demo-secret-0001"
CODE = 418204719


def _passes_dataset(uses: int = 1) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    return {**dataset(), "passes": {str(CODE): {
        "id": 12, "doors": [DOOR], "uses": uses,
        "valid_from": (now - dt.timedelta(hours=1)).isoformat(),
        "valid_to": (now + dt.timedelta(hours=1)).isoformat()}}}


async def test_a_pass_code_from_a_qr_reader_in_wiegand_mode_opens_the_door_once(
        tmp_path: Path) -> None:
    gate = PassGate("demo", SECRET, MemoryUses())
    async with rig(tmp_path, passes=gate, data=_passes_dataset(uses=1)) as r:
        await r.online()
        await r.sim.present_card(CODE >> 16, CODE & 0xFFFF, bits=34)
        opened = await r.sim.wait_command("output")
        assert opened.fields["control_code"] == OUTPUT_TEMPORARY_ON
        await r.until(lambda: bool(r.outbox.of(Kind.ACCESS_GRANTED)), "granted")
        [granted] = r.outbox.of(Kind.ACCESS_GRANTED)
        assert {k: granted.data[k] for k in ("method", "holder", "credential")} == {
            "method": "pass", "holder": "visitor-12", "credential": "pass-12"}
        assert granted.data["relay_ms"] >= 0 and str(CODE) not in str(granted.data)
        await r.sim.wait_command("led", where=lambda c: c.fields.get("on_color") == LED_GREEN)

        await r.sim.present_card(CODE >> 16, CODE & 0xFFFF, bits=34)   # its one use is gone
        await r.until(lambda: bool(r.outbox.of(Kind.ACCESS_DENIED)), "denied")
        [denied] = r.outbox.of(Kind.ACCESS_DENIED)
        assert (denied.data["method"], denied.data["reason"]) == ("pass", "pass_used_up")
        assert len(r.sim.seen("output")) == 1


async def test_a_scanned_text_reaches_the_edge_as_a_pass(tmp_path: Path) -> None:
    gate = PassGate("demo", SECRET, MemoryUses())
    forged = "cyp1." + base64.urlsafe_b64encode(b'{"id":12}').rstrip(b"=").decode() + \
        "." + "A" * 43                                    # the length of a real signature
    assert len(forged) <= CARD_DATA_MAX
    async with rig(tmp_path, passes=gate, data=_passes_dataset()) as r:
        await r.online()
        await r.sim.present_text(forged)
        await r.until(lambda: bool(r.outbox.of(Kind.ACCESS_DENIED)), "denied")
        [denied] = r.outbox.of(Kind.ACCESS_DENIED)
        assert (denied.device, denied.data["method"], denied.data["reason"]) == (
            DOOR, "pass", "pass_bad_signature")
        assert forged not in str(denied.data)
        await r.sim.wait_command("led", where=lambda c: c.fields.get("on_color") == LED_RED)
        assert r.sim.seen("output") == [] and r.bus.stats.counters["osdp_text_reads"] == 1
        assert r.outbox.of(Kind.ACCESS_GRANTED) == []


async def test_a_signed_token_is_longer_than_libosdp_carries(tmp_path: Path) -> None:
    """libosdp 3.2.9's card read holds 64 bytes (its PD refuses more: the simulator says so
    before libosdp would); the shortest possible token is longer, so the string form cannot
    cross a libosdp line: see docs/operations.md."""
    token = sign(SECRET, PassClaims(1, "s", ("*",), 1765000000, 1765000001, 1))
    assert len(token) > CARD_DATA_MAX
    sim = OsdpReaderSim(tmp_path / "unused.pty", scbk=KEY)
    with pytest.raises(ValueError, match="64"):
        await sim.present_text(token)
