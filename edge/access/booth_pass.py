"""A visitor pass checked at the guard booth: ``POST /access/pass`` on the operators' listener.

Through OSDP a card read carries at most 64 bytes (libosdp 3.2.9), so the signed text of a
pass (``cyp1.…``, ~170–240 characters) cannot cross a reader line; only its 9-digit code can
(Wiegand). At the booth a USB QR scanner types the scanned text and Enter into the focused
field (keyboard wedge); the booth page posts it here with the door the visitor stands at::

    POST /access/pass {"token": "<scanned text or the 9-digit code>", "door": "<door key>"}

It is checked offline exactly as a reader's scan is (``edge.access.visitor_passes.PassGate``,
the same instance as the readers', so a pass used at a reader and at the booth shares its uses
in ``passes.db``): signature with the site secret, window, door, the revoked list of the access
dataset in force, uses left; a blocked ``visitor-<id>`` holder is refused too. A grant opens the
door through the part that owns it (a 微耕/UHPPOTE door: remote open, as ``door.open`` does; an
OSDP reader door: its relay pulse) and is recorded as ``access.granted`` (method ``pass``,
holder ``visitor-<id>``, ``operator`` the token's staff member — never a body field); a refusal
answers 403 with the reason code and zh / en text and is recorded as ``access.denied``.
A door whose controller or readers are offline is refused 503 before the pass is looked at
(no use is spent); a door that does not take the open after the use was counted is recorded
with ``feedback: failed`` and answered 502, as a reader that does not act is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

import structlog
from aiohttp import web

from contract import Clock, Kind, NewEvent, jsoncodec
from contract.operator_token import OperatorToken
from contract.visitor_pass import CODE_DIGITS, MAX_READ_CHARS, looks_like_pass
from drivers.access.uhppote import UhppoteDriver
from drivers.base import DriverStats, Emit
from edge.access.credentials import CredentialStore
from edge.access.decide import REASONS
from edge.access.egress import ReaderEgress
from edge.access.visitor_passes import PassGate, PassVerdict
from edge.access_doors import ControllerDoor
from edge.operator import needs, operator_label, operator_of

log = structlog.get_logger("edge.access.booth")

#: The edge action the route needs (``contract.operator_token.EDGE_ACTIONS``).
ACTION = "open_door"
EVENT_VERSION = 1
OPEN_TIMEOUT_S = 5.0
BOOTH_REASONS: dict[str, tuple[str, str]] = {
    **REASONS,
    "pass_unknown_code": ("数字码不对应任何有效通行证", "no live visitor pass has this code"),
}
NOT_JSON = "请求体须为 JSON 对象 / the body must be a JSON object"


class BoothDoor(Protocol):
    """One door as the booth opens it."""

    def check(self) -> None:
        """Raise LookupError (zh / en) when the door cannot be opened now (offline)."""

    async def open(self, *, by: str) -> str:
        """Release the lock once; the reader or controller that did it."""
        ...


class ControllerBoothDoor:
    """A 微耕/UHPPOTE door: the remote open of ``door.open`` (the controller records it too,
    as ``access.granted`` with credential ``remote``)."""

    def __init__(self, driver: UhppoteDriver, door_id: str) -> None:
        self._door = ControllerDoor(driver, door_id)
        self._controller = driver.config.door(door_id).controller
        self._driver = driver

    def check(self) -> None:
        if self._driver.online.get(self._controller) is False:
            raise LookupError(f"门禁控制器 {self._controller} 离线 / door controller "
                              f"{self._controller} is offline")

    async def open(self, *, by: str) -> str:
        await self._door.open(by=by, reason="访客通行证（岗亭扫码）/ visitor pass at the booth")
        return self._controller


class ReaderBoothDoor:
    """An OSDP reader door: the first online reader's relay pulse (its ``relay_pulse_s``)."""

    def __init__(self, egress: ReaderEgress, door_id: str,
                 pulse_of: Callable[[str], float | None]) -> None:
        self._egress, self.id, self._pulse_of = egress, door_id, pulse_of

    def _online(self) -> tuple[str, Any]:
        for reader, line in self._egress.readers_of(self.id):
            if line.is_online(reader):
                return reader, line
        raise LookupError(f"门 {self.id} 的读卡器离线 / the readers of door {self.id} are "
                          "offline")

    def check(self) -> None:
        self._online()

    async def open(self, *, by: str) -> str:
        reader, line = self._online()
        await line.grant(reader, self._pulse_of(reader))
        return reader


def booth_doors(controllers: UhppoteDriver | None, egress: ReaderEgress | None,
                pulse_of: Callable[[str], float | None]) -> dict[str, BoothDoor]:
    """Every door of the site's controllers and readers, by its key."""
    doors: dict[str, BoothDoor] = {}
    if controllers is not None:
        doors.update({d.id: ControllerBoothDoor(controllers, d.id)
                      for d in controllers.config.doors})
    if egress is not None:
        doors.update({d.id: ReaderBoothDoor(egress, d.id, pulse_of) for d in egress.doors})
    return doors


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=jsoncodec.dumpb(data), status=status,
                        content_type="application/json")


def _error(status: int, field: str | None, zh: str, en: str, **extra: Any) -> web.Response:
    return _json({"error": f"{zh} / {en}", "field": field, **extra}, status)


