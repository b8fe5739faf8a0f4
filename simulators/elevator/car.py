"""An elevator car with doors, moving between floors, and the faults a test can script.

Time comes from ``clock`` (seconds) and the car's position is worked out whenever someone
looks, so a test that moves a hand-driven clock decides exactly where the car is. A trip:
doors closed → travel ``floor_s`` per floor → doors open (``door_s``) → dwell ``dwell_s`` →
doors close (``door_s``) → idle. With ``traffic`` an idle car goes to a random floor after
``idle_s``, passengers getting in and out at the landings.

Scripted faults freeze the car where they leave it until ``clear()``:

* ``trap(at_landing)``: stopped with people inside, at a landing (doors shut) or between two;
  the box reports 平层困人 / 非平层困人 unless ``report=False`` (a box that misses it: only
  the state shows the trap);
* ``door_open_while_moving()``: running with the door open (运行中开门);
* ``overrun(top)``: past the top (冲顶) or bottom (蹲底) landing.

``clear()`` re-levels the car to the nearest landing and opens the doors; the passengers get
out. A recall (``recall(main_landing)``, what the box does on a write of its control register)
sends the car to the main landing, where the doors open and stay open until released; a car in
inspection or frozen by a fault ignores it, as a real controller would.
"""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Literal

log = logging.getLogger(__name__)

Phase = Literal["idle", "moving", "opening", "open", "closing"]
DOOR_ZONE = 0.05  # ± levels around a landing that count as the door zone (平层区)
_DOOR_OF_PHASE = {"idle": "closed", "moving": "closed", "opening": "opening", "open": "open",
                  "closing": "closing"}
DEFAULT_FLOORS = (-2, -1, *range(1, 11))


