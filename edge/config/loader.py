"""Load a site file into a SiteConfig, or fail with every problem found.

The edge must never start half-configured: everything is checked (schema, cross-checks, the
profiles the devices use) before anything is built, and all problems are raised together.
"""

from __future__ import annotations

import os
from pathlib import Path

from drivers.modbus.model import Bus, MeterDevice, Profile, RtuBus, TcpBus
from edge.config.crosscheck import cross_check
from edge.config.model import CloudLink, EdgeSettings, SiteConfig, SiteInfo
from edge.config.problems import ConfigError, Problem, bi
from edge.config.profiles import check_profile, profile_ids
from edge.config.schema import INVALID, Ctx, RecordValue
from edge.config.site_schema import SITE
from edge.config.yamlpos import read_yaml

PROFILES_ENV = "COURTYARD_PROFILES_DIR"
_REL = Path("configs") / "profiles"


def default_profiles_dir(site_path: Path | None = None) -> Path:
    """Where profiles live: $COURTYARD_PROFILES_DIR, else configs/profiles found by walking up
    from the site file, then from the current directory, else the one beside this package."""
    env = os.environ.get(PROFILES_ENV)
    if env:
        return Path(env)
    starts = [Path(site_path).resolve().parent] if site_path is not None else []
    for start in [*starts, Path.cwd()]:
        for folder in (start, *start.parents):
            if (folder / _REL).is_dir():
                return folder / _REL
    return Path(__file__).resolve().parents[2] / _REL


def _bus(raw: RecordValue) -> Bus:
    fields = dict(raw)
    return TcpBus(**fields) if fields["type"] == "modbus_tcp" else RtuBus(**fields)


def _device(raw: RecordValue, profile: Profile) -> MeterDevice:
    fields = {k: v for k, v in raw.items() if k not in ("simulate", "profile", "deadband")}
    return MeterDevice(profile=profile, deadband=dict(raw.get("deadband", {})), **fields)


def _build(path: Path, raw: RecordValue, profiles: dict[str, Profile | None]) -> SiteConfig:
    edge = dict(raw["edge"])
    data_dir = Path(edge.pop("data_dir")).expanduser()
    edge["data_dir"] = data_dir if data_dir.is_absolute() else Path.cwd() / data_dir
    devices = []
    for d in raw.get("devices", []):
        profile = profiles[d["profile"]]
        assert profile is not None  # a broken profile is a problem, so we never get here
        devices.append(_device(d, profile))
    return SiteConfig(path=path, site=SiteInfo(**raw["site"]), cloud=CloudLink(**raw["cloud"]),
                      edge=EdgeSettings(**edge),
                      buses=tuple(_bus(b) for b in raw.get("buses", [])),
                      devices=tuple(devices))


def load_site(path: Path, profiles_dir: Path | None = None) -> SiteConfig:
    """Read, check and build a site; raise ConfigError listing every problem."""
    path = Path(path)
    tree = read_yaml(path)
    ctx = Ctx()
    raw = SITE.check(tree, ctx, path.name)
    if raw is INVALID:
        raise ConfigError(ctx.problems)
    pdir = Path(profiles_dir) if profiles_dir is not None else default_profiles_dir(path)
    devices = [d for d in raw.get("devices", []) if isinstance(d, RecordValue)]
    known: list[str] = []
    if pdir.is_dir():
        known = profile_ids(pdir)
    elif devices:
        ctx.problems.append(Problem(str(pdir), 0, 0,
                                    bi("设备型号目录不存在", "profiles directory not found"),
                                    bi(f"检查路径，或设置 {PROFILES_ENV}",
                                       f"check the path, or set {PROFILES_ENV}")))
    profiles: dict[str, Profile | None] = {}
    for pid in sorted({d["profile"] for d in devices if d.get("profile") in known}):
        profiles[pid] = check_profile(pdir / f"{pid}.yaml", ctx)
    cross_check(raw, profiles, known, ctx)
    if ctx.problems:
        site_file = str(path)
        ctx.problems.sort(key=lambda p: (p.file != site_file, p.file, p.line, p.col))
        raise ConfigError(ctx.problems)
    return _build(path, raw, profiles)
