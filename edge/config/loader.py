"""Load a site file into a SiteConfig, or fail with every problem found.

The edge must never start half-configured: everything is checked (schema, cross-checks, the
profiles the devices use) before anything is built, and all problems are raised together.
"""

from __future__ import annotations

import os
from pathlib import Path

import configs
from drivers.elevator.model import ElevatorConfig, ElevatorProfile
from drivers.elevator.profile import check_profile as check_elevator_profile
from drivers.fire.model import FireConfig, UitdConfig, ZoneLocation
from drivers.modbus.model import Bus, MeterDevice, Profile, RtuBus, TcpBus
from edge.config.access_schema import build_access
from edge.config.crosscheck import cross_check, site_warnings
from edge.config.model import (
    CameraConfig,
    CloudLink,
    EdgeSettings,
    GateConfig,
    LaneConfig,
    LotConfig,
    OperatorSettings,
    ParkingConfig,
    SiteConfig,
    SiteInfo,
)
from edge.config.patrol_schema import build_patrol
from edge.config.profiles import Seen, check_profile, profile_ids
from edge.config.reader_schema import build_readers
from edge.config.schedule_schema import build_schedules
from edge.config.schema import INVALID, Ctx, RecordValue, suggest
from edge.config.site_schema import ANY_PEER, SITE
from edge.linkage.model import LinkageRule
from yamlcheck.positions import read_yaml
from yamlcheck.problems import ConfigError, Problem, bi

PROFILES_ENV = "COURTYARD_PROFILES_DIR"
ELEVATORS_DIR = "elevators"
"""Elevator profiles live beside the meter profiles: ``configs/elevators``."""
_REL = Path("configs") / "profiles"


def default_profiles_dir(site_path: Path | None = None) -> Path:
    """Where profiles live: $COURTYARD_PROFILES_DIR, else configs/profiles found by walking up
    from the site file, then from the current directory, else the shipped ones (package data)."""
    env = os.environ.get(PROFILES_ENV)
    if env:
        return Path(env)
    starts = [Path(site_path).resolve().parent] if site_path is not None else []
    for start in [*starts, Path.cwd()]:
        for folder in (start, *start.parents):
            if (folder / _REL).is_dir():
                return folder / _REL
    return configs.path("profiles")


def _bus(raw: RecordValue) -> Bus:
    fields = dict(raw)
    return TcpBus(**fields) if fields["type"] == "modbus_tcp" else RtuBus(**fields)


def _device(raw: RecordValue, profile: Profile) -> MeterDevice:
    fields = {k: v for k, v in raw.items() if k not in ("simulate", "profile", "deadband")}
    return MeterDevice(profile=profile, deadband=dict(raw.get("deadband", {})), **fields)


def _parking(path: Path, raw: RecordValue | None) -> ParkingConfig | None:
    if raw is None:
        return None
    dataset = raw.get("dataset")
    ds = Path(dataset).expanduser() if dataset else None
    if ds is not None and not ds.is_absolute():
        ds = (path.parent / ds).resolve()
    return ParkingConfig(
        http_port=raw["http_port"], http_host=raw.get("http_host", "0.0.0.0"), dataset=ds,
        decide_timeout=float(raw.get("decide_timeout", 1.0)),
        lots=tuple(LotConfig(**dict(x)) for x in raw.get("lots", [])),
        cameras=tuple(_camera(x) for x in raw.get("cameras", [])),
        gates=tuple(GateConfig(**dict(x)) for x in raw.get("gates", [])),
        lanes=tuple(LaneConfig(**dict(x)) for x in raw.get("lanes", [])))


def _camera(raw: RecordValue) -> CameraConfig:
    fields = dict(raw)
    fields["allow"] = tuple(fields.get("allow", ()))
    return CameraConfig(**fields)


def _fire(raw: RecordValue | None) -> FireConfig | None:
    if raw is None:
        return None
    uitds = []
    for u in raw.get("uitds", []):
        fields = dict(u)
        peers = fields.get("peers", ())
        fields["any_peer"] = peers == ANY_PEER
        fields["peers"] = () if peers == ANY_PEER else tuple(peers)
        fields["locations"] = tuple(ZoneLocation(**dict(x)) for x in fields.get("locations", ()))
        uitds.append(UitdConfig(**fields))
    return FireConfig(port=raw["port"], host=raw.get("host", "0.0.0.0"),
                      centre_address=raw.get("centre_address", 0), uitds=tuple(uitds))


