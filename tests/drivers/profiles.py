"""Read configs/profiles/*.yaml into driver dataclasses with plain pyyaml (tests only).

The edge's own loader validates installer input; the driver tests only need the same data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from drivers.modbus.model import Profile, RegisterSpec

PROFILES_DIR = Path(__file__).resolve().parents[2] / "configs" / "profiles"
PROFILE_IDS = ("eastron_sdm120", "eastron_sdm630", "chint_dtsu666", "chint_ddsu666",
               "xintai_water")


def profile_path(profile_id: str) -> Path:
    return PROFILES_DIR / f"{profile_id}.yaml"


def load_profile(profile_id: str) -> Profile:
    raw: dict[str, Any] = yaml.safe_load(profile_path(profile_id).read_text(encoding="utf-8"))
    defaults = {k: raw[k] for k in ("function_code", "data_type", "order") if k in raw}
    # wire_unit documents the meter's own unit (the edge checks it against scale): not a spec field
    regs = tuple(RegisterSpec(**{**defaults, **{k: v for k, v in r.items() if k != "wire_unit"}})
                 for r in raw["registers"])
    return Profile(id=raw["id"], name=raw["name"], kind=raw["kind"], registers=regs,
                   max_gap=raw.get("max_gap", 10))
