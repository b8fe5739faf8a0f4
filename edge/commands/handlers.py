"""One handler per command kind, each calling the real part of the edge that acts.

A handler gets a decoded ``Command`` (its arguments already checked by the contract), looks
its device up, checks what the device's state forbids, acts, and returns the reply detail; it
raises ``CommandRefused`` (not done, with the reason) or ``CommandFailed``. Who acted is the
command's ``issued_by``; why is the optional ``reason`` argument. The action is recorded by the
part that acts, as an ordinary event, exactly as when a guard does it locally:

* ``gate.open`` / ``gate.close``: the gate driver, cause ``remote`` → ``gate.opened`` /
  ``gate.closed`` (the same ``open`` the booth's manual open calls);
* ``linkage.reset``: ``edge.linkage.reset.reset_linkage`` (the rule the guard room's reset
  obeys: refused while a panel still reports fire) → ``linkage.reset``;
* ``elevator.recall``: the elevator driver → ``elevator.recall`` with its outcome;
* ``door.open`` / ``door.mode``: the door an access driver registered (``DoorRegistry``);
* ``device.reconnect`` / ``dataset.resync``: the callables the edge registered per device /
  dataset (drop a device's connection so the next poll reconnects; pull a dataset again);
* ``patrol.scan``: the round tracker (``PatrolService.scan``) → ``patrol.checkpoint``; refused
  for a checkpoint the dataset lacks or a phone time unreadable or more than a day off.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from contract.commands import Command, CommandKind, DoorMode
from drivers.gate.controller import GateCommandError, GateHeld
from edge.commands.doors import DoorRegistry
from edge.commands.outcome import CommandFailed, CommandRefused, text
from edge.linkage.engine import Linkage
from edge.linkage.reset import ActiveFires, ResetRefused, reset_linkage
from edge.patrol.scan import ScanRefused

Handler = Callable[[Command], Awaitable[str]]
#: Drop a device's connection (and whatever else makes it start afresh); returns the detail.
Reconnect = Callable[[], Awaitable[str]]
#: Ask for a dataset to be pulled again now; returns the detail, raises CommandRefused.
Resync = Callable[[], str]
#: Count a QR scan: (checkpoint, guard, phone time ISO 8601) → the detail; raises ScanRefused.
PatrolScan = Callable[[str, str, str], Awaitable[str]]


@dataclass
class Targets:
    """What the handlers act on, read when a command runs (drivers are rebuilt on restarts)."""

    gates: Callable[[], Mapping[str, Any]] = dict
    linkage: Linkage | None = None
    active_fires: ActiveFires | None = None
    elevators: Callable[[], Mapping[str, Any]] = dict
    doors: DoorRegistry = field(default_factory=DoorRegistry)
    reconnect: Mapping[str, Reconnect] = field(default_factory=dict)
    resync: Mapping[str, Resync] = field(default_factory=dict)
    patrol_scan: PatrolScan | None = None


def reason_of(cmd: Command) -> str:
    """The command's ``reason``, or one that says where the action came from."""
    given = str(cmd.args.get("reason") or "").strip()
    return given or f"管理台远程命令 {cmd.kind} / remote command {cmd.kind} from the console"


