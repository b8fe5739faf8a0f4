"""Checks that span several entries of a site file: ids, addresses, buses and profiles.

Each rule here is a mistake that type checks cannot see but that breaks a site in the field:
two meters answering the same unit id, a device on a bus that does not exist, two buses
fighting over one serial port, a deadband that would hide billing data.
"""

from __future__ import annotations

from typing import Any

from drivers.modbus.model import Profile
from edge.config.access_schema import check_access
from edge.config.patrol_schema import check_patrol
from edge.config.schema import INVALID, Ctx, RecordValue, suggest
from edge.config.site_schema import ANY_PEER
from yamlcheck.problems import Pos, Problem, bi

DEFAULT_OPERATOR_PORT = 9180


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


def _ref(ctx: Ctx, item: RecordValue, key: str, known: list[str], what: tuple[str, str]) -> None:
    """item[key] must name one of ``known`` (an id defined elsewhere in the file)."""
    if key not in item or item[key] in known:
        return
    close = suggest(item[key], known)
    ctx.add(item.pos(key),
            bi(f'{what[0]} "{item[key]}" 未定义', f'{what[1]} "{item[key]}" is not defined'),
            bi(f'是否应为 "{close}"?', f'did you mean "{close}"?') if close else
            bi(f"已定义：{', '.join(known) or '无'}", f"defined: {', '.join(known) or 'none'}"))


def _parking(ctx: Ctx, parking: RecordValue, buses: list[RecordValue],
             devices: list[RecordValue]) -> None:
    lots, cameras = _items(parking, "lots"), _items(parking, "cameras")
    gates, lanes = _items(parking, "gates"), _items(parking, "lanes")
    for items, what in ((lots, ("车场 id", "lot id")), (cameras, ("摄像机 id", "camera id")),
                        (gates, ("道闸 id", "gate id")), (lanes, ("车道 id", "lane id"))):
        _unique(ctx, items, "id", what)
    _unique(ctx, cameras, "address", ("摄像机地址", "camera address"))
    _unique(ctx, lanes, "camera", ("车道摄像机", "lane camera"))
    _unique(ctx, lanes, "gate", ("车道道闸", "lane gate"))
    lot_ids = [x["id"] for x in lots if "id" in x]
    cam_ids = [x["id"] for x in cameras if "id" in x]
    gate_ids = [x["id"] for x in gates if "id" in x]
    bus_ids = [b["id"] for b in buses if "id" in b]
    for lane in lanes:
        _ref(ctx, lane, "lot", lot_ids, ("车场", "lot"))
        _ref(ctx, lane, "camera", cam_ids, ("摄像机", "camera"))
        _ref(ctx, lane, "gate", gate_ids, ("道闸", "gate"))
    meter_units = {(d.get("bus"), d.get("address")) for d in devices}
    for gate in gates:
        if gate.get("via") == "camera_relay":
            _ref(ctx, gate, "camera", cam_ids, ("摄像机", "camera"))
        elif gate.get("via") == "modbus":
            _ref(ctx, gate, "bus", bus_ids, ("总线", "bus"))
            if (gate.get("bus"), gate.get("address")) in meter_units:
                ctx.add(gate.pos("address"),
                        bi(f"道闸继电器地址 {gate['address']} 与同一总线上的电表重复",
                           f"gate relay address {gate['address']} is also a meter's on this bus"),
                        bi("改为一个未使用的地址", "change it to an address not used yet"))


