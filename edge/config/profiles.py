"""Device profile files (configs/profiles/<id>.yaml) → drivers.modbus.model.Profile.

A wrong register address silently bills the wrong number, so profiles get the same
positioned checks as site files, plus the ones that only make sense for a register map:
unique names, addresses that fit, and no two values sharing a register.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drivers.modbus.model import Profile, RegisterSpec
from edge.config.schema import (
    INVALID,
    Bool,
    Ctx,
    Field,
    Float,
    Int,
    ListOf,
    OneOf,
    Record,
    RecordValue,
    Str,
)
from yamlcheck.positions import read_yaml
from yamlcheck.problems import ConfigError, Problem, bi

PROFILE_ID = r"[a-z0-9][a-z0-9_-]{0,62}"
_FC = OneOf(choices=(3, 4))
_TYPE = OneOf(choices=("float32", "int16", "uint16", "int32", "uint32"))
_ORDER = OneOf(choices=("ABCD", "CDAB", "BADC", "DCBA"))
_DEFAULTS: dict[str, Any] = {"function_code": 4, "data_type": "float32", "order": "ABCD"}

REGISTER = Record(fields={
    "name": Field(Str(zh="寄存器名（字母、数字、下划线）", en="a register name (a-z, 0-9, _)",
                      pattern=r"[a-z][a-z0-9_]{0,62}"), example="name: voltage"),
    "address": Field(Int(lo=0, hi=65535), example="address: 0x0000"),
    "function_code": Field(_FC, required=False),
    "data_type": Field(_TYPE, required=False),
    "order": Field(_ORDER, required=False),
    "scale": Field(Float(extra=lambda v: None if v != 0 else (
        "不能为 0", "must not be 0", "写实际倍率，如 0.1", "write the real factor, e.g. 0.1")),
        required=False),
    "unit": Field(Str(empty_ok=True), required=False),
    "billing": Field(Bool(), required=False),
})

PROFILE = Record(fields={
    "id": Field(Str(zh="标识（小写字母、数字、_ -）", en="an id (a-z, 0-9, _ -)",
                    pattern=PROFILE_ID), example="id: eastron_sdm120"),
    "name": Field(Str(), example="name: 型号名称"),
    "kind": Field(OneOf(choices=("energy_meter", "water_meter")), example="kind: energy_meter"),
    "function_code": Field(_FC, required=False),
    "data_type": Field(_TYPE, required=False),
    "order": Field(_ORDER, required=False),
    "max_gap": Field(Int(lo=0, hi=100), required=False),
    "registers": Field(ListOf(item=REGISTER), example="registers: [{name: voltage, address: 0}]"),
})


def _registers(raw: RecordValue, ctx: Ctx) -> list[RegisterSpec]:
    defaults = {k: raw.get(k, v) for k, v in _DEFAULTS.items()}
    regs: list[tuple[RecordValue, RegisterSpec]] = []
    names: dict[str, RecordValue] = {}
    for item in raw.get("registers", []):
        if item is INVALID or "name" not in item or "address" not in item:
            continue
        if item["name"] in names:
            first = names[item["name"]].pos("name")
            ctx.add(item.pos("name"), bi(f'寄存器名 "{item["name"]}" 重复（第 {first.line} 行）',
                                         f'register "{item["name"]}" repeats line {first.line}'),
                    bi("每个寄存器名只能出现一次", "give each register a unique name"))
            continue
        names[item["name"]] = item
        spec = RegisterSpec(**{**defaults, **item})
        if spec.address + spec.width - 1 > 65535:
            ctx.add(item.pos("address"),
                    bi(f"地址 {spec.address:#06x} 加宽度 {spec.width} 超出 0xFFFF",
                       f"address {spec.address:#06x} plus width {spec.width} runs past 0xFFFF"),
                    bi("检查地址", "check the address"))
            continue
        for other_item, other in regs:
            if other.function_code == spec.function_code and (
                    spec.address < other.address + other.width
                    and other.address < spec.address + spec.width):
                where = other_item.pos("address")
                ctx.add(item.pos("address"),
                        bi(f'"{spec.name}"（{spec.address:#06x}）与第 {where.line} 行的 '
                           f'"{other.name}"（{other.address:#06x}）占用相同寄存器',
                           f'"{spec.name}" ({spec.address:#06x}) overlaps "{other.name}" '
                           f"({other.address:#06x}, line {where.line})"),
                        bi("32 位值占两个寄存器：地址至少相差 2",
                           "32-bit values take two registers: keep addresses 2 apart"))
                break
        else:
            regs.append((item, spec))
    if raw.get("registers") == []:
        ctx.add(raw.pos("registers"), bi("没有寄存器", "no registers"),
                bi("至少列出一个寄存器", "list at least one register"))
    return [spec for _, spec in regs]


def check_profile(path: Path, ctx: Ctx) -> Profile | None:
    """Check one profile file into ctx; return the Profile only if this file had no problem."""
    before = len(ctx.problems)
    try:
        tree = read_yaml(path)
    except ConfigError as exc:
        ctx.problems.extend(exc.problems)
        return None
    raw = PROFILE.check(tree, ctx, "profile")
    if raw is INVALID:
        return None
    regs = _registers(raw, ctx)
    if "id" in raw and raw["id"] != path.stem:
        ctx.add(raw.pos("id"), bi(f'id "{raw["id"]}" 与文件名 {path.name} 不一致',
                                  f'id "{raw["id"]}" differs from the file name {path.name}'),
                bi(f"改为 id: {path.stem}，或重命名文件",
                   f"write id: {path.stem}, or rename the file"))
    if len(ctx.problems) > before:
        ctx.problems[before:] = sorted(ctx.problems[before:], key=lambda p: (p.line, p.col))
        return None
    return Profile(id=raw["id"], name=raw["name"], kind=raw["kind"], registers=tuple(regs),
                   max_gap=raw.get("max_gap", 10))


def load_profile(path: Path) -> Profile:
    """Load and check one profile file; raise ConfigError listing every problem."""
    ctx = Ctx()
    profile = check_profile(Path(path), ctx)
    if profile is None:
        raise ConfigError(ctx.problems)
    return profile


def profile_ids(directory: Path) -> list[str]:
    return sorted(p.stem for p in Path(directory).glob("*.yaml"))


def load_profiles(directory: Path) -> dict[str, Profile]:
    """Load every *.yaml in a directory, keyed by id; raise ConfigError with all problems."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError([Problem(str(directory), 0, 0,
                                   bi("设备型号目录不存在", "profiles directory not found"),
                                   bi("检查路径，或设置 COURTYARD_PROFILES_DIR",
                                      "check the path, or set COURTYARD_PROFILES_DIR"))])
    ctx = Ctx()
    out: dict[str, Profile] = {}
    for path in sorted(directory.glob("*.yaml")):
        profile = check_profile(path, ctx)
        if profile is not None:
            out[profile.id] = profile
    if ctx.problems:
        raise ConfigError(ctx.problems)
    return out
