"""Remote commands: ``down/cmd`` (console → edge) and ``up/cmd-reply`` (edge → console).

DESIGN §2 "Commands"::

    command: {"cmd_id": "<uuid>", "kind": "gate.open", "args": {"gate": "g1"},
              "issued_by": "staff:42", "not_after": "2026-11-23T01:02:33.000000Z"}
    reply:   {"cmd_id": "<uuid>", "result": "ok", "detail": "...",
              "at": "2026-11-23T01:02:04.123456Z"}

A command that arrives after ``not_after`` is refused (reply ``expired``), never run late: the
edge checks ``Command.expired`` against its own clock. The edge records each ``cmd_id`` and runs
it at most once; the action itself is an ordinary event in the outbox. Decoders refuse what
does not follow this shape with a ContractError naming the field, so the edge can reply
``refused`` to anything that still carries a usable ``cmd_id``.

Each kind takes exactly the arguments listed in ``ARGS`` (all strings; an unknown argument is
refused rather than silently ignored, so a typo never runs a command on a default). Every kind
also accepts an optional ``reason`` (why, shown in the event the action records).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from contract import jsoncodec
from contract.envelope import format_ts, parse_ts
from contract.errors import ContractError

MAX_COMMAND_BYTES = 64 * 1024
MAX_ISSUED_BY = 128
MAX_DETAIL = 1000
MAX_REASON = 200
#: A device, door, building or dataset key: the site file's id pattern.
KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class CommandKind(StrEnum):
    """What the console may ask an edge to do."""

    GATE_OPEN = "gate.open"
    GATE_CLOSE = "gate.close"
    DOOR_OPEN = "door.open"
    DOOR_MODE = "door.mode"
    LINKAGE_RESET = "linkage.reset"
    ELEVATOR_RECALL = "elevator.recall"
    DATASET_RESYNC = "dataset.resync"
    DEVICE_RECONNECT = "device.reconnect"
    #: A guard's phone scanned a checkpoint's QR sticker: the edge's round tracker counts it.
    PATROL_SCAN = "patrol.scan"


class DoorMode(StrEnum):
    """A door controller's control mode (``door.mode`` ``mode``)."""

    NORMALLY_OPEN = "normally_open"
    NORMALLY_CLOSED = "normally_closed"
    CONTROLLED = "controlled"


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument of a command kind: a key (``KEY_RE``) unless ``choices`` or ``free``."""

    name: str
    required: bool = True
    choices: tuple[str, ...] = ()
    free: bool = False  # free text up to MAX_REASON (``reason``)


_REASON = Arg("reason", required=False, free=True)
#: The arguments each kind takes; anything else in ``args`` is refused naming it.
ARGS: dict[CommandKind, tuple[Arg, ...]] = {
    CommandKind.GATE_OPEN: (Arg("gate"), _REASON),
    CommandKind.GATE_CLOSE: (Arg("gate"), _REASON),
    CommandKind.DOOR_OPEN: (Arg("door"), _REASON),
    CommandKind.DOOR_MODE: (Arg("door"), Arg("mode", choices=tuple(str(m) for m in DoorMode)),
                            _REASON),
    CommandKind.LINKAGE_RESET: (Arg("building", required=False), _REASON),
    CommandKind.ELEVATOR_RECALL: (Arg("elevator"), _REASON),
    CommandKind.DATASET_RESYNC: (Arg("dataset"), _REASON),
    CommandKind.DEVICE_RECONNECT: (Arg("device"), _REASON),
    # ``at``: the phone's time of the scan (ISO 8601 with offset); ``guard``: the login.
    CommandKind.PATROL_SCAN: (Arg("checkpoint"), Arg("guard", free=True), Arg("at", free=True),
                              Arg("scan", required=False)),
}


class CommandResult(StrEnum):
    """How a command ended: run (``ok``), not run by rule (``refused``), run but failed
    (``failed``), or arrived after its ``not_after`` (``expired``)."""

    OK = "ok"
    REFUSED = "refused"
    FAILED = "failed"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Command:
    cmd_id: str
    kind: CommandKind
    issued_by: str
    not_after: datetime
    args: dict[str, Any] = field(default_factory=dict)

    def expired(self, now: datetime) -> bool:
        """True once ``now`` is past ``not_after``: the command must then be refused."""
        return now > self.not_after


@dataclass(frozen=True, slots=True)
class CommandReply:
    cmd_id: str
    result: CommandResult
    at: datetime
    detail: str = ""


def new_cmd_id() -> str:
    return str(uuid.uuid4())


# -- encoding -----------------------------------------------------------------------------


def encode_command(cmd: Command) -> bytes:
    """The ``down/cmd`` payload; a command the decoder would refuse is refused here too."""
    raw = jsoncodec.dumpb({"cmd_id": cmd.cmd_id, "kind": str(cmd.kind), "args": cmd.args,
                           "issued_by": cmd.issued_by, "not_after": format_ts(cmd.not_after)})
    decode_command(raw)
    return raw


def encode_reply(reply: CommandReply) -> bytes:
    """The ``up/cmd-reply`` payload; checked like ``encode_command``."""
    raw = jsoncodec.dumpb({"cmd_id": reply.cmd_id, "result": str(reply.result),
                           "detail": reply.detail, "at": format_ts(reply.at)})
    decode_reply(raw)
    return raw


# -- decoding -----------------------------------------------------------------------------


def decode_command(payload: bytes) -> Command:
    """Parse a ``down/cmd`` payload; ContractError names the field that is wrong."""
    doc = _object(payload, "cmd")
    cmd_id = _cmd_id(doc, "cmd")
    kind = CommandKind(_choice(doc, "cmd.kind", "kind", CommandKind))
    args = doc.get("args", {})
    if not isinstance(args, dict):
        raise ContractError("cmd.args", "must be a JSON object")
    _check_args(kind, args)
    issued_by = _text(doc, "cmd.issued_by", "issued_by", MAX_ISSUED_BY, required=True)
    not_after = parse_ts(doc.get("not_after"), "cmd.not_after")
    return Command(cmd_id=cmd_id, kind=kind, issued_by=issued_by,
                   not_after=not_after, args=args)


def decode_reply(payload: bytes) -> CommandReply:
    """Parse an ``up/cmd-reply`` payload; ContractError names the field that is wrong."""
    doc = _object(payload, "reply")
    cmd_id = _cmd_id(doc, "reply")
    result = _choice(doc, "reply.result", "result", CommandResult)
    detail = _text(doc, "reply.detail", "detail", MAX_DETAIL, required=False)
    at = parse_ts(doc.get("at"), "reply.at")
    return CommandReply(cmd_id=cmd_id, result=CommandResult(result), at=at, detail=detail)


def cmd_id_of(payload: bytes) -> str | None:
    """The ``cmd_id`` of a payload the decoder refused, when it has a valid one (so the refusal
    can be replied to); None otherwise."""
    try:
        return _cmd_id(_object(payload, "cmd"), "cmd")
    except ContractError:
        return None


def _check_args(kind: CommandKind, args: dict[str, Any]) -> None:
    specs = {a.name: a for a in ARGS[kind]}
    for name in args:
        if name not in specs:
            raise ContractError(f"cmd.args.{name}"[:100],
                                f"{kind} takes no such argument (takes {', '.join(specs)})")
    for spec in specs.values():
        where = f"cmd.args.{spec.name}"
        raw = args.get(spec.name)
        if raw is None:
            if spec.required:
                raise ContractError(where, f"required for {kind}")
            continue
        if not isinstance(raw, str):
            raise ContractError(where, "must be a string")
        if spec.choices:
            if raw not in spec.choices:
                raise ContractError(where, f"must be one of {', '.join(spec.choices)}")
        elif spec.free:
            if len(raw) > MAX_REASON:
                raise ContractError(where, f"longer than {MAX_REASON} characters")
        elif not KEY_RE.fullmatch(raw):
            raise ContractError(where, "must be an id (letters, digits, _ . -; up to 64)")


def _object(payload: bytes, where: str) -> dict[str, Any]:
    if len(payload) > MAX_COMMAND_BYTES:
        raise ContractError(where, f"larger than {MAX_COMMAND_BYTES} bytes")
    try:
        doc = jsoncodec.loads(payload)
    except jsoncodec.JSONDecodeError:
        raise ContractError(where, "not JSON") from None
    if not isinstance(doc, dict):
        raise ContractError(where, "must be a JSON object")
    return doc


def _cmd_id(doc: dict[str, Any], where: str) -> str:
    raw = doc.get("cmd_id")
    if not isinstance(raw, str):
        raise ContractError(f"{where}.cmd_id", "must be a UUID string")
    try:
        uuid.UUID(raw)
    except ValueError:
        raise ContractError(f"{where}.cmd_id", "must be a UUID string") from None
    return raw  # as sent: the reply must carry the very same text


def _choice(doc: dict[str, Any], where: str, key: str, allowed: type[StrEnum]) -> str:
    raw = doc.get(key)
    names = [str(m) for m in allowed]
    if not isinstance(raw, str) or raw not in names:
        raise ContractError(where, f"must be one of {', '.join(names)}")
    return raw


def _text(doc: dict[str, Any], where: str, key: str, limit: int, *, required: bool) -> str:
    raw = doc.get(key, None if required else "")
    if not isinstance(raw, str) or (required and not raw.strip()):
        raise ContractError(where, "must be a non-empty string" if required
                            else "must be a string")
    if len(raw) > limit:
        raise ContractError(where, f"longer than {limit} characters")
    return raw
