"""Device profile files (configs/profiles/<id>.yaml) → drivers.modbus.model.Profile.

A wrong register address silently bills the wrong number, so profiles get the same
positioned checks as site files, plus the ones that only make sense for a register map:
unique names, addresses that fit, and no two values sharing a register. A name means one
thing everywhere (contract/registers.py): a known name carries its unit (``power_w`` is W,
also on a meter that reports kW: ``wire_unit: kW, scale: 1000``), a name the table does not
know carries the same unit in every profile, and only a known counter may be ``billing``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contract.registers import (
    BILLING_REGISTERS,
    CONVERSIONS,
    billing_utility,
    canonical_unit,
    normal_unit,
)
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
from yamlcheck.problems import ConfigError, Pos, Problem, bi

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
    "wire_unit": Field(Str(), required=False, example="wire_unit: kW"),
    "billing": Field(Bool(), required=False),
})

#: Name → (unit, where first seen) across the profiles checked together.
Seen = dict[str, tuple[str, Pos]]

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


def _unit(item: RecordValue, ctx: Ctx, seen: Seen) -> str | None:
    """The register's unit as the reading will carry it; None (and a problem) when the name
    and the unit disagree, in this profile or with one checked before."""
    name = item["name"]
    want = canonical_unit(name)
    unit = normal_unit(item["unit"]) if "unit" in item else want
    if want is not None and unit != want:
        scale = float(item.get("scale", 1.0))
        factor = CONVERSIONS.get((str(unit), want))
        hint = (bi(f"{name} 的单位是 {want}：写 unit: {want}, wire_unit: {unit}, "
                   f"scale: {scale * factor:g}",
                   f"{name} is in {want}: write unit: {want}, wire_unit: {unit}, "
                   f"scale: {scale * factor:g}") if factor is not None else
                bi(f"写 unit: {want}，或改用不带单位含义的寄存器名",
                   f"write unit: {want}, or use a name that does not imply a unit"))
        ctx.add(item.pos("unit"), bi(f'寄存器 "{name}" 的单位须为 "{want}"，此处为 "{unit}"',
                                     f'register "{name}" must be in "{want}", not "{unit}"'),
                hint)
        return None
    unit = unit or ""
    if want is None and name in seen and seen[name][0] != unit:
        first_unit, first = seen[name]
        ctx.add(item.pos("unit") if "unit" in item else item.pos("name"),
                bi(f'寄存器 "{name}" 的单位 "{unit}" 与 {first.file}:{first.line} 的 '
                   f'"{first_unit}" 不一致', f'register "{name}" is in "{unit}" here but in '
                   f'"{first_unit}" at {first.file}:{first.line}'),
                bi("同名寄存器在所有型号中单位须一致", "a name has one unit in every profile"))
        return None
    seen.setdefault(name, (unit, item.pos("name")))
    if "wire_unit" in item:
        wire = normal_unit(item["wire_unit"])
        factor = 1.0 if wire == unit else CONVERSIONS.get((wire, unit))
        scale = float(item.get("scale", 1.0))
        if factor is None:
            ctx.add(item.pos("wire_unit"), bi(f'无法从 "{wire}" 换算为 "{unit}"',
                                              f'"{wire}" does not convert to "{unit}"'),
                    bi("检查 wire_unit 与 unit", "check wire_unit and unit"))
            return None
        if abs(scale - factor) > 1e-9 * max(abs(factor), 1.0):
            ctx.add(item.pos("scale") if "scale" in item else item.pos("wire_unit"),
                    bi(f"scale {scale:g} 把 {wire} 变成的不是 {unit}",
                       f"scale {scale:g} does not turn {wire} into {unit}"),
                    bi(f"写 scale: {factor:g}", f"write scale: {factor:g}"))
            return None
    return unit


def _billing(item: RecordValue, ctx: Ctx) -> bool:
    if item.get("billing") and billing_utility(item["name"]) is None:
        known = ", ".join(n for names in BILLING_REGISTERS.values() for n in names)
        ctx.add(item.pos("billing"),
                bi(f'"{item["name"]}" 不是计费累计量，账单读不到它',
                   f'"{item["name"]}" is not a billing counter: no bill reads it'),
                bi(f"计费寄存器名：{known}", f"billing registers are named {known}"))
        return False
    return True


def _registers(raw: RecordValue, ctx: Ctx, seen: Seen) -> list[RegisterSpec]:
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
        unit = _unit(item, ctx, seen)
        if unit is None or not _billing(item, ctx):
            continue
        fields = {k: v for k, v in item.items() if k != "wire_unit"}
        spec = RegisterSpec(**{**defaults, **fields, "unit": unit})
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


def check_profile(path: Path, ctx: Ctx, seen: Seen | None = None) -> Profile | None:
    """Check one profile file into ctx; return the Profile only if this file had no problem.

    ``seen`` carries the units of the names met in the profiles checked before this one."""
    before = len(ctx.problems)
    try:
        tree = read_yaml(path)
    except ConfigError as exc:
        ctx.problems.extend(exc.problems)
        return None
    raw = PROFILE.check(tree, ctx, "profile")
    if raw is INVALID:
        return None
    regs = _registers(raw, ctx, {} if seen is None else seen)
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
    seen: Seen = {}
    for path in sorted(directory.glob("*.yaml")):
        profile = check_profile(path, ctx, seen)
        if profile is not None:
            out[profile.id] = profile
    if ctx.problems:
        raise ConfigError(ctx.problems)
    return out