def _elevators(raw: list[RecordValue], buses: dict[str, Bus]) -> tuple[ElevatorConfig, ...]:
    out = []
    for e in raw:
        fields = dict(e)
        fields["bus"] = buses[fields["bus"]]
        out.append(ElevatorConfig(**fields))
    return tuple(out)


def _linkage(raw: RecordValue | None) -> tuple[LinkageRule, ...] | None:
    if raw is None or "rules" not in raw:
        return None
    rules = []
    for r in raw["rules"]:
        fields = dict(r)
        gates = tuple(fields.pop("gates", ()))
        raise_gates = fields.pop("raise_gates", True)
        for key in ("on", "buildings"):
            if key in fields:
                fields[key] = tuple(fields[key])
        rules.append(LinkageRule(raise_gates=(gates or "all") if raise_gates else (), **fields))
    return tuple(rules)


def _elevator_profiles(raw: RecordValue, pdir: Path, ctx: Ctx) -> dict[str, ElevatorProfile]:
    """Check the elevator profiles the site uses (``configs/elevators/<id>.yaml``)."""
    edir = pdir.parent / ELEVATORS_DIR
    out: dict[str, ElevatorProfile] = {}
    for elev in raw.get("elevators", []):
        if not isinstance(elev, RecordValue) or "profile" not in elev:
            continue
        pid = elev["profile"]
        if pid in out:
            continue
        file = edir / f"{pid}.yaml"
        if not file.is_file():
            known = sorted(f.stem for f in edir.glob("*.yaml")) if edir.is_dir() else []
            close = suggest(pid, known)
            ctx.add(elev.pos("profile"), bi(f"电梯型号 {pid} 不存在（{edir}）",
                                            f"no elevator profile {pid} in {edir}"),
                    bi(f'是否应为 "{close}"?' if close else f"可选：{', '.join(known) or '无'}",
                       f'did you mean "{close}"?' if close
                       else f"known: {', '.join(known) or 'none'}"))
            continue
        profile = check_elevator_profile(file, ctx.problems)
        if profile is not None:
            out[pid] = profile
    return out


def _build(path: Path, raw: RecordValue, profiles: dict[str, Profile | None],
           elevator_profiles: dict[str, ElevatorProfile],
           warnings: list[Problem]) -> SiteConfig:
    edge = dict(raw["edge"])
    data_dir = Path(edge.pop("data_dir")).expanduser()
    edge["data_dir"] = data_dir if data_dir.is_absolute() else Path.cwd() / data_dir
    devices = []
    for d in raw.get("devices", []):
        profile = profiles[d["profile"]]
        assert profile is not None  # a broken profile is a problem, so we never get here
        devices.append(_device(d, profile))
    cloud = dict(raw["cloud"])
    cloud["http_url"] = str(cloud.get("http_url") or "").rstrip("/") or None
    ca = Path(str(cloud.get("ca_file") or "")).expanduser() if cloud.get("ca_file") else None
    cloud["ca_file"] = ca if ca is None or ca.is_absolute() else (path.parent / ca).resolve()
    buses = tuple(_bus(b) for b in raw.get("buses", []))
    site = SiteInfo(**raw["site"])
    return SiteConfig(path=path, site=site, cloud=CloudLink(**cloud),
                      edge=EdgeSettings(**edge), buses=buses,
                      devices=tuple(devices), parking=_parking(path, raw.get("parking")),
                      fire=_fire(raw.get("fire")),
                      elevators=_elevators(raw.get("elevators", []), {b.id: b for b in buses}),
                      linkage_rules=_linkage(raw.get("linkage")),
                      access=build_access(raw.get("access")),
                      readers=build_readers(raw.get("access"), edge["data_dir"]),
                      door_schedules=build_schedules(raw.get("access"), site.timezone),
                      patrol=build_patrol(raw.get("patrol")),
                      elevator_profiles=elevator_profiles,
                      operator=OperatorSettings(**dict(raw.get("operator") or {})),
                      warnings=tuple(warnings))


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
    seen: Seen = {}
    for pid in sorted({d["profile"] for d in devices if d.get("profile") in known}):
        profiles[pid] = check_profile(pdir / f"{pid}.yaml", ctx, seen)
    cross_check(raw, profiles, known, ctx)
    elevator_profiles = _elevator_profiles(raw, pdir, ctx)
    if ctx.problems:
        site_file = str(path)
        ctx.problems.sort(key=lambda p: (p.file != site_file, p.file, p.line, p.col))
        raise ConfigError(ctx.problems)
    return _build(path, raw, profiles, elevator_profiles, site_warnings(raw))
