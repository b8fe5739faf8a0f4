"""微耕/UHPPOTE doors as the command channel sees them (``edge.commands.Door``).

The edge's safety part runs the door-controller driver; ``command_doors`` wraps each door of
the site file so ``door.open`` / ``door.mode`` from the console reach it. A door whose
controller is offline is refused (``LookupError``: nothing was sent); a controller that does
not carry the command out fails (``OSError``). The remote open is recorded by the controller
itself and comes back as ``access.granted`` with credential ``remote``. While fire linkage
holds an egress door open (``held``, kept by ``edge.access.egress.LinkageHold``), any mode but
normally open is refused with the reason: a guard must not lock an escape route during a fire.
"""

from __future__ import annotations

from collections.abc import Collection

import structlog

from drivers.access.uhppote import UhppoteDriver
from drivers.access.uhppote_model import ControllerError

log = structlog.get_logger("edge.access")

MODE_ZH = {"normally_open": "常开", "normally_closed": "常闭", "controlled": "受控（刷卡）"}


class ControllerDoor:
    def __init__(self, driver: UhppoteDriver, door_id: str,
                 held: Collection[str] = frozenset()) -> None:
        self._driver = driver
        self.id = door_id
        self._controller = driver.config.door(door_id).controller
        self._held = held

    def _check_online(self) -> None:
        if self._driver.online.get(self._controller) is False:
            raise LookupError(f"门禁控制器 {self._controller} 离线 / door controller "
                              f"{self._controller} is offline")

    async def open(self, *, by: str, reason: str) -> str:
        self._check_online()
        try:
            await self._driver.open_door(self.id)
        except ControllerError as exc:
            raise OSError(str(exc)) from exc
        log.info("远程开门 / remote open", door=self.id, by=by, reason=reason)
        return f"门 {self.id} 已开锁 / door {self.id} released"

    async def set_mode(self, mode: str, *, by: str, reason: str) -> str:
        if self.id in self._held and str(mode) != "normally_open":
            log.warning("火警联动中拒绝锁门 / refused to lock a door fire linkage holds open",
                        door=self.id, mode=str(mode), by=by)
            raise ValueError(f"门 {self.id} 由火警联动保持常开，请先复位联动 / door {self.id} is "
                             "held open by fire linkage: reset the linkage first")
        self._check_online()
        try:
            got, delay = await self._driver.set_door_mode(self.id, str(mode))
        except ControllerError as exc:
            raise OSError(str(exc)) from exc
        log.info("门控制方式 / door mode", door=self.id, mode=got, by=by, reason=reason)
        return (f"门 {self.id} 已设为{MODE_ZH.get(got, got)}（开门 {delay} 秒）/ door {self.id} "
                f"set {got} (opens {delay} s)")


def command_doors(driver: UhppoteDriver,
                  held: Collection[str] = frozenset()) -> dict[str, ControllerDoor]:
    """Each door of the site's ``access`` section, by its id; ``held``: the doors fire
    linkage holds open (a live set)."""
    return {d.id: ControllerDoor(driver, d.id, held) for d in driver.config.doors}
