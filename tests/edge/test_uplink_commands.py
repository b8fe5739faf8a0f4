"""``down/cmd`` at the edge: decoded with the contract's codec, logged, never run (yet)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from contract import topics
from contract.commands import Command, CommandKind, encode_command, new_cmd_id
from edge.outbox import AsyncOutbox
from edge.uplink import Uplink, UplinkSettings

SITE = "cmd1"


async def test_commands_are_decoded_and_refusals_counted_but_nothing_runs(
        tmp_path: Path) -> None:
    async with await AsyncOutbox.open(tmp_path / "o.db") as box:
        uplink = Uplink(UplinkSettings(site=SITE, mqtt_url="mqtt://127.0.0.1:1"), box)
        good = encode_command(Command(
            cmd_id=new_cmd_id(), kind=CommandKind.GATE_OPEN, issued_by="staff:7",
            not_after=datetime.now(UTC) + timedelta(seconds=30), args={"gate": "g1"}))
        await uplink.handle_downlink(topics.down_cmd(SITE), good)
        assert (uplink.counters.cmd_messages, uplink.counters.cmd_refused) == (1, 0)
        for bad in (b'{"cmd_id": "c1"}', b"not json",
                    good.replace(b'"gate.open"', b'"gate.explode"')):
            await uplink.handle_downlink(topics.down_cmd(SITE), bad)
        assert (uplink.counters.cmd_messages, uplink.counters.cmd_refused) == (4, 3)
        assert uplink.counters.downlink_malformed == 0
        assert await box.depth() == 0, "no command may act (or record an action) yet"
