"""The local access decision for the readers the edge drives itself (OSDP).

``Decider.decide`` turns a card read or a PIN at a reader into a grant or a denial with a
reason, from the credentials in force and the anti-passback state; it never waits for
anything (no I/O), so the decision is the same with the cloud down and takes microseconds.
The checks, in order: the read itself (a misread is denied with its reason), blocked card or
holder, unknown credential, validity window, door permission, time profile, anti-passback.

**Anti-passback** is kept per area and holder: a reader with ``direction`` ``in`` enters its
``area``, ``out`` leaves it. Entering an area the holder is already in (a card passed back
through the fence) or leaving one they are not in is refused (``hard``) or let through and
flagged (``soft``). A holder the edge has not yet seen at an area may pass either way.

**Duress PIN**: a PIN marked ``duress`` opens the door exactly as a normal grant looks (same
LED, same beep) whatever the time profile or anti-passback, and ``Decision.duress`` tells
the caller to raise the silent alarm. Only the holder's validity and door permission still
apply, and even a refused duress PIN raises the alarm.

**Visitor passes** (``edge.access.visitor_passes``): a QR reader's text is checked as a signed
pass, and a card number that is no card but a live pass's 9-digit code as that pass; either
way method ``pass``, holder ``visitor-<id>``, reasons ``pass_*``, and a grant counts a use.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from drivers.access.osdp_model import CardPresented, PassPresented, PinEntered, ReaderInput
from drivers.access.wiegand import Credential, Refusal
from edge.access.credentials import CredentialStore, Permit
from edge.access.visitor_passes import PassGate, PassVerdict

ApbMode = Literal["hard", "soft", "off"]

REASONS: dict[str, tuple[str, str]] = {
    "bad_parity": ("卡数据校验错误", "card data parity error"),
    "bad_length": ("卡数据长度错误", "card data length error"),
    "unsupported_format": ("不支持的卡格式", "card format not supported"),
    "unknown_card": ("未登记的卡", "card not enrolled"),
    "unknown_pin": ("密码错误", "wrong PIN"),
    "blocked": ("卡或持卡人已被禁用", "card or holder blocked"),
    "not_yet_valid": ("卡尚未生效", "credential not yet valid"),
    "expired": ("卡已过期", "credential expired"),
    "no_permission": ("无此门权限", "no permission for this door"),
    "outside_schedule": ("不在允许的时段", "outside its time profile"),
    "anti_passback": ("反潜回：进出记录不符", "anti-passback: in/out out of order"),
    "unknown_reader": ("读卡器未配置门", "reader not assigned to a door"),
    "pass_malformed": ("通行证无法识别", "visitor pass cannot be read"),
    "pass_bad_signature": ("通行证签名无效（伪造或被改动）", "visitor pass signature not valid"),
    "pass_other_site": ("其他小区的通行证", "visitor pass for another site"),
    "pass_not_yet_valid": ("通行证尚未生效", "visitor pass not valid yet"),
    "pass_expired": ("通行证已过期", "visitor pass expired"),
    "pass_revoked": ("通行证已作废", "visitor pass revoked"),
    "pass_no_permission": ("通行证无此门权限", "visitor pass not valid for this door"),
    "pass_used_up": ("通行证次数已用完", "visitor pass has no uses left"),
    "pass_no_secret": ("边缘未配置站点密钥，无法校验通行证",
                       "the edge has no site secret to check visitor passes"),
}


@dataclass(frozen=True, slots=True)
class AccessPoint:
    """A reader at a door, and the anti-passback area it guards (if any)."""

    reader: str
    door: str
    area: str | None = None
    direction: Literal["in", "out"] | None = None
    anti_passback: ApbMode = "hard"
    relay_pulse_s: float | None = None
    building: str | None = None

    def __post_init__(self) -> None:
        if (self.area is None) != (self.direction is None):
            raise ValueError(f"reader {self.reader}: area and direction go together")


@dataclass(frozen=True, slots=True)
class Decision:
    granted: bool
    reason: str | None
    reader: str
    door: str | None
    method: Literal["card", "pin", "pass"]
    #: The card number; never the PIN itself, nor a pass's token or code (``pass-<id>``).
    credential: str
    holder: str | None = None
    card_format: str | None = None
    area: str | None = None
    direction: str | None = None
    duress: bool = False
    apb_violation: bool = False
    pass_id: int | None = None

    def message(self) -> str:
        if self.granted:
            return "开门 / access granted"
        zh, en = REASONS.get(self.reason or "", (self.reason or "拒绝", self.reason or "denied"))
        return f"拒绝开门：{zh} / access denied: {en}"


class Decider:
    """Decisions for a set of access points from the credential store in force."""

    def __init__(self, store: CredentialStore, points: list[AccessPoint],
                 timezone: str = "Asia/Shanghai", passes: PassGate | None = None) -> None:
        self._store = store
        self._passes = passes
        self._points = {p.reader: p for p in points}
        if len(self._points) != len(points):
            raise ValueError("a reader is listed at two access points")
        self._tz = ZoneInfo(timezone)
        #: (area, holder) → "in" | "out", the holder's last granted pass.
        self._where: dict[tuple[str, str], str] = {}

    @property
    def store(self) -> CredentialStore:
        return self._store

    @property
    def passes(self) -> PassGate | None:
        """Where visitor passes are checked and their uses counted (shared with the booth)."""
        return self._passes

    def swap(self, store: CredentialStore) -> None:
        """Use a newer dataset version from the next decision on (one assignment: atomic)."""
        self._store = store

    def point(self, reader: str) -> AccessPoint | None:
        return self._points.get(reader)

    def decide(self, read: ReaderInput, now: datetime) -> Decision:
        """Grant or deny, and on a grant note where the holder now is."""
        decision = self._decide(read, now)
        if decision.granted and decision.method == "pass" and self._passes is not None:
            self._passes.granted(PassVerdict(None, decision.pass_id), now)
        p = self._points.get(read.reader)
        if decision.granted and p is not None and p.area and decision.holder:
            self._where[(p.area, decision.holder)] = p.direction or "in"
        return decision

    def whereabouts(self, area: str, holder: str) -> str | None:
        return self._where.get((area, holder))

    def _decide(self, read: ReaderInput, now: datetime) -> Decision:
        p = self._points.get(read.reader)
        if isinstance(read, CardPresented):
            base = Decision(False, None, read.reader, p.door if p else None, "card",
                            _card_text(read.read), area=p.area if p else None,
                            direction=p.direction if p else None,
                            card_format=read.read.format
                            if isinstance(read.read, Credential) else None)
            if isinstance(read.read, Refusal):
                return _deny(base, read.read.reason)
            if p is None:
                return _deny(base, "unknown_reader")
            key = read.read.key
            if self._store.is_blocked(key):
                return _deny(base, "blocked")
            permit = self._store.card(key)
            if permit is None and self._passes is not None:
                verdict = self._passes.code(key, p.door, self._store, now)
                if verdict is not None:  # a pass's numeric code, from a QR reader
                    return self._pass(replace(base, method="pass", credential="QR"), verdict)
            if permit is None:
                return _deny(base, "unknown_card")
            return self._judge(base, p, permit, now)
        if isinstance(read, PassPresented):
            base = Decision(False, None, read.reader, p.door if p else None, "pass", "QR",
                            area=p.area if p else None, direction=p.direction if p else None)
            if p is None:
                return _deny(base, "unknown_reader")
            if self._passes is None:
                return _deny(base, "pass_no_secret")
            return self._pass(base, self._passes.token(read.text, p.door, self._store, now))
        assert isinstance(read, PinEntered)
        base = Decision(False, None, read.reader, p.door if p else None, "pin", "PIN",
                        area=p.area if p else None, direction=p.direction if p else None)
        if p is None:
            return _deny(base, "unknown_reader")
        permit = self._store.pin(read.pin)
        if permit is None:
            return _deny(base, "unknown_pin")
        return self._judge(base, p, permit, now)

    def _pass(self, base: Decision, verdict: PassVerdict) -> Decision:
        d = replace(base, holder=verdict.holder, pass_id=verdict.pass_id,
                    credential=f"pass-{verdict.pass_id}" if verdict.pass_id else base.credential)
        if verdict.holder is not None and self._store.is_blocked(verdict.holder):
            return _deny(d, "blocked")
        if verdict.reason is not None:
            return _deny(d, verdict.reason)
        return replace(d, granted=True)

    def _judge(self, base: Decision, p: AccessPoint, permit: Permit,
               now: datetime) -> Decision:
        d = replace(base, holder=permit.holder, duress=permit.duress)
        if self._store.is_blocked(permit.holder):
            return _deny(d, "blocked")
        if permit.valid_from is not None and now < permit.valid_from:
            return _deny(d, "not_yet_valid")
        if permit.valid_to is not None and now >= permit.valid_to:
            return _deny(d, "expired")
        if not permit.opens(p.door):
            return _deny(d, "no_permission")
        if permit.duress:
            return replace(d, granted=True)
        if permit.profile is not None:
            local = now.astimezone(self._tz)
            if not any(w.covers(local) for w in self._store.windows(permit.profile)):
                return _deny(d, "outside_schedule")
        if p.area and p.direction and p.anti_passback != "off":
            last = self._where.get((p.area, permit.holder))
            if last == p.direction:
                if p.anti_passback == "hard":
                    return _deny(d, "anti_passback")
                return replace(d, granted=True, apb_violation=True)
        return replace(d, granted=True)


def _card_text(read: Credential | Refusal) -> str:
    return read.key if isinstance(read, Credential) else f"raw:{read.raw}"


def _deny(d: Decision, reason: str) -> Decision:
    return replace(d, granted=False, reason=reason)
