"""``linkage.reset`` from the console obeys the guard room's rule: refused while a panel still
reports fire, done (and recorded as the staff member who sent it) once it has cleared."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from contract.commands import Command, CommandKind, CommandResult, encode_command, new_cmd_id
from edge.commands import CommandRunner, Targets, handlers
from tests.edge.linkage.conftest import Site, fire, running


def reset(site: Site, **args: str) -> Command:
    return Command(cmd_id=new_cmd_id(), kind=CommandKind.LINKAGE_RESET, issued_by="staff:3 李娜",
                   not_after=site.clock.now() + timedelta(seconds=30), args=args)


async def test_linkage_reset_is_refused_during_fire_and_done_after(tmp_path: Path) -> None:
    site = Site(tmp_path)
    burning: dict[str, list[str]] = {"uitd-1": ["1:1:40:10:2"]}
    async with running(site.linkage()) as linkage:
        table = handlers(Targets(gates=lambda: site.gates, linkage=linkage,
                                 active_fires=lambda: burning))
        runner = await CommandRunner.open(tmp_path / "c.db", table, site.clock, site="demo")
        try:
            nothing = await runner.handle(encode_command(reset(site, reason="误报")))
            assert nothing is not None and nothing.result == CommandResult.REFUSED
            assert "still reports fire" in nothing.detail  # the panel rule comes first

            linkage.notice(fire("1"))
            await linkage.wait_idle()
            assert site.gates["gate-in"].held

            during = reset(site, reason="误报")
            refused = await runner.handle(encode_command(during))
            assert refused is not None and refused.result == CommandResult.REFUSED
            assert "仍报火警" in refused.detail and "1:1:40:10:2" in refused.detail
            assert linkage.status()["active"] and site.gates["gate-in"].held
            assert site.outbox.of("linkage.reset") == []

            burning.clear()  # the panel has been reset
            wrong = await runner.handle(encode_command(reset(site, building="2")))
            assert wrong is not None and wrong.result == CommandResult.REFUSED
            assert "building 2" in wrong.detail and linkage.status()["active"]

            after = reset(site, building="1", reason="已现场确认误报")
            done = await runner.handle(encode_command(after))
            assert done is not None and done.result == CommandResult.OK, done
            assert not linkage.status()["active"] and not site.gates["gate-in"].held
            [event] = site.outbox.of("linkage.reset")
            assert event.data["by"] == "staff:3 李娜"
            assert event.data["reason"] == "已现场确认误报"

            # The refused command delivered again keeps its refusal: it is never run late.
            again = await runner.handle(encode_command(during))
            assert again == refused
            assert len(site.outbox.of("linkage.reset")) == 1
        finally:
            await runner.aclose()


async def test_an_edge_without_linkage_refuses_the_reset(tmp_path: Path) -> None:
    site = Site(tmp_path)
    runner = await CommandRunner.open(tmp_path / "c.db", handlers(Targets()), site.clock,
                                      site="demo")
    try:
        reply = await runner.handle(encode_command(reset(site)))
        assert reply is not None and reply.result == CommandResult.REFUSED
        assert "no fire linkage" in reply.detail
    finally:
        await runner.aclose()