class SimCar:
    """One car; see the module docstring. ``floors`` are the landings' names, bottom up."""

    def __init__(self, *, floors: Sequence[int] = DEFAULT_FLOORS, start_floor: int = 1,
                 floor_s: float = 1.0, door_s: float = 1.0, dwell_s: float = 3.0,
                 idle_s: float = 2.0, traffic: bool = False,
                 clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None) -> None:
        levels = list(floors)
        if not levels or len(set(levels)) != len(levels) or levels != sorted(levels):
            raise ValueError("floors must be distinct and listed bottom up")
        if start_floor not in levels:
            raise ValueError(f"start floor {start_floor} is not one of {levels}")
        if min(floor_s, door_s, dwell_s, idle_s) <= 0:
            raise ValueError("times must be > 0")
        self.floors = levels
        self.floor_s, self.door_s, self.dwell_s, self.idle_s = floor_s, door_s, dwell_s, idle_s
        self.traffic = traffic
        self._clock = clock
        self._rng = rng or random.Random(0)
        self._pos = float(levels.index(start_floor))
        self._phase: Phase = "idle"
        self._t = clock()
        self._from = self._pos
        self._target: int | None = None
        self._calls: deque[int] = deque()
        self.people = False
        self.inspection = False
        self.maintenance = False
        self._faults: list[str] = []
        self._stuck = False
        self._door_override: str | None = None
        self._dir_override: str | None = None
        self.recalled = False
        self._leave_on_open = False
        #: (time, floor) of every arrival at a landing.
        self.arrivals: list[tuple[float, int]] = []

    # -- what the box reads -----------------------------------------------------------------

    @property
    def position(self) -> float:
        """Level index (0 = lowest landing); fractions are between landings."""
        self._advance()
        return self._pos

    @property
    def floor(self) -> int:
        """The floor the box shows: the nearest landing."""
        self._advance()
        return self.floors[self._nearest()]

    @property
    def in_door_zone(self) -> bool:
        self._advance()
        here = round(self._pos)
        return 0 <= here < len(self.floors) and abs(self._pos - here) <= DOOR_ZONE

    @property
    def direction(self) -> str:
        self._advance()
        if self._dir_override is not None:
            return self._dir_override
        if self._phase == "moving" and self._target is not None and self._target != self._from:
            return "up" if self._target > self._from else "down"
        return "stopped"

    @property
    def door(self) -> str:
        self._advance()
        return self._door_override or _DOOR_OF_PHASE[self._phase]

    @property
    def phase(self) -> Phase:
        self._advance()
        return self._phase

    @property
    def faults(self) -> list[str]:
        """Active fault keys (profile ``key``s), in the order they were raised."""
        return list(self._faults)

    @property
    def stuck(self) -> bool:
        return self._stuck

    def tick(self) -> None:
        self._advance()

    def describe(self) -> str:
        self._advance()
        text = (f"floor {self.floor} {self.direction} door {self.door}"
                f"{' people' if self.people else ''}{' zone' if self.in_door_zone else ''}")
        if self._faults:
            text += f" faults {','.join(self._faults)}"
        if self.recalled:
            text += " RECALLED"
        return text

    # -- normal use ---------------------------------------------------------------------------

    async def call(self, floor: int) -> None:
        """Someone presses a button for ``floor``."""
        if floor not in self.floors:
            raise ValueError(f"no floor {floor} (floors {self.floors})")
        self._advance()
        self._calls.append(self.floors.index(floor))
        self._kick()

    async def passengers(self, present: bool) -> None:
        self._advance()
        self.people = present

    async def set_inspection(self, on: bool) -> None:
        self._advance()
        self.inspection = on

    async def set_maintenance(self, on: bool) -> None:
        self._advance()
        self.maintenance = on

    async def raise_fault(self, key: str) -> None:
        """Any fault key of the profile (alarm_button, emergency_power…), car unaffected."""
        self._advance()
        if key not in self._faults:
            self._faults.append(key)
        log.info("fault %s raised", key)

    async def clear_fault(self, key: str) -> None:
        self._advance()
        if key in self._faults:
            self._faults.remove(key)

    # -- scripted faults ----------------------------------------------------------------------

    async def trap(self, at_landing: bool = False, *, report: bool = True) -> None:
        self._advance()
        here = self._nearest()
        if at_landing:
            self._pos = float(here)
        else:
            self._pos = here + 0.5 if here < len(self.floors) - 1 else here - 0.5
        self._freeze()
        self.people = True
        if report:
            await self.raise_fault("trapped_at_landing" if at_landing
                                   else "trapped_between_floors")
        log.warning("car stuck with passengers %s (position %.2f)",
                    "at a landing" if at_landing else "between floors", self._pos)

    async def door_open_while_moving(self) -> None:
        self._advance()
        here = self._nearest()
        up = here < len(self.floors) - 1
        self._pos = here + (0.4 if up else -0.4)
        self._freeze()
        self._dir_override = "up" if up else "down"
        self._door_override = "open"
        await self.raise_fault("door_open_while_running")

    async def overrun(self, top: bool = True) -> None:
        self._advance()
        self._pos = len(self.floors) - 1 + 0.3 if top else -0.3
        self._freeze()
        await self.raise_fault("overrun_top" if top else "overrun_bottom")

    async def clear(self) -> None:
        """Faults cleared: re-level to the nearest landing, open the doors, people get out."""
        self._advance()
        self._faults = [k for k in self._faults if k == "fire_return" and self.recalled]
        self._stuck = False
        self._door_override = self._dir_override = None
        self._leave_on_open = True
        now = self._clock()
        here = self._nearest()
        self._from = self._pos
        if abs(self._pos - here) > 1e-9:
            self._target = here
            self._set("moving", now)
        else:
            self._target = None
            self._set("opening", now)
        log.info("faults cleared; re-levelling to floor %d", self.floors[here])

    # -- recall (driven by the box's control register) ----------------------------------------

    def recall(self, main_landing: int) -> bool:
        """Fire-service recall: to ``main_landing``, doors open and stay open. False: ignored."""
        self._advance()
        if self.inspection or self._stuck or main_landing not in self.floors:
            log.warning("recall ignored (inspection=%s stuck=%s)", self.inspection, self._stuck)
            return False
        self.recalled = True
        if "fire_return" not in self._faults:
            self._faults.append("fire_return")
        self._calls.clear()
        main = self.floors.index(main_landing)
        now = self._clock()
        self._target = main
        if self._phase == "moving":
            self._from = self._pos
            self._t = now
        elif self._phase in ("open", "opening"):
            if abs(self._pos - main) > 1e-9:
                self._set("closing", now)
            else:
                self._target = None
        elif self._phase == "idle":
            self._t = now
        log.warning("recall to floor %d", main_landing)
        return True

    def release_recall(self) -> None:
        self._advance()
        if self.recalled:
            self.recalled = False
            if "fire_return" in self._faults:
                self._faults.remove("fire_return")
            if self._phase == "open":
                self._t = self._clock()
            log.info("recall released")

    # -- physics ------------------------------------------------------------------------------

    def _nearest(self) -> int:
        return min(max(round(self._pos), 0), len(self.floors) - 1)

    def _set(self, phase: Phase, at: float) -> None:
        self._phase = phase
        self._t = at

    def _kick(self) -> None:
        """An idle car acts on a new call now, not when it became idle."""
        if self._phase == "idle" and not self._stuck:
            self._t = self._clock()

    def _freeze(self) -> None:
        self._stuck = True
        self._calls.clear()
        self._target = None
        self._phase = "idle"
        self._door_override = self._dir_override = None

    def _advance(self) -> None:
        now = self._clock()
        for _ in range(10_000):
            if self._stuck or not self._step(now):
                return

    def _step(self, now: float) -> bool:
        """Move one phase on if its time is up; False once the car is where it is now."""
        elapsed = now - self._t
        if self._phase == "idle":
            start = self._t
            if self._target is None and self._calls:
                self._target = self._calls.popleft()
            if self._target is None and self.traffic and not self.recalled \
                    and not self.inspection and elapsed >= self.idle_s:
                here = self._nearest()
                self._target = self._rng.choice([i for i in range(len(self.floors))
                                                 if i != here] or [here])
                start = self._t + self.idle_s
            if self._target is None:
                return False
            self._from = self._pos
            if abs(self._pos - self._target) < 1e-9:
                self._target = None  # already there: just open
                self._set("opening", start)
            else:
                self._set("moving", start)
            return True
        if self._phase == "moving":
            assert self._target is not None
            travel = abs(self._target - self._from) * self.floor_s
            if elapsed < travel:
                step = elapsed / self.floor_s
                self._pos = self._from + (step if self._target > self._from else -step)
                return False
            self._pos = float(self._target)
            self._target = None
            self.arrivals.append((self._t + travel, self.floors[int(self._pos)]))
            log.info("arrived at floor %d", self.floors[int(self._pos)])
            self._set("opening", self._t + travel)
            return True
        if self._phase == "opening":
            if elapsed < self.door_s:
                return False
            self._set("open", self._t + self.door_s)
            if self._leave_on_open:
                self.people = self._leave_on_open = False
            elif self.traffic:
                self.people = self._rng.random() < 0.5
            return True
        if self._phase == "open":
            if self.recalled and self._target is None:
                return False
            if elapsed < self.dwell_s and not (self.recalled and self._target is not None):
                return False
            self._set("closing", self._t + min(elapsed, self.dwell_s))
            return True
        if elapsed < self.door_s:  # closing
            return False
        self._set("idle", self._t + self.door_s)
        return True
