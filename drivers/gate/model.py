"""How a barrier gate at a parking lane is wired, as typed configuration.

Two wirings occur on Chinese parking lanes:

* **Camera relay** (``CameraRelayGateSpec``): the LPR camera closes its own relay when its HTTP
  reply says so (Vzenith ``ivs_ioctrl``, or ``info: ok`` with the relay configured on the
  camera). The edge gets no feedback at all: it can record and emit, never confirm.
* **Modbus relay board** (``ModbusGateSpec``): a common 4/8-channel Modbus RTU/TCP relay board.
  Its coils are relay outputs wired to the barrier controller's OPEN / CLOSE / STOP contacts
  (pulsed, like a push button); its discrete inputs are opto inputs wired to the arm's limit
  switches and to the vehicle loop detector's relay output.

What happens when an input is not wired (``None``):

* no open limit: an open is confirmed when the closed limit releases (the arm has left the
  closed position); with no limit switch at all it is assumed done once the pulse was sent;
* no closed limit: a close is assumed done ``confirm_timeout`` seconds after the command,
  provided the open limit has released; with no limit switch at all, after the timeout alone.
  Until then the gate counts as closing, so anti-crush stays armed for the whole time;
* without any limit switch no ``gate.fault`` can be raised (nothing can disagree);
* no loop detector: the edge cannot see vehicles, so it never auto-closes (that would close on
  a timer, onto a car), closes only when told to, and cannot reverse an arm coming down on a
  vehicle. The barrier controller's own loop or photocell must protect; a warning is logged.

The edge builds these from the site YAML (``parking.gates``); field names follow it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from contract import Kind

GATE_OPENED = Kind.GATE_OPENED
GATE_CLOSED = Kind.GATE_CLOSED
GATE_FAULT = Kind.GATE_FAULT
GATE_RECOVERED = Kind.GATE_RECOVERED
EVENT_VERSION = 1

Command = Literal["open", "close", "stop"]
InputPolarity = Literal["active_high", "active_low"]

#: Why a gate opened (``gate.opened`` ``cause``). ``plate``: a camera read let a vehicle in/out;
#: ``manual``: a guard (needs ``by`` and ``reason``); ``remote``: the console / a cloud command;
#: ``fire``: fire linkage; ``pay``: paid at the exit. Set by the driver itself, never by callers:
#: ``safety`` (anti-crush reopen) and ``external`` (the limit switches saw the arm lift without
#: a command of ours: the barrier's own remote, a key switch, the camera relay on the same gate).
OPEN_CAUSES = ("plate", "manual", "remote", "fire", "pay")
DRIVER_CAUSES = ("safety", "external")
#: Why a gate closed (``gate.closed`` ``cause``): ``manual`` (a guard: needs ``by`` and
#: ``reason``), ``remote`` (console / cloud command), ``auto`` (the vehicle passed; the driver's
#: own), or ``external`` (seen on the limit switches, not commanded by us).
CLOSE_CAUSES = ("manual", "remote", "auto")


class GateState(StrEnum):
    CLOSED = "closed"
    OPENING = "opening"
    OPEN = "open"
    CLOSING = "closing"
    FAULT = "fault"
    UNKNOWN = "unknown"


#: Gauge value of each state (``gate_state``), stable for dashboards.
STATE_CODE = {GateState.CLOSED: 0, GateState.OPENING: 1, GateState.OPEN: 2,
              GateState.CLOSING: 3, GateState.FAULT: 4, GateState.UNKNOWN: 5}


@dataclass(frozen=True, slots=True)
class GateBehaviour:
    """What the transport-independent controller needs to know about a gate."""

    id: str
    lane: str | None
    has_open_limit: bool
    has_closed_limit: bool
    has_loop: bool
    confirm_timeout: float = 6.0
    #: Seconds after the loop went occupied → free before closing; None: never auto-close.
    auto_close: float | None = 3.0
    transport: str = "modbus_relay"

    @property
    def auto_close_enabled(self) -> bool:
        return self.has_loop and self.auto_close is not None


@dataclass(frozen=True, slots=True)
class ModbusGateSpec:
    """A barrier driven by a Modbus relay board (coils = relays, discrete inputs = opto inputs).

    ``address`` is the board's Modbus unit id; coil and input numbers are 0-based protocol
    addresses (channel 1 of the board is usually 0). ``pulse_ms`` is how long a relay is held
    on to "press" the barrier controller's button. ``input_polarity``: ``active_low`` when a
    closed contact reads 0 (NC wiring or boards that report inverted). ``auto_close``: seconds
    after the vehicle has left the loop, ``None`` to disable. ``poll_interval``: how often the
    inputs are read (s). ``offline_after`` failed polls in a row emit ``device.offline``;
    ``online_after`` good polls in a row emit ``device.online`` (hysteresis against flapping).
    """

    id: str
    bus: str
    address: int = 1
    lane: str | None = None
    open_coil: int = 0
    close_coil: int = 1
    stop_coil: int | None = None
    pulse_ms: int = 500
    open_limit_input: int | None = None
    closed_limit_input: int | None = None
    loop_input: int | None = None
    input_polarity: InputPolarity = "active_high"
    confirm_timeout: float = 6.0
    auto_close: float | None = 3.0
    poll_interval: float = 0.1
    offline_after: int = 5
    online_after: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.address <= 247:
            raise ValueError(f"gate {self.id}: address (unit id) must be 1–247")
        coils = [c for c in (self.open_coil, self.close_coil, self.stop_coil) if c is not None]
        if len(set(coils)) != len(coils) or any(not 0 <= c <= 0xFFFF for c in coils):
            raise ValueError(f"gate {self.id}: open/close/stop coils must differ, 0–65535")
        inputs = [i for i in (self.open_limit_input, self.closed_limit_input, self.loop_input)
                  if i is not None]
        if len(set(inputs)) != len(inputs) or any(not 0 <= i <= 0xFFFF for i in inputs):
            raise ValueError(f"gate {self.id}: limit and loop inputs must differ, 0–65535")
        if inputs and max(inputs) - min(inputs) >= 2000:
            raise ValueError(f"gate {self.id}: inputs must lie within 2000 of each other "
                             "(one read)")
        if not 20 <= self.pulse_ms <= 10_000:
            raise ValueError(f"gate {self.id}: pulse_ms must be 20–10000")
        if self.confirm_timeout <= 0 or self.poll_interval <= 0:
            raise ValueError(f"gate {self.id}: confirm_timeout and poll_interval must be > 0")
        if self.auto_close is not None and self.auto_close < 0:
            raise ValueError(f"gate {self.id}: auto_close must be ≥ 0 or None (disabled)")
        if self.offline_after < 1 or self.online_after < 1:
            raise ValueError(f"gate {self.id}: offline_after and online_after must be ≥ 1")
        if self.input_polarity not in ("active_high", "active_low"):
            raise ValueError(f"gate {self.id}: input_polarity is active_high or active_low")

    @property
    def behaviour(self) -> GateBehaviour:
        return GateBehaviour(id=self.id, lane=self.lane,
                             has_open_limit=self.open_limit_input is not None,
                             has_closed_limit=self.closed_limit_input is not None,
                             has_loop=self.loop_input is not None,
                             confirm_timeout=self.confirm_timeout, auto_close=self.auto_close,
                             transport="modbus_relay")

    def coil_for(self, command: Command) -> int | None:
        return {"open": self.open_coil, "close": self.close_coil,
                "stop": self.stop_coil}[command]


@dataclass(frozen=True, slots=True)
class CameraRelayGateSpec:
    """A barrier wired to the LPR camera's relay output ``relay_io`` (Vzenith io 0–3).

    ``pending_ttl``: an open not caused by a camera push (manual, remote, pay, fire) can only be
    delivered in the reply to the camera's next push or heartbeat; after this many seconds it
    is dropped rather than opening the gate for whoever arrives later.
    """

    id: str
    camera: str
    relay_io: int = 0
    lane: str | None = None
    pulse_ms: int = 500
    pending_ttl: float = 10.0

    def __post_init__(self) -> None:
        if not 0 <= self.relay_io <= 3:
            raise ValueError(f"gate {self.id}: relay_io must be 0–3")
        if not 20 <= self.pulse_ms <= 10_000:
            raise ValueError(f"gate {self.id}: pulse_ms must be 20–10000")
        if self.pending_ttl <= 0:
            raise ValueError(f"gate {self.id}: pending_ttl must be > 0")


@dataclass(frozen=True, slots=True)
class GateInputs:
    """One reading of the board's inputs, already corrected for polarity (True = active).

    ``None`` marks an input that is not wired, never an unknown value: an unreadable board is
    reported as no ``GateInputs`` at all.
    """

    open_limit: bool | None
    closed_limit: bool | None
    loop: bool | None

    def as_dict(self) -> dict[str, bool | None]:
        return {"open_limit": self.open_limit, "closed_limit": self.closed_limit,
                "loop": self.loop}
