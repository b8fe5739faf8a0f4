"""Carrying out one linkage command: a timeout on every attempt, one retry on failure.

Every command ends in an ``Attempted`` (never an exception): a part that raises, hangs or
answers ``failed`` is tried once more, then reported ``failed`` with the reason. ``refused``
(an elevator in inspection mode, say) and ``noop`` are answers, not failures, and are not
retried. The commands themselves adapt the device parts linkage drives: gates
(``GateController.hold_open`` / ``release``; the camera-relay gates cannot be held), elevators
(``recall``) and doors (``DoorControl``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from contract import Clock
from edge.linkage.doors import DoorControl
from edge.linkage.model import RESULTS, ActionOutcome, Result

Command = Callable[[], Awaitable[ActionOutcome]]
MAX_ATTEMPTS = 2


@dataclass(frozen=True, slots=True)
class Attempted:
    result: Result
    detail: str
    attempts: int
    ms: int


async def carry_out(command: Command, *, clock: Clock, per_attempt: float, retry_delay: float,
                    may_retry: Callable[[], bool] = lambda: True) -> Attempted:
    """Run ``command``, at most ``per_attempt`` seconds each try; retry a failure once if
    ``may_retry()`` still holds (a reset in between cancels the retry)."""
    started = clock.monotonic()
    attempts = 0
    while True:
        attempts += 1
        try:
            async with asyncio.timeout(per_attempt):
                outcome = await command()
        except TimeoutError:
            outcome = ActionOutcome("failed", f"{per_attempt:g} 秒内无应答 / no answer within "
                                              f"{per_attempt:g} s")
        except Exception as exc:  # any part's error is a failed action, never a crash
            outcome = ActionOutcome("failed", _error_text(exc))
        outcome = _as_outcome(outcome)
        if outcome.result != "failed" or attempts >= MAX_ATTEMPTS or not may_retry():
            break
        if retry_delay > 0:
            await asyncio.sleep(retry_delay)
        if not may_retry():
            break
    ms = max(0, round((clock.monotonic() - started) * 1000))
    return Attempted(outcome.result, outcome.detail, attempts, ms)


def _as_outcome(answer: Any) -> ActionOutcome:
    """A part's answer as an ActionOutcome (any object with ``result`` and ``detail``)."""
    if isinstance(answer, ActionOutcome):
        return answer
    result = getattr(answer, "result", None)
    if result in RESULTS:
        return ActionOutcome(result, str(getattr(answer, "detail", "") or ""))
    return ActionOutcome("failed", f"无效应答 / invalid answer: {answer!r:.80}")


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip()
    if text and any("\u4e00" <= ch <= "\u9fff" for ch in text):
        return text  # already zh / en (GateCommandError and friends)
    return f"执行出错 / error: {type(exc).__name__}: {text}" if text else (
        f"执行出错 / error: {type(exc).__name__}")


# -- gates ------------------------------------------------------------------------------------

GATE_HELD = "道闸已抬起并保持常开 / gate raised and held open"
GATE_RELEASED = "道闸已解除常开 / gate hold released"
GATE_CANNOT_HOLD = ("该道闸不能保持常开（摄像机继电器），未动作 / this gate cannot be held "
                    "open (camera relay): not actuated")


def no_gate(gate_id: str) -> str:
    return f"站点未配置道闸 {gate_id} / no gate {gate_id!r} in the site"


def hold_gate(gate: Any, gate_id: str, *, by: str, reason: str) -> Command:
    async def command() -> ActionOutcome:
        if gate is None:
            return ActionOutcome("failed", no_gate(gate_id))
        hold = getattr(gate, "hold_open", None)
        if hold is None:
            return ActionOutcome("noop", GATE_CANNOT_HOLD)
        await hold(reason, by=by)
        return ActionOutcome("ok", GATE_HELD)
    return command


def release_gate(gate: Any, gate_id: str, *, by: str) -> Command:
    async def command() -> ActionOutcome:
        if gate is None:
            return ActionOutcome("failed", no_gate(gate_id))
        release = getattr(gate, "release", None)
        if release is None or getattr(gate, "hold_open", None) is None:
            return ActionOutcome("noop", GATE_CANNOT_HOLD)
        await release(by=by)
        return ActionOutcome("ok", GATE_RELEASED)
    return command


# -- elevators --------------------------------------------------------------------------------

RECALLED = "电梯已迫降至基站 / elevator recalled to the main landing"
CANNOT_RECALL = ("该电梯无迫降控制，未动作 / this elevator has no recall control: not "
                 "actuated")


def recall_elevator(elevator: Any, *, by: str, reason: str) -> Command:
    async def command() -> ActionOutcome:
        recall = getattr(elevator, "recall", None)
        if recall is None:
            return ActionOutcome("noop", CANNOT_RECALL)
        answer = await recall(by=by, reason=reason)
        result, detail = _recall_answer(answer)
        if result not in RESULTS:
            return ActionOutcome("failed", f"电梯应答无效 / invalid elevator answer: "
                                           f"{result!r:.40}")
        return ActionOutcome(result, detail or (RECALLED if result == "ok" else ""))
    return command


def _recall_answer(answer: Any) -> tuple[Any, str]:
    """ok / refused / failed and why (zh / en), from either shape of answer: ``result`` +
    ``reason`` (the interface linkage was specified against), or ``drivers.elevator``'s
    ``RecallResult`` (``outcome`` + ``message`` + ``detail``; its ``reason`` echoes ours)."""
    if hasattr(answer, "outcome"):
        message = str(getattr(answer, "message", "") or "")
        extra = str(getattr(answer, "detail", "") or "")
        return answer.outcome, f"{message} ({extra})" if message and extra else message or extra
    return getattr(answer, "result", None), str(getattr(answer, "reason", "") or "")


# -- doors ------------------------------------------------------------------------------------

def unlock_doors(doors: DoorControl, building: str, *, by: str, reason: str) -> Command:
    async def command() -> ActionOutcome:
        return await doors.unlock_egress(building, by=by, reason=reason)
    return command


def restore_doors(doors: DoorControl, building: str, *, by: str) -> Command:
    async def command() -> ActionOutcome:
        return await doors.restore(building, by=by)
    return command
