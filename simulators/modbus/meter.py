"""One simulated meter: plausible values by canonical register name, on a simulated clock.

Values follow a household's day in the site's time zone; energy and water totals integrate the
expected power / flow and never go backwards, so billing code sees what a real meter would
report. Everything is a function of the seed and the simulated time, not of how often the meter
is polled, and a ``speedup`` lets a demo show a day's growth in minutes.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from contract.registers import canonical_unit
from simulators.modbus.encode import encode_value
from simulators.modbus.loadcurve import electric_load_w, noise, water_flow_m3h
from simulators.modbus.profile import (
    ILLEGAL_ADDRESS,
    ILLEGAL_VALUE,
    RegisterMap,
    SimProfile,
    load_profile,
)
from simulators.modbus.serving import WIRE_FAULTS, WireFault

FAULTS = WIRE_FAULTS
VALID_EXCEPTION_CODES = (1, 2, 3, 4, 5, 6, 8, 10, 11)
COUNTERS = ("energy_import_kwh", "energy_export_kwh", "energy_total_kwh",
            "water_forward_m3", "water_reverse_m3")
VALVE_OPEN, VALVE_CLOSED = 1, 2
_NOISE_BUCKET_S = 10
_STEP_S = 60.0
# How to express a canonical value (contract/registers.py) in another unit a profile names;
# the shipped profiles name the canonical units and scale on the wire instead (DDSU666's kW).
_CONVERT = {("W", "kW"): 0.001, ("kWh", "Wh"): 1000.0, ("kWh", "MWh"): 0.001,
            ("m3", "L"): 1000.0, ("m3/h", "L/h"): 1000.0}


def _canonical_unit(name: str) -> str:
    return canonical_unit(name) or ""


class SimClock:
    """Simulated epoch seconds: starts at the real clock's time, runs ``speedup`` times faster."""

    def __init__(self, clock: Callable[[], float] = time.time, speedup: float = 1.0) -> None:
        if speedup <= 0:
            raise ValueError("speedup must be > 0")
        self._clock = clock
        self._speedup = speedup
        self._origin = clock()

    def now(self) -> float:
        return self._origin + (self._clock() - self._origin) * self._speedup


