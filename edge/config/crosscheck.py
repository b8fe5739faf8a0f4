"""Checks that span several entries of a site file: ids, addresses, buses and profiles.

Each rule here is a mistake that type checks cannot see but that breaks a site in the field:
two meters answering the same unit id, a device on a bus that does not exist, two buses
fighting over one serial port, a deadband that would hide billing data.
"""

from __future__ import annotations

from typing import Any

from drivers.modbus.model import Profile
from edge.config.problems import Pos, bi
from edge.config.schema import INVALID, Ctx, RecordValue, suggest


def _items(raw: RecordValue, key: str) -> list[RecordValue]:
    return [item for item in raw.get(key, []) if isinstance(item, RecordValue)]


def _unique(ctx: Ctx, items: list[RecordValue], key: str, what: tuple[str, str],
            group: Any = None) -> None:
    """Report every repeat of item[key] (within item[group] when given) at the repeat."""
    seen: dict[Any, Pos] = {}
    for item in items:
        if key not in item or (group is not None and group not in item):
            continue
        value = item[key]
        scope = (item[group], value) if group else value
        if scope in seen:
            first = seen[scope]
            in_bus = (f"（总线 {item[group]}）", f" on bus {item[group]}") if group else ("", "")
            ctx.add(item.pos(key),
                    bi(f"{what[0]} {value} 重复{in_bus[0]}，第 {first.line} 行已使用",
                       f"{what[1]} {value} repeats{in_bus[1]}: already used at line {first.line}"),
                    bi("改为一个未使用的值", "change it to a value not used yet"))
        else:
            seen[scope] = item.pos(key)


def _bus_ports(ctx: Ctx, buses: list[RecordValue]) -> None:
    seen: dict[str, tuple[str, Pos]] = {}
    for bus in buses:
        if bus.get("type") == "modbus_rtu" and "port" in bus:
            endpoint, label, pos = f"serial:{bus['port']}", bus["port"], bus.pos("port")
        elif bus.get("type") == "modbus_tcp" and "host" in bus:
            port = bus.get("port", 502)
            endpoint = f"tcp:{bus['host'].lower()}:{port}"
            label, pos = f"{bus['host']}:{port}", bus.pos("host")
        else:
            continue
        if endpoint in seen:
            other, first = seen[endpoint]
            ctx.add(pos, bi(f"总线 {bus.get('id')} 与第 {first.line} 行的总线 {other} 共用 {label}",
                            f"bus {bus.get('id')} uses {label} like bus {other} "
                            f"(line {first.line})"),
                    bi("一个端口只配一条总线：把设备都挂到同一条总线下",
                       "one bus per port: list all its devices under one bus"))
        else:
            seen[endpoint] = (str(bus.get("id")), pos)


def _deadband(ctx: Ctx, device: RecordValue, profile: Profile) -> None:
    deadband = device.get("deadband")
    if not isinstance(deadband, RecordValue):
        return
    registers = {r.name: r for r in profile.registers}
    for name in deadband.node.entries:
        pos = deadband.node.entries[name][0].pos
        reg = registers.get(name)
        if reg is None:
            close = suggest(name, list(registers))
            ctx.add(pos, bi(f'"{name}" 不是型号 {profile.id} 的寄存器',
                            f'"{name}" is not a register of profile {profile.id}'),
                    bi(f'是否应为 "{close}"?', f'did you mean "{close}"?') if close else
                    bi(f"可用：{', '.join(registers)}", f"registers: {', '.join(registers)}"))
        elif reg.billing:
            ctx.add(pos, bi(f'"{name}" 是计费寄存器，不能设死区',
                            f'"{name}" is a billing register and cannot have a deadband'),
                    bi("删除这一行：计费读数总是上报",
                       "remove this line: billing values are always sent"))


def cross_check(raw: RecordValue, profiles: dict[str, Profile | None], known: list[str],
                ctx: Ctx) -> None:
    """Check the site as a whole; `profiles` maps referenced ids found on disk (None: broken)."""
    buses, devices = _items(raw, "buses"), _items(raw, "devices")
    _unique(ctx, buses, "id", ("总线 id", "bus id"))
    _unique(ctx, devices, "id", ("设备 id", "device id"))
    _unique(ctx, devices, "address", ("Modbus 地址", "Modbus address"), group="bus")
    _bus_ports(ctx, buses)
    bus_ids = [b["id"] for b in buses if "id" in b]
    for device in devices:
        if "bus" in device and device["bus"] not in bus_ids:
            close = suggest(device["bus"], bus_ids)
            ctx.add(device.pos("bus"), bi(f'总线 "{device["bus"]}" 未在 buses 中定义',
                                          f'bus "{device["bus"]}" is not defined under buses'),
                    bi(f'是否应为 "{close}"?', f'did you mean "{close}"?') if close else
                    bi(f"可用的总线：{', '.join(bus_ids) or '无'}",
                       f"defined buses: {', '.join(bus_ids) or 'none'}"))
        pid = device.get("profile", INVALID)
        if pid is INVALID:
            continue
        if pid not in known:
            close = suggest(pid, known)
            ctx.add(device.pos("profile"),
                    bi(f'找不到设备型号 "{pid}"', f'unknown profile "{pid}"'),
                    bi(f'是否应为 "{close}"?', f'did you mean "{close}"?') if close else
                    bi(f"可用的型号：{', '.join(known) or '无'}",
                       f"known profiles: {', '.join(known) or 'none'}"))
        elif (profile := profiles.get(pid)) is not None:
            _deadband(ctx, device, profile)
