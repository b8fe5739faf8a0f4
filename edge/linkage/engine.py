"""Fire linkage at the edge: a fire alarm becomes actions at once, cloud or no cloud.

``notice`` sees every event right after the outbox stored it and only plans: which actions
the matching rules call for that the active incident has not done yet. The actions run as
tasks of ``run``'s TaskGroup, all at once, each with a timeout and one retry, and each ends
in a ``linkage.action`` event with its result. Nothing here waits on the cloud: events go to
the local outbox, decisions come from the rules in memory.

One incident is active at a time, from the first matching alarm until a guard resets it:

* a second alarm in a building already covered runs nothing again (an action that failed is
  tried again: the new alarm is a new chance);
* an alarm in a new building joins the incident with its own ``linkage.triggered`` (the guards
  must know the fire spread) and the doors and elevators of that building;
* gates stay held open until the reset (holding is the gate controller's job), and a restart
  mid-fire reads the incident back from ``state_file`` and holds them again.

A reset releases the gates and restores the doors (elevators come back under the fire
brigade's or the maintainer's control, not ours) and emits ``linkage.reset``. A panel reset
(``fire.operation`` with ``reset``) resets linkage only when every rule of the incident says
``reset_on_panel_reset``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog

from contract import Clock, NewEvent, Priority
from drivers.base import Emit
from edge.linkage import actions, state
from edge.linkage.actions import Attempted, Command, carry_out
from edge.linkage.doors import DoorControl
from edge.linkage.model import (
    ALL_BUILDINGS,
    EVENT_VERSION,
    LINKAGE_ACTION,
    LINKAGE_RESET,
    LINKAGE_TRIGGERED,
    ActionOutcome,
    LinkageRule,
    Result,
    event_building,
    event_location,
    is_panel_reset,
    is_test_mode,
    linkage_text,
)
from edge.linkage.state import PENDING, RUNNING, ActionKey, ActionRecord, Incident

log = structlog.get_logger("edge.linkage")

DEVICE = "linkage"
"""Device id of the events linkage itself emits."""
ACTION_TIMEOUT_S = 5.0
RETRY_DELAY_S = 0.5
HOLDING_ACTIONS = ("raise_gate", "unlock_doors")
"""Actions that leave something in a state a reset must undo (and a restart re-asserts)."""

NOTHING_ACTIVE = "当前没有启动的联动，无需复位 / no linkage is active: nothing to reset"
NOT_STARTED = "联动尚未启动，请稍后再试 / linkage is not running yet: try again shortly"


class Linkage:
    def __init__(self, rules: Sequence[LinkageRule], *, gates: Mapping[str, Any],
                 elevators: Mapping[str, Any], doors: DoorControl, emit: Emit, clock: Clock,
                 site: str, state_file: Path | None = None,
                 action_timeout: float = ACTION_TIMEOUT_S,
                 retry_delay: float = RETRY_DELAY_S) -> None:
        if action_timeout <= 0 or retry_delay < 0:
            raise ValueError("action_timeout must be > 0 and retry_delay ≥ 0")
        self.rules = list(rules)
        self._rules_by_id = {r.id: r for r in self.rules}
        self._gates = gates
        self._elevators = elevators
        self._doors = doors
        self._emit = emit
        self._clock = clock
        self.site = site
        self._state_file = state_file
        self._timeout = action_timeout
        self._retry_delay = retry_delay
        self._log = log.bind(site=site)
        self._incident: Incident | None = None
        self._last_reset: dict[str, Any] | None = None
        self._tg: asyncio.TaskGroup | None = None
        self._backlog: list[NewEvent] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._save_lock = asyncio.Lock()
        for rule in self.rules:
            if isinstance(rule.raise_gates, tuple):
                for g in rule.raise_gates:
                    if g not in gates:
                        self._log.error("linkage rule names an unknown gate", rule=rule.id,
                                        gate=g)

    # -- lifecycle ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Carry out linkage until cancelled; an incident saved before a restart is taken up
        again first (its gates held again)."""
        self._incident = await self._load()
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                if self._incident is not None:
                    self._reassert(self._incident)
                backlog, self._backlog = self._backlog, []
                for ev in backlog:
                    self._handle_safely(ev)
                await asyncio.Future()
        finally:
            self._tg = None

    async def wait_idle(self) -> None:
        """Return once every action, save and event under way has finished."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    # -- events ------------------------------------------------------------------------------

    def notice(self, ev: NewEvent) -> None:
        """Called for every event once it is durable; plans and schedules, never blocks."""
        if self._tg is None:
            if is_panel_reset(ev) or any(r.matches(ev) for r in self.rules):
                self._backlog.append(ev)
            return
        self._handle_safely(ev)

    def _handle_safely(self, ev: NewEvent) -> None:
        try:
            self._handle(ev)
        except Exception:  # never into the emit path that called notice
            self._log.exception("linkage could not handle an event", kind=ev.kind,
                                event=ev.id, device=ev.device)

    def _handle(self, ev: NewEvent) -> None:
        if is_panel_reset(ev):
            self._on_panel_reset(ev)
            return
        rules = [r for r in self.rules if r.matches(ev)]
        if not rules:
            return
        building = event_building(ev)
        location = event_location(ev)
        inc = self._incident
        starts = inc is None
        if inc is None:
            inc = Incident(id=str(uuid.uuid4()), started=self._clock.now().isoformat(),
                           rule=rules[0].id)
            self._incident = inc
        bkey = building if building is not None else ALL_BUILDINGS
        new_building = bkey not in inc.buildings
        if new_building:
            inc.buildings.append(bkey)
        inc.rules.extend(r.id for r in rules if r.id not in inc.rules)
        inc.add_cause({"event": ev.id, "kind": ev.kind, "device": ev.device,
                       "ts": ev.ts.isoformat(), "building": building, "location": location,
                       "test_mode": is_test_mode(ev), "rules": [r.id for r in rules]})
        to_run = [a for a in self._plan(rules, building, ev) if self._needs_run(inc, a)]
        reason = linkage_text("火警联动", "fire linkage", building, location)
        alarm_runs = any(a.action == "alarm" for a in to_run)
        triggered = self._triggered(inc, rules, ev, building, location, to_run, starts)
        if starts or new_building:
            self._log.critical("火警联动启动 / fire linkage triggered", incident=inc.id,
                               building=building, location=location, cause_event=ev.id,
                               device=ev.device, joined=not starts,
                               actions=[f"{a.action}:{a.target}" for a in to_run])
            if not alarm_runs:
                # No rule asks for the alarm: the start is still recorded, as access priority.
                self._spawn(self._emit_safely(triggered))
        else:
            self._log.warning("fire alarm joins the active linkage", incident=inc.id,
                              building=building, cause_event=ev.id, device=ev.device,
                              rerun=[f"{a.action}:{a.target}" for a in to_run])
        for rec in to_run:
            inc.actions[rec.key] = rec
            inc.inflight[rec.key] = asyncio.Event()
            if rec.action == "alarm":
                command = self._alarm_command(triggered)
            else:
                command = self._command(rec, by=f"linkage:{rec.rule}", reason=reason)
            self._spawn(self._act(inc, rec, command, reassert=False))
        self._spawn(self._save())

    def _plan(self, rules: Sequence[LinkageRule], building: str | None,
              ev: NewEvent) -> list[ActionRecord]:
        """Every action the rules call for, once each (the first rule naming it owns it)."""
        planned: dict[ActionKey, ActionRecord] = {}

        def add(rule: LinkageRule, action: str, target: str, where: str | None) -> None:
            rec = ActionRecord(action=action, target=target, building=where, rule=rule.id,
                               cause_event=ev.id, cause_kind=ev.kind)
            planned.setdefault(rec.key, rec)

        bkey = building if building is not None else ALL_BUILDINGS
        for rule in rules:
            targets = rule.target_buildings(building)
            if rule.alarm:
                add(rule, "alarm", bkey, building)
            if rule.unlock_doors:
                for b in targets:
                    add(rule, "unlock_doors", b, b)
            for gate_id in rule.gate_ids(self._gates):
                add(rule, "raise_gate", gate_id, None)
            if rule.recall_elevators:
                for eid, elevator in sorted(self._elevators.items()):
                    where = _building_of(elevator)
                    if ALL_BUILDINGS in targets or (where is not None and where in targets):
                        add(rule, "recall_elevator", eid, where)
        return list(planned.values())

    @staticmethod
    def _needs_run(inc: Incident, rec: ActionRecord) -> bool:
        done = inc.actions.get(rec.key)
        if done is not None:
            return done.state == "failed" and rec.key not in inc.inflight
        if rec.action == "unlock_doors" and rec.target != ALL_BUILDINGS:
            every = inc.actions.get(("unlock_doors", ALL_BUILDINGS))
            return every is None or every.state == "failed"
        return True

    def _command(self, rec: ActionRecord, *, by: str, reason: str) -> Command:
        if rec.action == "raise_gate":
            return actions.hold_gate(self._gates.get(rec.target), rec.target, by=by,
                                     reason=reason)
        if rec.action == "unlock_doors":
            return actions.unlock_doors(self._doors, rec.target, by=by, reason=reason)
        if rec.action == "recall_elevator":
            elevator = self._elevators.get(rec.target)
            if elevator is None:
                return _answer("failed", f"站点未配置电梯 {rec.target} / no elevator "
                                         f"{rec.target!r} in the site")
            return actions.recall_elevator(elevator, by=by, reason=reason)
        # An alarm restored from the state file whose event was never stored: say so again.
        return self._alarm_command(self._event(LINKAGE_TRIGGERED, {
            "v": EVENT_VERSION, "incident": self._incident.id if self._incident else None,
            "rule": rec.rule, "cause_event": rec.cause_event, "building": rec.building,
            "location": None, "actions": [], "joined": True, "reassert": True,
            "message": "火警联动仍在进行（重启后） / fire linkage still active (after a "
                       "restart)"}))

    def _alarm_command(self, triggered: NewEvent) -> Command:
        async def command() -> ActionOutcome:
            await self._emit(triggered)
            return ActionOutcome("ok", "已发出紧急告警 / critical alarm raised")
        return command

    async def _act(self, inc: Incident, rec: ActionRecord, command: Command, *,
                   reassert: bool) -> None:
        done = inc.inflight.setdefault(rec.key, asyncio.Event())
        rec.state = RUNNING
        try:
            outcome = await carry_out(command, clock=self._clock, per_attempt=self._timeout,
                                      retry_delay=self._retry_delay,
                                      may_retry=lambda: self._incident is inc)
        finally:
            done.set()
            if inc.inflight.get(rec.key) is done:
                del inc.inflight[rec.key]
        self._record(rec, outcome)
        level = "info" if outcome.result in ("ok", "noop") else "error"
        getattr(self._log, level)("linkage action", incident=inc.id, action=rec.action,
                                  target=rec.target, building=rec.building,
                                  result=outcome.result, detail=outcome.detail,
                                  attempts=outcome.attempts, ms=outcome.ms, reassert=reassert)
        await self._save()
        data = {"v": EVENT_VERSION, "incident": inc.id, "rule": rec.rule,
                "cause_event": rec.cause_event, "cause_kind": rec.cause_kind,
                "action": rec.action, "target": rec.target, "building": rec.building,
                "result": rec.state, "detail": rec.detail, "attempts": rec.attempts,
                "ms": rec.ms}
        if reassert:
            data["reassert"] = True
        await self._emit_safely(self._event(LINKAGE_ACTION, data))

    def _record(self, rec: ActionRecord, outcome: Attempted) -> None:
        rec.state = outcome.result
        rec.detail = outcome.detail
        rec.attempts = outcome.attempts
        rec.ms = outcome.ms
        rec.updated = self._clock.now().isoformat()

    # -- restart -----------------------------------------------------------------------------

    def _reassert(self, inc: Incident) -> None:
        """After a restart: hold the gates and doors again, finish what never finished."""
        again = [rec for rec in inc.actions.values()
                 if rec.action in HOLDING_ACTIONS or rec.state in (PENDING, RUNNING, "failed")]
        self._log.critical("火警联动在重启后继续 / fire linkage still active after a restart",
                           incident=inc.id, buildings=inc.buildings,
                           reassert=[f"{r.action}:{r.target}" for r in again])
        for rec in again:
            inc.inflight[rec.key] = asyncio.Event()
            reason = ("火警联动（重启后恢复） / fire linkage (restored after a restart)"
                      if rec.building is None else linkage_text(
                          "火警联动（重启后恢复）", "fire linkage (restored after a restart)",
                          rec.building))
            command = self._command(rec, by=f"linkage:{rec.rule}", reason=reason)
            self._spawn(self._act(inc, rec, command, reassert=True))

    async def _load(self) -> Incident | None:
        if self._state_file is None:
            return None
        try:
            doc = await asyncio.to_thread(state.read, self._state_file)
            incident = None if doc is None else state.load(doc)
        except (OSError, ValueError) as exc:
            self._log.critical("联动状态文件无法读取，未恢复联动 / linkage state file unreadable: "
                               "nothing restored", file=str(self._state_file), error=str(exc))
            return None
        if incident is not None and doc.get("site") not in (None, self.site):
            self._log.error("linkage state file belongs to another site: ignored",
                            file=str(self._state_file), file_site=doc.get("site"))
            return None
        return incident

    async def _save(self) -> None:
        if self._state_file is None:
            return
        async with self._save_lock:
            doc = state.dump(self.site, self._incident)
            try:
                await asyncio.to_thread(state.write_atomic, self._state_file, doc)
            except OSError as exc:
                self._log.error("联动状态未能保存 / linkage state not saved",
                                file=str(self._state_file), error=str(exc))

    # -- reset -------------------------------------------------------------------------------

    async def reset(self, *, by: str, reason: str) -> dict[str, Any]:
        """A guard ends the incident: gates released, doors restored, ``linkage.reset``.

        Returns ``{"result": "ok", "incident", "results": [...], ...}``, or
        ``{"result": "refused", "reason": ...}`` when nothing is active. Raises ValueError
        without ``by`` or ``reason``.
        """
        if not by.strip():
            raise ValueError("复位须填写操作人（by） / a reset needs 'by' (who resets)")
        if not reason.strip():
            raise ValueError("复位须填写原因（reason） / a reset needs a 'reason'")
        tg = self._tg
        if tg is None:
            return {"result": "refused", "reason": NOT_STARTED}
        inc = self._incident
        if inc is None:
            return {"result": "refused", "reason": NOTHING_ACTIVE}
        # The incident ends now: a new alarm from here on starts a new one, and no retry of
        # this one runs after the gates are released.
        self._incident = None
        task = tg.create_task(self._reset(inc, by.strip(), reason.strip()))
        self._track(task)
        return await asyncio.shield(task)

    async def _reset(self, inc: Incident, by: str, reason: str) -> dict[str, Any]:
        self._log.warning("火警联动复位 / fire linkage reset", incident=inc.id, by=by,
                          reason=reason)
        holding = [e.wait() for key, e in inc.inflight.items() if key[0] in HOLDING_ACTIONS]
        if holding:
            await asyncio.gather(*holding)
        undo = [rec for rec in inc.actions.values() if rec.action in HOLDING_ACTIONS]
        results = await asyncio.gather(*(self._undo(rec, by) for rec in undo))
        await self._save()
        now = self._clock.now().isoformat()
        self._last_reset = {"incident": inc.id, "by": by, "reason": reason, "at": now,
                            "results": list(results)}
        await self._emit_safely(self._event(LINKAGE_RESET, {
            "v": EVENT_VERSION, "incident": inc.id, "by": by, "reason": reason,
            "started": inc.started, "buildings": list(inc.buildings),
            "results": list(results),
            "message": "火警联动已复位 / fire linkage reset"}))
        return {"result": "ok", "incident": inc.id, "by": by, "reason": reason,
                "results": list(results), "message": "火警联动已复位 / fire linkage reset"}

    async def _undo(self, rec: ActionRecord, by: str) -> dict[str, Any]:
        name = "release_gate" if rec.action == "raise_gate" else "restore_doors"
        item: dict[str, Any] = {"action": name, "target": rec.target,
                                "building": rec.building}
        newer = self._incident
        if newer is not None and (rec.key in newer.actions or (
                rec.action == "unlock_doors"
                and ("unlock_doors", ALL_BUILDINGS) in newer.actions)):
            return {**item, "result": "noop", "attempts": 0, "ms": 0,
                    "detail": "新的火警联动仍需保持 / kept: a new fire linkage needs it"}
        command = (actions.release_gate(self._gates.get(rec.target), rec.target, by=by)
                   if rec.action == "raise_gate"
                   else actions.restore_doors(self._doors, rec.target, by=by))
        out = await carry_out(command, clock=self._clock, per_attempt=self._timeout,
                              retry_delay=self._retry_delay)
        level = "info" if out.result in ("ok", "noop") else "error"
        getattr(self._log, level)("linkage undone", action=name, target=rec.target,
                                  result=out.result, detail=out.detail, by=by)
        return {**item, "result": out.result, "detail": out.detail, "attempts": out.attempts,
                "ms": out.ms}

    def _on_panel_reset(self, ev: NewEvent) -> None:
        inc = self._incident
        if inc is None:
            return
        allowed = bool(inc.rules) and all(
            (rule := self._rules_by_id.get(r)) is not None and rule.reset_on_panel_reset
            for r in inc.rules)
        if not allowed:
            self._log.warning("消防主机已复位，联动须由保安复位 / the fire panel was reset: a "
                              "guard must reset linkage", incident=inc.id, device=ev.device)
            return
        self._spawn(self._panel_reset(ev))

    async def _panel_reset(self, ev: NewEvent) -> None:
        result = await self.reset(by=f"panel:{ev.device}",
                                  reason="消防主机复位 / fire panel reset")
        self._log.info("linkage reset by the fire panel", result=result.get("result"))

    # -- status ------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The active incident with the state of every action, and the last reset."""
        inc = self._incident
        incidents: list[dict[str, Any]] = []
        if inc is not None:
            view = inc.to_dict()
            view["restored"] = inc.restored
            view["message"] = (f"火警联动进行中：{len(inc.buildings)} 栋 / fire linkage active: "
                               f"{len(inc.buildings)} building(s)")
            incidents.append(view)
        return {"v": EVENT_VERSION, "site": self.site, "active": inc is not None,
                "running": self._tg is not None, "incidents": incidents,
                "last_reset": self._last_reset}

    # -- helpers -----------------------------------------------------------------------------

    def _triggered(self, inc: Incident, rules: Sequence[LinkageRule], ev: NewEvent,
                   building: str | None, location: dict[str, Any] | None,
                   planned: Sequence[ActionRecord], starts: bool) -> NewEvent:
        alarm = any(r.alarm for r in rules)
        return self._event(LINKAGE_TRIGGERED, {
            "v": EVENT_VERSION, "incident": inc.id, "rule": rules[0].id,
            "rules": [r.id for r in rules], "cause_event": ev.id, "cause_kind": ev.kind,
            "cause_device": ev.device, "cause_ts": ev.ts.isoformat(), "building": building,
            "location": location, "test_mode": is_test_mode(ev), "joined": not starts,
            "alarm": alarm,
            "actions": [{"action": a.action, "target": a.target, "building": a.building}
                        for a in planned],
            "message": linkage_text("火警联动启动", "fire linkage triggered", building,
                                    location),
        }, Priority.ALARM if alarm else Priority.ACCESS)

    def _event(self, kind: str, data: dict[str, Any],
               priority: Priority = Priority.ALARM) -> NewEvent:
        # Explicit priority: "linkage.*" is not an alarm prefix in contract/kinds.py, and a
        # linkage record must never be dropped under the disk budget.
        return NewEvent(device=DEVICE, kind=kind, data=data, ts=self._clock.now(),
                        priority=priority)

    async def _emit_safely(self, ev: NewEvent) -> None:
        try:
            await self._emit(ev)
        except Exception as exc:
            self._log.error("联动事件未能保存 / linkage event not stored", kind=ev.kind,
                            error=repr(exc))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        if self._tg is None:
            coro.close()
            self._log.error("linkage is not running: work dropped")
            return
        self._track(self._tg.create_task(coro))

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _building_of(elevator: Any) -> str | None:
    raw = getattr(getattr(elevator, "config", None), "building", None)
    if raw is None:
        return None
    text = str(raw).strip()
    return text or None


def _answer(result: Result, detail: str) -> Command:
    async def command() -> ActionOutcome:
        return ActionOutcome(result, detail)
    return command
