"""What a meter register's name means: its unit, and which names a bill may read.

A reading crosses the wire as ``{name: value}`` with the profile's unit beside it, and the
console bills ``energy_import_kwh`` or ``water_forward_m3`` by name. So a name must mean one
thing in every profile: ``power_w`` is watts whether the meter reports W or kW (a kW meter's
profile scales by 1000). The edge refuses a profile that disagrees (edge/config/profiles.py),
the simulators serve values in these units, and the console checks a billing meter's register
against ``BILLING_REGISTERS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

#: Unit of each known register name (after the profile's scale). Units are spelt in ASCII as
#: the profiles write them: m3 for m³.
CANONICAL_UNITS: Mapping[str, str] = MappingProxyType({
    "voltage": "V", "voltage_l1": "V", "voltage_l2": "V", "voltage_l3": "V",
    "current": "A", "current_l1": "A", "current_l2": "A", "current_l3": "A",
    "power_w": "W", "power_factor": "", "frequency_hz": "Hz",
    "energy_import_kwh": "kWh", "energy_export_kwh": "kWh", "energy_total_kwh": "kWh",
    "water_forward_m3": "m3", "water_reverse_m3": "m3", "flow_m3h": "m3/h",
    "valve_state": "", "gas_m3": "m3",
})

#: A name not in the table but ending so names its unit too (``voltage_ab_v`` → V).
SUFFIX_UNITS: tuple[tuple[str, str], ...] = (
    ("_kwh", "kWh"), ("_m3h", "m3/h"), ("_m3", "m3"), ("_hz", "Hz"), ("_w", "W"),
    ("_v", "V"), ("_a", "A"))

#: Other spellings of the same unit.
UNIT_ALIASES: Mapping[str, str] = MappingProxyType({"m³": "m3", "m³/h": "m3/h"})

#: ``scale`` that turns a value the meter reports in the first unit into the second.
CONVERSIONS: Mapping[tuple[str, str], float] = MappingProxyType({
    ("kW", "W"): 1000.0, ("MW", "W"): 1_000_000.0, ("Wh", "kWh"): 0.001,
    ("MWh", "kWh"): 1000.0, ("L", "m3"): 0.001, ("L/h", "m3/h"): 0.001, ("kV", "V"): 1000.0,
    ("mA", "A"): 0.001,
})

#: The cumulative counters a bill of each utility may read: a profile's ``billing: true``
#: registers are among these, so a billing meter naming another register never gets a reading.
BILLING_REGISTERS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "electricity": ("energy_import_kwh", "energy_export_kwh", "energy_total_kwh"),
    "water": ("water_forward_m3", "water_reverse_m3"),
    "gas": ("gas_m3",),
})

#: The register a new billing meter of each utility reads unless told otherwise.
DEFAULT_BILLING_REGISTER: Mapping[str, str] = MappingProxyType(
    {utility: names[0] for utility, names in BILLING_REGISTERS.items()})


def normal_unit(unit: str) -> str:
    """``unit`` spelt the canonical way (m³ → m3)."""
    return UNIT_ALIASES.get(unit, unit)


def canonical_unit(name: str) -> str | None:
    """The unit ``name`` must carry, or None when its name says nothing about a unit."""
    if name in CANONICAL_UNITS:
        return CANONICAL_UNITS[name]
    for suffix, unit in SUFFIX_UNITS:
        if name.endswith(suffix):
            return unit
    return None


def billing_utility(name: str) -> str | None:
    """The utility whose bills may read register ``name`` (None: no bill reads it)."""
    for utility, names in BILLING_REGISTERS.items():
        if name in names:
            return utility
    return None
