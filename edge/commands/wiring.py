"""What the command handlers act on in a running edge (``EdgeApp``): its gates, linkage,
elevators, registered doors, and a reconnect per device on a Modbus wire.

``device.reconnect`` on a Modbus device (meter, relay board, elevator box) drops the
connection of the wire it is on, so the next request connects afresh — every device on that
wire shares the connection (edge/wires.py), so all of them reconnect with it. Devices the
edge does not reach over a wire it dials (fire UITDs connect to the edge; cameras push) have
no reconnect and are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from edge.commands.handlers import Reconnect, Resync, Targets
from edge.commands.outcome import CommandRefused, text
from edge.wires import Wires

if TYPE_CHECKING:
    from edge.app import EdgeApp


def command_targets(app: EdgeApp) -> Targets:
    safety = app.safety
    linkage = safety.linkage if safety is not None else None
    fire = safety.fire if safety is not None else None

    def elevators() -> Mapping[str, Any]:
        return safety.elevators if safety is not None else {}

    return Targets(gates=app._parking_gates, linkage=linkage,
                   active_fires=fire.active_fires if fire is not None else None,
                   elevators=elevators, doors=app.doors,
                   reconnect=_reconnects(app) if app.wires is not None else {},
                   resync=_resyncs(app),
                   patrol_scan=app.patrol.scan if app.patrol is not None else None)


def _reconnects(app: EdgeApp) -> dict[str, Reconnect]:
    cfg = app.config
    wires = app.wires
    assert wires is not None
    out: dict[str, Reconnect] = {}
    for d in cfg.devices:
        out[d.id] = _drop_wire(wires, d.bus, d.id)
    for e in cfg.elevators:
        out[e.id] = _drop_wire(wires, e.bus.id, e.id)
    if cfg.parking is not None:
        for g in cfg.parking.gates:
            if g.bus:
                out[g.id] = _drop_wire(wires, g.bus, g.id)
    return out


def _drop_wire(wires: Wires, bus_id: str, device: str) -> Reconnect:
    async def reconnect() -> str:
        wire = wires.wire(bus_id)
        await wire.close()
        return text(f"已断开 {device} 所在总线 {bus_id} 的连接，下次通信时重新连接",
                    f"dropped the connection of bus {bus_id} ({device}): the next request "
                    "connects afresh")
    return reconnect


def _resyncs(app: EdgeApp) -> dict[str, Resync]:
    """A pull-now for each dataset this edge uses (parking, access, patrol)."""
    out: dict[str, Resync] = {}
    parking = app.parking
    if parking is not None and parking.sync is not None:
        sync = parking.sync

        def resync_parking() -> str:
            if not sync.pull_now():
                raise CommandRefused("停车服务尚未启动，启动时会自动拉取",
                                     "parking has not started yet: it pulls when it starts")
            return text("已请求重新拉取停车数据集", "the parking dataset is being pulled again")

        out["parking"] = resync_parking
    access = app.access_sync
    if access is not None:

        def resync_access() -> str:
            access.pull_now()
            return text("已请求重新拉取门禁数据集", "the access dataset is being pulled again")

        out["access"] = resync_access
    if app.patrol is not None:
        patrol = app.patrol.sync

        def resync_patrol() -> str:
            patrol.pull_now()
            return text("已请求重新拉取巡更数据集", "the patrol dataset is being pulled again")

        out["patrol"] = resync_patrol
    return out
