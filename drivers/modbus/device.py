"""Per-meter state: schedule, health (online/offline transitions) and deadband memory.

Kept apart from the scheduler so the rules a site engineer asks about — when is a meter
declared offline, how often is a dead one retried, why a value was left out — live in one
small place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drivers.modbus.model import MeterDevice
from drivers.modbus.plan import ReadRequest, plan_reads

PROBE_BACKOFF_MAX_S = 60.0

_REASON_TEXT = {
    "timeout": ("无应答", "no reply"),
    "exception": ("返回异常码", "exception reply"),
    "garbage": ("数据无法解析", "unusable data"),
    "bus_down": ("总线断开", "bus down"),
}


def reason_text(reason: str) -> tuple[str, str]:
    """A Modbus failure reason (``timeout``, ``exception``…) in words, zh-CN and English; every
    device on a bus (meters, relay boards, elevator boxes) says it the same way."""
    return _REASON_TEXT.get(reason, ("故障", reason))


def offline_message(reason: str) -> str:
    """What a guard reads on the board (zh-CN first)."""
    zh, en = reason_text(reason)
    return f"表计离线：{zh} / Meter offline: {en}"


ONLINE_MESSAGE = "表计恢复在线 / Meter back online"


@dataclass(slots=True)
class Transition:
    online: bool
    reason: str = ""
    detail: str = ""


@dataclass(slots=True)
class DeviceRuntime:
    """Mutable state of one meter on the bus; only the bus's scheduler task touches it."""

    device: MeterDevice
    next_due: float
    offline_after: int = 3
    online_after: int = 1
    reads: list[ReadRequest] = field(default_factory=list)
    online: bool | None = None  # None until the first verdict: a meter dead from start is
    # reported offline too
    fails: int = 0
    goods: int = 0
    probing: bool = False
    probe_interval: float = 0.0
    #: Has the meter ever answered? Until then it is only contacted off the live schedule,
    #: with ``contact_wait`` as reply timeout (see bus_driver).
    heard: bool = False
    contact_wait: float = 0.0
    last_sent: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.reads:
            self.reads = plan_reads(self.device.profile.registers, self.device.profile.max_gap)

    @property
    def interval(self) -> float:
        return self.device.poll_interval

    def advance_live(self, now: float) -> int:
        """Next absolute deadline one interval on; returns how many slots were skipped.

        Deadlines stay on the original grid, so a meter keeps its rate even when a poll ran
        late; a scheduler more than one interval behind skips slots rather than bursting.
        """
        self.next_due += self.interval
        skipped = 0
        if self.next_due <= now - self.interval:
            skipped = int((now - self.next_due) // self.interval)
            self.next_due += skipped * self.interval
        return skipped

    def record_failure(self, now: float, reason: str, detail: str,
                       slow: bool) -> Transition | None:
        """Count a failed poll; a slow failure (no reply) moves the meter to probing."""
        self.goods = 0
        self.fails += 1
        if slow and not self.probing:
            self.probing = True
            self.probe_interval = self.interval
        if self.probing:
            if self.fails > self.offline_after:
                self.probe_interval = min(self.probe_interval * 2,
                                          max(PROBE_BACKOFF_MAX_S, self.interval))
            self.next_due = now + self.probe_interval
        else:
            self.advance_live(now)
        if self.fails >= self.offline_after and self.online is not False:
            self.online = False
            return Transition(False, reason, detail)
        return None

    def record_probe_answer(self, now: float) -> None:
        """The meter answered a probe: back to the live schedule, polled in full at once."""
        self.probing = False
        self.probe_interval = 0.0
        self.heard = True
        self.next_due = now

    def join_live(self, now: float) -> None:
        """A never-heard meter answered (if badly): on the live schedule from its next slot."""
        self.probing = False
        self.probe_interval = 0.0
        self.heard = True
        self.next_due = now + self.interval

    def record_success(self, now: float) -> Transition | None:
        self.fails = 0
        self.goods += 1
        self.probing = False
        self.heard = True
        self.advance_live(now)
        if self.online is not True and self.goods >= self.online_after:
            self.online = True
            return Transition(True)
        return None

    def filter_deadband(self, values: dict[str, float]) -> dict[str, float]:
        """Values worth sending: billing always, others only when they moved past the band."""
        bands = self.device.deadband
        billing = {s.name for s in self.device.profile.registers if s.billing}
        out: dict[str, float] = {}
        for name, value in values.items():
            band = bands.get(name)
            last = self.last_sent.get(name)
            if name in billing or band is None or last is None or abs(value - last) >= band:
                out[name] = value
                self.last_sent[name] = value
        return out