class SimMeter:
    """A meter at one unit id, described by a profile, with a fault mode the bus honours."""

    def __init__(self, address: int, profile: Path | dict[str, Any], *, fault: str = "none",
                 slow_ms: int = 0, exception_code: int = 4, seed: int | None = None,
                 clock: Callable[[], float] = time.time, speedup: float = 1.0,
                 timezone: str = "Asia/Shanghai") -> None:
        if not 0 <= address <= 247:
            raise ValueError(f"unit id {address} outside 0–247")
        self.address = address
        self.profile: SimProfile = load_profile(profile)
        self._map = RegisterMap(self.profile)
        #: How the meter answers on the bus (``set_fault``).
        self.wire = WireFault(address, FAULTS)
        self.set_fault(fault, slow_ms=slow_ms, exception_code=exception_code)
        self.seed = address if seed is None else seed
        self._clock = SimClock(clock, speedup)
        self._tz = ZoneInfo(timezone)
        rng = random.Random(f"meter:{self.seed}")
        names = self.profile.names()
        three_phase = "voltage_l1" in names or "current_l1" in names
        # A shared-area or three-phase meter carries several flats' worth of load.
        self._load_factor = rng.uniform(0.6, 1.5) * (4.0 if three_phase else 1.0)
        self._water_factor = rng.uniform(0.6, 1.5)
        self._imbalance = [rng.uniform(-0.15, 0.15) for _ in range(3)]
        mean = sum(self._imbalance) / 3
        self._imbalance = [x - mean for x in self._imbalance]
        self._v_phase = rng.uniform(0, 2 * math.pi)
        self._t = self._clock.now()
        self._totals: dict[str, float] = {
            "energy_import_kwh": round(rng.uniform(500.0, 5000.0), 2),
            "energy_export_kwh": round(rng.uniform(0.0, 5.0), 2),
            "water_forward_m3": round(rng.uniform(50.0, 800.0), 3),
            "water_reverse_m3": round(rng.uniform(0.0, 0.5), 3),
        }
        self._valve = VALVE_OPEN
        self._pinned: dict[str, float] = {}

    # -- fault mode ---------------------------------------------------------------------------
    def set_fault(self, fault: str, *, slow_ms: int | None = None,
                  exception_code: int | None = None, requests: int | None = None) -> None:
        """Change how this meter misbehaves on the bus (takes effect on the next request),
        for the next ``requests`` requests or until changed."""
        if exception_code is not None and exception_code not in VALID_EXCEPTION_CODES:
            raise ValueError(f"exception_code must be one of {VALID_EXCEPTION_CODES}")
        self.wire.set(fault, requests=requests, exception_code=exception_code, slow_ms=slow_ms)

    @property
    def fault(self) -> str:
        return self.wire.mode

    @property
    def slow_ms(self) -> int:
        return self.wire.slow_ms

    @property
    def exception_code(self) -> int:
        return self.wire.exception_code

    # -- simulated physics ----------------------------------------------------------------------
    def _hour(self, t: float) -> float:
        d = datetime.fromtimestamp(t, self._tz)
        return d.hour + d.minute / 60.0 + d.second / 3600.0

    def _advance(self) -> float:
        """Integrate the totals up to now; the simulated clock never moves them backwards."""
        now = self._clock.now()
        t = self._t
        while t < now:
            step = min(_STEP_S, now - t)
            hour = self._hour(t + step / 2)
            self._totals["energy_import_kwh"] += (
                electric_load_w(hour) * self._load_factor * step / 3.6e6)
            if self._valve == VALVE_OPEN:
                self._totals["water_forward_m3"] += (
                    water_flow_m3h(hour) * self._water_factor * step / 3600.0)
            t += step
        self._t = max(self._t, now)
        return now

    def _canonical(self) -> dict[str, float]:
        """Every canonical value at the current simulated time, in canonical units."""
        now = self._advance()
        hour = self._hour(now)
        bucket = int(now // _NOISE_BUCKET_S)
        s = self.seed
        expected_w = electric_load_w(hour) * self._load_factor
        power = max(0.0, expected_w * (1.0 + noise(s, "p", bucket, 0.15)))
        pf = min(1.0, max(0.8, 0.93 + noise(s, "pf", bucket, 0.04)))
        # The line sags a little under the evening load; a slow daily swing plus noise.
        sag = 3.0 * min(1.0, expected_w / (2500.0 * self._load_factor))
        base_v = 229.0 + 2.5 * math.sin(2 * math.pi * hour / 24 + self._v_phase) - sag
        vals: dict[str, float] = {}
        for i, suffix in enumerate(("", "_l1", "_l2", "_l3")):
            v = base_v + noise(s, f"v{suffix}", bucket, 1.2)
            vals[f"voltage{suffix}"] = min(235.0, max(220.0, v))
            share = 1.0 if not suffix else (1.0 / 3.0) * (1.0 + self._imbalance[i - 1])
            vals[f"current{suffix}"] = power * share / (vals[f"voltage{suffix}"] * pf)
        vals["power_w"] = power
        vals["power_factor"] = pf
        vals["frequency_hz"] = 50.0 + noise(s, "f", bucket, 0.04)
        vals.update(self._totals)
        vals["energy_total_kwh"] = self._totals["energy_import_kwh"] + self._totals[
            "energy_export_kwh"]
        open_ = self._valve == VALVE_OPEN
        flow = water_flow_m3h(hour) * self._water_factor * (1.0 + noise(s, "q", bucket, 0.3))
        vals["flow_m3h"] = max(0.0, flow) if open_ else 0.0
        vals["valve_state"] = float(self._valve)
        return vals

    def _factor(self, name: str) -> float:
        """Multiply a canonical value by this to express it in the profile's unit (W → kW …)."""
        try:
            unit = self.profile.register(name).unit
        except KeyError:
            return 1.0
        return _CONVERT.get((_canonical_unit(name), unit), 1.0)

    # -- public values ----------------------------------------------------------------------------
    def values(self) -> dict[str, float]:
        """Current values of this profile's registers, in the units the profile names."""
        canon = self._canonical()
        out: dict[str, float] = {}
        for reg in self.profile.registers:
            v = self._pinned.get(reg.name)
            out[reg.name] = v if v is not None else canon.get(reg.name, 0.0) * self._factor(
                reg.name)
        return out

    def value(self, name: str) -> float:
        if name not in self.profile.names():
            raise KeyError(f"profile {self.profile.id} has no register {name!r}")
        return self.values()[name]

    def set_value(self, name: str, v: float | None) -> None:
        """Fix a value (in the profile's unit); ``None`` lets it follow the simulation again.

        Totals are set and keep growing from there; the valve state changes the flow;
        any other value stays pinned until released.
        """
        if name not in self.profile.names():
            raise KeyError(f"profile {self.profile.id} has no register {name!r}")
        if name == "valve_state":
            if v not in (VALVE_OPEN, VALVE_CLOSED):
                raise ValueError("valve_state is 1 (open) or 2 (closed)")
            self._advance()
            self._valve = int(v)
            return
        if name in COUNTERS and v is not None:
            self._advance()
            canon = v / self._factor(name)
            if name == "energy_total_kwh":
                self._totals["energy_import_kwh"] = canon - self._totals["energy_export_kwh"]
            else:
                self._totals[name] = canon
            return
        if v is None:
            self._pinned.pop(name, None)
        else:
            self._pinned[name] = float(v)

    # -- the wire view --------------------------------------------------------------------------
    def read_registers(self, function_code: int, address: int, count: int) -> list[int] | int:
        """The words a read returns, or a Modbus exception code."""
        plan = self._map.plan(function_code, address, count)
        if isinstance(plan, int):
            return plan
        vals = self.values()
        encoded: dict[str, list[int]] = {}
        words: list[int] = []
        for slot in plan:
            if slot is None:
                words.append(0)
                continue
            reg, index = slot
            if reg.name not in encoded:
                encoded[reg.name] = encode_value(vals[reg.name], reg.data_type, reg.order,
                                                 reg.scale)
            words.append(encoded[reg.name][index])
        return words

    def write_registers(self, address: int, words: list[int]) -> int | None:
        """Writes a meter accepts (only the water valve); else an exception code."""
        for i, word in enumerate(words):
            slot = self._map.plan(3, address + i, 1)
            if isinstance(slot, int) or slot[0] is None or slot[0][0].name != "valve_state":
                return ILLEGAL_ADDRESS
            if word not in (VALVE_OPEN, VALVE_CLOSED):
                return ILLEGAL_VALUE
        for word in words:
            self.set_value("valve_state", word)
        return None