class BoothPasses:
    """The checks and the doors for one site; ``store`` gives the credentials in force."""

    def __init__(self, gate: PassGate, store: Callable[[], CredentialStore],
                 doors: Mapping[str, BoothDoor], emit: Emit, clock: Clock, *,
                 stats: DriverStats | None = None, open_timeout: float = OPEN_TIMEOUT_S) -> None:
        self.gate, self._store, self.doors = gate, store, dict(doors)
        self._emit, self._clock = emit, clock
        self.stats = stats if stats is not None else DriverStats()
        self.open_timeout = open_timeout

    def check(self, text: str, door: str, now: datetime) -> PassVerdict:
        """The verdict on what was scanned (or typed) for ``door``; counts nothing."""
        store = self._store()
        scanned = text.strip()
        digits = "".join(scanned.split())
        if looks_like_pass(scanned):
            verdict = self.gate.token(scanned, door, store, now)
        elif len(digits) == CODE_DIGITS and digits.isascii() and digits.isdigit():
            verdict = self.gate.code(digits, door, store, now) or PassVerdict("pass_unknown_code")
        else:
            verdict = PassVerdict("pass_malformed")
        if verdict.holder is not None and store.is_blocked(verdict.holder):
            return PassVerdict("blocked", verdict.pass_id)
        return verdict

    async def admit(self, text: str, door_key: str, who: OperatorToken) -> web.Response:
        door = self.doors[door_key]
        try:
            door.check()
        except LookupError as exc:
            zh, _, en = str(exc).partition(" / ")
            return _error(503, "door", zh, en, code="door_offline")
        now = self._clock.now()
        verdict = self.check(text, door_key, now)  # check and count: no await in between
        label = operator_label(who)
        data: dict[str, Any] = {
            "v": EVENT_VERSION, "door": door_key, "method": "pass",
            "credential": f"pass-{verdict.pass_id}" if verdict.pass_id else "QR",
            "holder": verdict.holder, "operator": label}
        if verdict.pass_id is not None:
            data["pass_id"] = verdict.pass_id
        if verdict.reason is not None:
            zh, en = BOOTH_REASONS.get(verdict.reason, (verdict.reason, verdict.reason))
            message = f"拒绝开门：{zh} / access denied: {en}"
            self.stats.inc("booth_pass_denied")
            log.info("岗亭通行证被拒 / booth pass refused", door=door_key,
                     reason=verdict.reason, pass_id=verdict.pass_id, by=label)
            await self._emit(NewEvent(door_key, Kind.ACCESS_DENIED,
                                      {**data, "message": message, "reason": verdict.reason},
                                      now))
            return _json({"error": message, "code": verdict.reason, "reason": verdict.reason,
                          "field": None, "granted": False, "door": door_key,
                          "pass_id": verdict.pass_id}, 403)
        self.gate.granted(verdict, now)
        try:
            async with asyncio.timeout(self.open_timeout):
                opened_by = await door.open(by=label)
        except (LookupError, ValueError, OSError, TimeoutError) as exc:
            self.stats.inc("booth_pass_open_failed")
            log.warning("通行证已放行但门未打开 / pass granted but the door did not open",
                        door=door_key, pass_id=verdict.pass_id, error=str(exc) or "timeout")
            await self._emit(NewEvent(door_key, Kind.ACCESS_GRANTED, {
                **data, "feedback": "failed",
                "message": "开门 / access granted（门未执行 / the door did not act）"}, now))
            return _error(502, "door", "通行证有效，但门未打开", "the pass is valid but the door "
                          "did not open", code="door_failed", granted=True, opened=False,
                          door=door_key, pass_id=verdict.pass_id)
        if isinstance(door, ReaderBoothDoor):
            data["reader"] = opened_by
        self.stats.inc("booth_pass_granted")
        log.info("岗亭通行证放行 / booth pass granted", door=door_key,
                 pass_id=verdict.pass_id, by=label)
        await self._emit(NewEvent(door_key, Kind.ACCESS_GRANTED,
                                  {**data, "message": "开门 / access granted"}, now))
        assert verdict.pass_id is not None
        return _json({"granted": True, "opened": True, "door": door_key,
                      "pass_id": verdict.pass_id, "holder": verdict.holder,
                      "used": self.gate.uses.used(verdict.pass_id), "operator": who.who(),
                      "message": "开门 / access granted"})


def pass_routes(booth: BoothPasses) -> list[web.RouteDef]:
    """``POST /access/pass`` for the operators' listener."""

    @needs(ACTION)
    async def admit(request: web.Request) -> web.Response:
        try:
            body = await request.json(loads=jsoncodec.loads)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _json({"error": NOT_JSON, "field": None}, 400)
        token, door = body.get("token"), body.get("door")
        if not isinstance(token, str) or not token.strip() or len(token) > MAX_READ_CHARS:
            return _error(400, "token", "须填写扫码内容或 9 位数字码（token）",
                          "token is required: the scanned text or the 9-digit code")
        if not isinstance(door, str) or not door.strip():
            return _error(400, "door", "须填写门（door）", "door is required")
        if door not in booth.doors:
            return _error(404, "door", f"未知的门：{door[:64]}", f"unknown door: {door[:64]}")
        return await booth.admit(token, door, operator_of(request))

    return [web.post("/access/pass", admit)]
