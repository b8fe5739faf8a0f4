"""A command's lifecycle as one table, and who may issue which kind.

Flow: ``queued`` (stored, not yet handed to the broker) → ``sent`` (the broker took it, QoS 1)
→ ``done`` | ``refused`` | ``failed`` (the edge's reply) — or ``expired``: the edge replied
that it arrived too late, or ``not_after`` (+ ``EXPIRY_GRACE_S``) passed with no reply. A
reply may come before the console recorded ``sent`` (the two race), and a late reply to a
command the console already called ``expired`` still says what the edge did, so replies are
taken from ``queued``, ``sent`` and ``expired`` alike. Actors: ``console`` (publishing and
the expiry sweep) and ``edge`` (its reply).
"""

from __future__ import annotations

from typing import Final

from cloud.lifecycle import Lifecycle, Refusal, Transition
from contract.commands import CommandResult

#: Kind → the permission a login needs to issue it. Opening a barrier or a door and resetting
#: fire linkage are the guard room's work (``alarms.act``: guards, operations leads,
#: administrators); changing a door's mode, recalling an elevator, reconnecting a device and
#: resending a dataset are maintenance (``workorders.admin``: operations leads,
#: administrators). A kind not listed needs ``staff.admin`` (fail closed).
KIND_PERMISSION: Final[dict[str, str]] = {
    "gate.open": "alarms.act",
    "gate.close": "alarms.act",
    "door.open": "alarms.act",
    "linkage.reset": "alarms.act",
    "door.mode": "workorders.admin",
    "elevator.recall": "workorders.admin",
    "device.reconnect": "workorders.admin",
    "dataset.resync": "workorders.admin",
    # patrol.scan stays unlisted on purpose: it is issued by POST …/patrol/scans once the
    # sticker is verified; through this route a guard could record any guard anywhere.
}
UNLISTED_PERMISSION: Final = "staff.admin"

DEFAULT_TTL_S: Final = 60
MAX_TTL_S: Final = 600
#: How long after ``not_after`` a reply may still be on its way before the console gives up
#: (the edge checks ``not_after`` on its own clock, then runs and replies).
EXPIRY_GRACE_S: Final = 5

ACTORS: Final = ("console", "edge")

LIFECYCLE: Final = Lifecycle({
    "queued": "排队中", "sent": "已下发", "done": "已执行", "refused": "被拒绝",
    "expired": "已过期", "failed": "执行失败",
}, (
    Transition("send", "下发", ("queued",), "sent", ("console",)),
    Transition("done", "执行成功", ("queued", "sent", "expired"), "done", ("edge",)),
    Transition("refuse", "拒绝执行", ("queued", "sent", "expired"), "refused", ("edge",)),
    Transition("fail", "执行失败", ("queued", "sent", "expired"), "failed", ("edge",)),
    Transition("expire", "过期", ("queued", "sent"), "expired", ("console", "edge")),
), Refusal("命令当前状态为“{state_zh}”，不能{action_zh}",
           "cannot {action_en} a command that is {state}"))

STATES: Final = LIFECYCLE.states
#: The states a command ends in (the board stops polling there).
FINAL_STATES: Final = ("done", "refused", "expired", "failed")
OPEN_STATES: Final = ("queued", "sent")

#: The edge's reply result → the lifecycle action it takes.
REPLY_ACTION: Final[dict[str, str]] = {
    CommandResult.OK: "done", CommandResult.REFUSED: "refuse",
    CommandResult.FAILED: "fail", CommandResult.EXPIRED: "expire",
}


def permission_for(kind: str) -> str:
    """The permission needed to issue ``kind``."""
    return KIND_PERMISSION.get(kind, UNLISTED_PERMISSION)