def _safety(ctx: Ctx, raw: RecordValue, buses: list[RecordValue],
            devices: list[RecordValue]) -> None:
    """Fire panels, elevators and linkage rules: ids, addresses and references."""
    fire = raw.get("fire")
    if isinstance(fire, RecordValue):
        uitds = _items(fire, "uitds")
        _unique(ctx, uitds, "id", ("报警传输装置 id", "UITD id"))
        _unique(ctx, uitds, "address", ("报警传输装置地址", "UITD address"))
        for uitd in uitds:
            _peers(ctx, uitd)
    elevators = _items(raw, "elevators")
    _unique(ctx, elevators, "id", ("电梯 id", "elevator id"))
    bus_ids = [b["id"] for b in buses if "id" in b]
    taken = {(d.get("bus"), d.get("address")) for d in devices}
    parking = raw.get("parking")
    gate_ids: list[str] = []
    if isinstance(parking, RecordValue):
        gates = _items(parking, "gates")
        gate_ids = [g["id"] for g in gates if "id" in g]
        taken |= {(g.get("bus"), g.get("address")) for g in gates if g.get("via") == "modbus"}
    device_ids = {d.get("id") for d in devices}
    seen: set[tuple[Any, Any]] = set()
    for elev in elevators:
        _ref(ctx, elev, "bus", bus_ids, ("总线", "bus"))
        if elev.get("id") in device_ids:
            ctx.add(elev.pos("id"), bi(f"电梯 id {elev['id']} 与电表 id 重复",
                                       f"elevator id {elev['id']} is also a meter's id"),
                    bi("改为唯一的 id", "choose an id no other device uses"))
        unit = (elev.get("bus"), elev.get("address"))
        if unit in taken or unit in seen:
            ctx.add(elev.pos("address"),
                    bi(f"电梯地址 {elev.get('address')} 在总线 {elev.get('bus')} 上已被占用",
                       f"address {elev.get('address')} is already used on bus {elev.get('bus')}"),
                    bi("改为一个未使用的地址", "change it to an address not used yet"))
        seen.add(unit)
    linkage = raw.get("linkage")
    if isinstance(linkage, RecordValue):
        rules = _items(linkage, "rules")
        _unique(ctx, rules, "id", ("联动规则 id", "linkage rule id"))
        for rule in rules:
            node = rule.get("gates")
            for i, gid in enumerate(node if isinstance(node, list) else []):
                if isinstance(gid, str) and gid not in gate_ids:
                    close = suggest(gid, gate_ids)
                    ctx.add(rule.pos("gates"),
                            bi(f"gates[{i + 1}] 引用了未声明的道闸 {gid}",
                               f"gates[{i + 1}] names an undeclared gate {gid}"),
                            bi(f'是否应为 "{close}"?' if close else "在 parking.gates 中声明它",
                               f'did you mean "{close}"?' if close
                               else "declare it under parking.gates"))
    ports: dict[int, str] = {}
    edge = raw.get("edge")
    operator = raw.get("operator")
    if not (isinstance(operator, RecordValue) and "port" in operator) and (
            isinstance(parking, RecordValue) or isinstance(fire, RecordValue)
            or isinstance(linkage, RecordValue)):
        # The operators' listener runs on its default port when the site has anything to
        # operate (booth, linkage reset).
        ports[DEFAULT_OPERATOR_PORT] = "operator.port（默认 / default）"
    for owner, section, key in (("edge.health_port", edge, "health_port"),
                                ("operator.port", operator, "port"),
                                ("parking.http_port", parking, "http_port"),
                                ("fire.port", fire, "port")):
        if isinstance(section, RecordValue) and isinstance(section.get(key), int):
            port = section[key]
            if port in ports:
                ctx.add(section.pos(key),
                        bi(f"{owner} 与 {ports[port]} 使用同一端口 {port}",
                           f"{owner} uses port {port} like {ports[port]}"),
                        bi("改为不同的端口", "choose a different port"))
            ports[port] = owner


def _peers(ctx: Ctx, uitd: RecordValue) -> None:
    """A UITD sends no credential: who may connect as it must be written down."""
    peers = uitd.get("peers")
    if peers == ANY_PEER or (isinstance(peers, list) and peers):
        return
    where = uitd.pos("peers") if "peers" in uitd.node.entries else uitd.node.pos
    ctx.add(where, bi(f"报警传输装置 {uitd.get('id', '?')} 未列出 peers：任何主机都能冒充它报火警",
                      f"UITD {uitd.get('id', '?')} lists no peers: any host could pose as it "
                      "and raise a fire"),
            bi("添加 peers: [传输装置的 IP]，或明确写 peers: any",
               "add peers: [the UITD's IP], or write peers: any explicitly"))


def _camera_credentials(ctx: Ctx, parking: RecordValue) -> None:
    for cam in _items(parking, "cameras"):
        has_user, has_password = "username" in cam, "password" in cam
        if has_user != has_password:
            missing = "password" if has_user else "username"
            ctx.add(cam.pos("username" if has_user else "password"),
                    bi(f"摄像机 {cam.get('id', '?')} 的 username 与 password 须同时填写",
                       f"camera {cam.get('id', '?')} needs both username and password"),
                    bi(f"添加 {missing}: …", f"add {missing}: …"))


def site_warnings(raw: RecordValue) -> list[Problem]:
    """What validates but weakens a boundary, at FILE:LINE:COL: ``peers: any``."""
    out: list[Problem] = []
    fire = raw.get("fire")
    if not isinstance(fire, RecordValue):
        return out
    for uitd in _items(fire, "uitds"):
        if uitd.get("peers") == ANY_PEER:
            out.append(Problem.at(
                uitd.pos("peers"),
                bi(f"报警传输装置 {uitd.get('id', '?')} 接受任何主机的连接（peers: any）",
                   f"UITD {uitd.get('id', '?')} accepts a connection from any host "
                   "(peers: any)"),
                bi("能连到该端口的任何人都能报火警：尽快改为传输装置的 IP",
                   "anyone who reaches the port can raise a fire: list the UITD's IP soon")))
    return out


def cross_check(raw: RecordValue, profiles: dict[str, Profile | None], known: list[str],
                ctx: Ctx) -> None:
    """Check the site as a whole; `profiles` maps referenced ids found on disk (None: broken)."""
    buses, devices = _items(raw, "buses"), _items(raw, "devices")
    _unique(ctx, buses, "id", ("总线 id", "bus id"))
    _unique(ctx, devices, "id", ("设备 id", "device id"))
    _unique(ctx, devices, "address", ("Modbus 地址", "Modbus address"), group="bus")
    _bus_ports(ctx, buses)
    bus_ids = [b["id"] for b in buses if "id" in b]
    parking = raw.get("parking")
    if isinstance(parking, RecordValue):
        _parking(ctx, parking, buses, devices)
        _camera_credentials(ctx, parking)
    _safety(ctx, raw, buses, devices)
    check_access(ctx, raw)
    check_patrol(ctx, raw)
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