def handlers(t: Targets) -> dict[CommandKind, Handler]:
    """Every kind with a part to act on at this edge."""

    async def gate_open(cmd: Command) -> str:
        key = str(cmd.args["gate"])
        gate = _gate(t, key)
        try:
            await gate.open(cause="remote", by=cmd.issued_by, reason=reason_of(cmd))
        except ValueError as exc:
            raise CommandRefused("开闸请求无效", str(exc)) from None
        except GateCommandError as exc:
            raise CommandFailed("开闸未成功", str(exc)) from None
        return text(f"道闸 {key} 已开闸（已记录 gate.opened）",
                    f"gate {key} opened (gate.opened recorded)")

    async def gate_close(cmd: Command) -> str:
        key = str(cmd.args["gate"])
        gate = _gate(t, key)
        if not callable(getattr(gate, "close", None)):
            raise CommandRefused(f"道闸 {key} 由相机继电器控制，不能远程落杆",
                                 f"gate {key} is on a camera relay: it cannot be closed "
                                 "remotely")
        try:
            now = await gate.close(cause="remote", by=cmd.issued_by, reason=reason_of(cmd))
        except GateHeld as exc:
            raise CommandRefused(f"道闸 {key} 处于消防常开，不能落杆",
                                 f"gate {key} is held open by fire linkage: {exc}") from None
        except ValueError as exc:
            raise CommandRefused("落杆请求无效", str(exc)) from None
        except GateCommandError as exc:
            raise CommandFailed("落杆未成功", str(exc)) from None
        if now:
            return text(f"道闸 {key} 已落杆", f"gate {key} closing")
        return text(f"地感有车，道闸 {key} 将在车辆离开后落杆",
                    f"a vehicle is on the loop: gate {key} closes once it has left")

    async def linkage_reset(cmd: Command) -> str:
        if t.linkage is None:
            raise CommandRefused("本网关未配置火警联动", "this edge runs no fire linkage")
        building = cmd.args.get("building")
        try:
            result = await reset_linkage(t.linkage, t.active_fires, by=cmd.issued_by,
                                         reason=reason_of(cmd),
                                         building=None if building is None else str(building))
        except ResetRefused as refused:
            zh, _, en = refused.message.partition(" / ")
            raise CommandRefused(zh, en or zh) from None
        failed = [r for r in result.get("results", []) if r.get("result") == "failed"]
        if failed:
            return text(f"火警联动已复位，{len(failed)} 项恢复失败（见 linkage.reset 事件）",
                        f"fire linkage reset; {len(failed)} restore(s) failed (see the "
                        "linkage.reset event)")
        return text("火警联动已复位", "fire linkage reset")

    async def elevator_recall(cmd: Command) -> str:
        key = str(cmd.args["elevator"])
        elevator = t.elevators().get(key)
        if elevator is None:
            raise CommandRefused(f"本站没有电梯 {key}", f"no elevator {key} at this site")
        result = await elevator.recall(by=cmd.issued_by, reason=reason_of(cmd))
        message = str(getattr(result, "message", "")) or text("电梯召回", "elevator recall")
        zh, _, en = message.partition(" / ")
        if result.outcome == "refused":
            raise CommandRefused(zh, en or zh)
        if result.outcome == "failed":
            raise CommandFailed(zh, en or zh)
        return message

    async def door_open(cmd: Command) -> str:
        key = str(cmd.args["door"])
        door = _door(t, key)
        try:
            return await door.open(by=cmd.issued_by, reason=reason_of(cmd))
        except (LookupError, ValueError) as exc:
            raise CommandRefused(f"门 {key} 不能开启", str(exc)) from None

    async def door_mode(cmd: Command) -> str:
        key = str(cmd.args["door"])
        door = _door(t, key)
        try:
            return await door.set_mode(DoorMode(str(cmd.args["mode"])), by=cmd.issued_by,
                                       reason=reason_of(cmd))
        except (LookupError, ValueError) as exc:
            raise CommandRefused(f"门 {key} 不能切换模式", str(exc)) from None

    async def device_reconnect(cmd: Command) -> str:
        key = str(cmd.args["device"])
        reconnect = t.reconnect.get(key)
        if reconnect is None:
            raise CommandRefused(f"设备 {key} 不在本网关，或其驱动不支持远程重连",
                                 f"device {key} is not on this edge, or its driver cannot be "
                                 "reconnected remotely")
        return await reconnect()

    async def dataset_resync(cmd: Command) -> str:
        key = str(cmd.args["dataset"])
        resync = t.resync.get(key)
        if resync is None:
            raise CommandRefused(f"本网关不从管理台拉取数据集 {key}",
                                 f"this edge does not pull dataset {key} from the console")
        return resync()

    async def patrol_scan(cmd: Command) -> str:
        if t.patrol_scan is None:
            raise CommandRefused("本网关未配置巡更（站点文件没有 patrol:）",
                                 "this edge runs no patrol (the site file has no patrol:)")
        try:
            return await t.patrol_scan(str(cmd.args["checkpoint"]), str(cmd.args["guard"]),
                                       str(cmd.args["at"]))
        except ScanRefused as refused:
            raise CommandRefused(refused.zh, refused.en) from None

    return {CommandKind.GATE_OPEN: gate_open, CommandKind.GATE_CLOSE: gate_close,
            CommandKind.LINKAGE_RESET: linkage_reset,
            CommandKind.ELEVATOR_RECALL: elevator_recall,
            CommandKind.DOOR_OPEN: door_open, CommandKind.DOOR_MODE: door_mode,
            CommandKind.DEVICE_RECONNECT: device_reconnect,
            CommandKind.DATASET_RESYNC: dataset_resync,
            CommandKind.PATROL_SCAN: patrol_scan}


def _gate(t: Targets, key: str) -> Any:
    gate = t.gates().get(key)
    if gate is None:
        raise CommandRefused(f"本站没有道闸 {key}", f"no gate {key} at this site")
    if getattr(gate, "online", None) is False:
        raise CommandRefused(f"道闸 {key} 的控制板离线", f"gate {key}'s relay board is offline")
    return gate


def _door(t: Targets, key: str) -> Any:
    door = t.doors.get(key)
    if door is None:
        raise CommandRefused(f"本站没有门 {key}（没有门禁驱动登记此门）",
                             f"no door {key} at this site (no access driver registered it)")
    return door
