"""The edge's command runner on its real SQLite record: at most once per ``cmd_id`` across
duplicates and restarts, expiry on the injected clock, refusals that say why, replies kept
until the broker has them. The MQTT path is in test_commands_mqtt.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from contract import FakeClock, jsoncodec
from contract.commands import (
    Command,
    CommandKind,
    CommandReply,
    CommandResult,
    DoorMode,
    decode_reply,
    encode_command,
    new_cmd_id,
)
from drivers.elevator.model import RecallResult
from edge.commands import CommandRunner, DoorRegistry, Handler, Targets, handlers
from edge.commands.runner import INTERRUPTED

T0 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
SITE = "cmdunit"


def command(kind: CommandKind = CommandKind.GATE_OPEN, *, ttl: float = 30.0,
            **args: str) -> Command:
    return Command(cmd_id=new_cmd_id(), kind=kind, issued_by="staff:7 王伟",
                   not_after=T0 + timedelta(seconds=ttl), args=args or {"gate": "g1"})


class Counting:
    """A handler that counts its calls; ``hang`` makes it wait until cancelled."""

    def __init__(self, hang: bool = False) -> None:
        self.calls: list[Command] = []
        self.hang = hang
        self.started = asyncio.Event()

    async def __call__(self, cmd: Command) -> str:
        self.calls.append(cmd)
        self.started.set()
        if self.hang:
            await asyncio.Event().wait()
        return "已执行 / done"


@asynccontextmanager
async def runner_on(path: Path, table: dict[CommandKind, Handler], clock: FakeClock, *,
                    call_timeout: float = 5.0) -> AsyncIterator[CommandRunner]:
    runner = await CommandRunner.open(path, table, clock, site=SITE, call_timeout=call_timeout)
    try:
        yield runner
    finally:
        await runner.aclose()


def replies(runner: CommandRunner) -> dict[str, CommandReply]:
    return {cmd_id: decode_reply(raw) for cmd_id, raw in runner.unsent()}


async def test_a_command_runs_once_and_a_second_delivery_gets_the_stored_reply(
        tmp_path: Path) -> None:
    clock, handler = FakeClock(T0), Counting()
    cmd = command()
    async with runner_on(tmp_path / "c.db", {CommandKind.GATE_OPEN: handler}, clock) as runner:
        first = await runner.handle(encode_command(cmd))
        assert first is not None and first.result == CommandResult.OK
        assert first.detail == "已执行 / done" and first.cmd_id == cmd.cmd_id
        await runner.sent(cmd.cmd_id)
        assert runner.unsent() == []
        clock.advance(60)  # past not_after: a redelivery still gets the reply on record
        again = await runner.handle(encode_command(cmd))
        assert again == first
        assert replies(runner) == {cmd.cmd_id: first}, "the stored reply goes out again"
        assert len(handler.calls) == 1
        assert runner.stats.get("commands_duplicate") == 1


async def test_concurrent_duplicates_run_once(tmp_path: Path) -> None:
    handler = Counting()
    raw = encode_command(command())
    async with runner_on(tmp_path / "c.db", {CommandKind.GATE_OPEN: handler},
                         FakeClock(T0)) as runner:
        out = await asyncio.gather(*(runner.handle(raw) for _ in range(5)))
        assert len(handler.calls) == 1
        assert [r.result for r in out if r is not None] == [CommandResult.OK]


async def test_an_expired_command_is_refused_and_not_run(tmp_path: Path) -> None:
    clock, handler = FakeClock(T0), Counting()
    cmd = command(ttl=10)
    clock.advance(10.001)
    async with runner_on(tmp_path / "c.db", {CommandKind.GATE_OPEN: handler}, clock) as runner:
        reply = await runner.handle(encode_command(cmd))
        assert reply is not None and reply.result == CommandResult.EXPIRED
        assert "过期" in reply.detail and "not_after" in reply.detail
        assert handler.calls == []
        clock.advance(-20)  # even if the clock stepped back, the answer stays "expired"
        assert (await runner.handle(encode_command(cmd))) == reply
        assert handler.calls == []


async def test_malformed_commands_are_refused_naming_the_field_when_they_can_be(
        tmp_path: Path) -> None:
    async with runner_on(tmp_path / "c.db", {}, FakeClock(T0)) as runner:
        cmd_id = new_cmd_id()
        bad = jsoncodec.dumpb({"cmd_id": cmd_id, "kind": "gate.open", "args": {},
                               "issued_by": "staff:7", "not_after": "2026-12-07T02:00:30Z"})
        reply = await runner.handle(bad)
        assert reply is not None and reply.result == CommandResult.REFUSED
        assert "cmd.args.gate" in reply.detail and "required for gate.open" in reply.detail
        assert await runner.handle(b'{"cmd_id": "nope"}') is None
        assert await runner.handle(b"\xff garbage") is None
        assert runner.stats.get("commands_unusable") == 2
        assert list(replies(runner)) == [cmd_id]


async def test_a_kind_this_edge_cannot_run_is_refused_saying_so(tmp_path: Path) -> None:
    async with runner_on(tmp_path / "c.db", {}, FakeClock(T0)) as runner:
        reply = await runner.handle(encode_command(command()))
        assert reply is not None and reply.result == CommandResult.REFUSED
        assert "gate.open" in reply.detail


async def test_a_device_that_does_not_answer_fails_in_time_and_says_it_may_have_acted(
        tmp_path: Path) -> None:
    handler = Counting(hang=True)
    async with runner_on(tmp_path / "c.db", {CommandKind.GATE_OPEN: handler}, FakeClock(T0),
                         call_timeout=0.05) as runner:
        reply = await runner.handle(encode_command(command()))
        assert reply is not None and reply.result == CommandResult.FAILED
        assert "may or may not" in reply.detail


async def test_a_restart_mid_run_answers_failed_and_never_runs_it_again(
        tmp_path: Path) -> None:
    clock, handler = FakeClock(T0), Counting(hang=True)
    cmd = command()
    table: dict[CommandKind, Handler] = {CommandKind.GATE_OPEN: handler}
    async with runner_on(tmp_path / "c.db", table, clock) as runner:
        runner.received(encode_command(cmd))
        await handler.started.wait()
        assert runner.unsent() == []
    # The edge stopped while the handler was acting (recorded "running", no result).
    handler.hang = False
    async with runner_on(tmp_path / "c.db", table, clock) as runner:
        stored = replies(runner)
        assert list(stored) == [cmd.cmd_id]
        assert stored[cmd.cmd_id].result == CommandResult.FAILED
        assert stored[cmd.cmd_id].detail == INTERRUPTED
        again = await runner.handle(encode_command(cmd))  # QoS 1 redelivery after restart
        assert again == stored[cmd.cmd_id]
        assert len(handler.calls) == 1, "a command cut off by a restart must not run twice"


async def test_a_reply_not_yet_taken_by_the_broker_survives_a_restart(tmp_path: Path) -> None:
    clock, handler = FakeClock(T0), Counting()
    cmd = command()
    table: dict[CommandKind, Handler] = {CommandKind.GATE_OPEN: handler}
    async with runner_on(tmp_path / "c.db", table, clock) as runner:
        reply = await runner.handle(encode_command(cmd))
    async with runner_on(tmp_path / "c.db", table, clock) as runner:
        assert replies(runner) == {cmd.cmd_id: reply}
        await runner.sent(cmd.cmd_id)
    async with runner_on(tmp_path / "c.db", table, clock) as runner:
        assert runner.unsent() == []
        await runner.handle(encode_command(cmd))
        assert len(handler.calls) == 1


async def test_old_replied_commands_are_pruned_at_start(tmp_path: Path) -> None:
    clock, handler = FakeClock(T0), Counting()
    cmd = command()
    table: dict[CommandKind, Handler] = {CommandKind.GATE_OPEN: handler}
    async with runner_on(tmp_path / "c.db", table, clock) as runner:
        await runner.handle(encode_command(cmd))
        await runner.sent(cmd.cmd_id)
    clock.advance(2 * 86400)
    async with runner_on(tmp_path / "c.db", table, clock) as runner:
        reply = await runner.handle(encode_command(cmd))
        assert reply is not None and reply.result == CommandResult.EXPIRED
        assert len(handler.calls) == 1


# -- handlers on parts that answer like the real drivers ------------------------------------


class FakeDoor:
    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple[str, object, str]] = []
        self.error = error

    async def open(self, *, by: str, reason: str) -> str:
        self.calls.append(("open", None, by))
        if self.error is not None:
            raise self.error
        return "门已开 / door opened"

    async def set_mode(self, mode: DoorMode, *, by: str, reason: str) -> str:
        self.calls.append(("mode", mode, by))
        return f"门模式 {mode} / door mode {mode}"


class FakeElevator:
    def __init__(self, outcome: str) -> None:
        self.outcome = outcome
        self.calls: list[tuple[str, str]] = []

    async def recall(self, *, by: str, reason: str) -> RecallResult:
        self.calls.append((by, reason))
        return RecallResult(outcome=self.outcome, code="x",  # type: ignore[arg-type]
                            message="电梯处于检修状态 / the elevator is in inspection mode",
                            by=by, reason=reason, target_floor=1)


async def run_one(table: dict[CommandKind, Handler], cmd: Command,
                  tmp_path: Path) -> CommandReply:
    async with runner_on(tmp_path / f"{cmd.cmd_id}.db", table, FakeClock(T0)) as runner:
        reply = await runner.handle(encode_command(cmd))
    assert reply is not None
    return reply


async def test_doors_answer_through_the_registry(tmp_path: Path) -> None:
    doors = DoorRegistry()
    lobby, broken = FakeDoor(), FakeDoor(ValueError("控制器离线 / controller offline"))
    doors.register("b1.lobby", lobby)
    doors.register("b2.lobby", broken)
    doors.register("b3.lobby", FakeDoor(OSError("no route to host")))
    table = handlers(Targets(doors=doors))
    ok = await run_one(table, command(CommandKind.DOOR_OPEN, door="b1.lobby"), tmp_path)
    assert (ok.result, ok.detail) == (CommandResult.OK, "门已开 / door opened")
    mode = await run_one(table, command(CommandKind.DOOR_MODE, door="b1.lobby",
                                        mode="normally_open"), tmp_path)
    assert mode.result == CommandResult.OK
    assert lobby.calls == [("open", None, "staff:7 王伟"),
                           ("mode", DoorMode.NORMALLY_OPEN, "staff:7 王伟")]
    unknown = await run_one(table, command(CommandKind.DOOR_OPEN, door="b9.gate"), tmp_path)
    assert unknown.result == CommandResult.REFUSED and "b9.gate" in unknown.detail
    refused = await run_one(table, command(CommandKind.DOOR_OPEN, door="b2.lobby"), tmp_path)
    assert refused.result == CommandResult.REFUSED and "offline" in refused.detail
    failed = await run_one(table, command(CommandKind.DOOR_OPEN, door="b3.lobby"), tmp_path)
    assert failed.result == CommandResult.FAILED and "no route to host" in failed.detail


async def test_elevator_recall_replies_what_the_driver_decided(tmp_path: Path) -> None:
    lifts = {"A1": FakeElevator("ok"), "A2": FakeElevator("refused"),
             "A3": FakeElevator("failed")}
    table = handlers(Targets(elevators=lambda: lifts))
    got = {key: await run_one(table, command(CommandKind.ELEVATOR_RECALL, elevator=key,
                                             reason="困人救援"), tmp_path)
           for key in (*lifts, "Z9")}
    assert got["A1"].result == CommandResult.OK
    assert got["A2"].result == CommandResult.REFUSED and "inspection" in got["A2"].detail
    assert got["A3"].result == CommandResult.FAILED
    assert got["Z9"].result == CommandResult.REFUSED and "Z9" in got["Z9"].detail
    assert lifts["A1"].calls == [("staff:7 王伟", "困人救援")]


async def test_reconnect_and_resync_run_what_the_edge_registered(tmp_path: Path) -> None:
    done: list[str] = []

    def reconnect(key: str) -> Callable[[], Awaitable[str]]:
        async def go() -> str:
            done.append(key)
            return "已重连 / reconnected"
        return go

    table = handlers(Targets(reconnect={"meter-1": reconnect("meter-1")},
                             resync={"parking": lambda: "已请求 / requested"}))
    ok = await run_one(table, command(CommandKind.DEVICE_RECONNECT, device="meter-1"),
                       tmp_path)
    assert ok.result == CommandResult.OK and done == ["meter-1"]
    no = await run_one(table, command(CommandKind.DEVICE_RECONNECT, device="uitd-1"),
                       tmp_path)
    assert no.result == CommandResult.REFUSED and "uitd-1" in no.detail
    pull = await run_one(table, command(CommandKind.DATASET_RESYNC, dataset="parking"),
                         tmp_path)
    assert pull.result == CommandResult.OK
    other = await run_one(table, command(CommandKind.DATASET_RESYNC, dataset="access"),
                          tmp_path)
    assert other.result == CommandResult.REFUSED and "access" in other.detail
