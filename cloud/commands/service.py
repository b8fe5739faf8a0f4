"""Issuing a command and moving it through its lifecycle (``states.LIFECYCLE``).

Everything that changes a command is here, so the HTTP routes, the MQTT link and the tests
share one path: ``issue`` (stored and audited in one transaction), ``mark_sent`` (the broker's
PUBACK), ``apply_reply`` (the edge's ``up/cmd-reply``, matched on cmd_id *and* the topic's
site) and ``expire_due`` (``not_after`` + grace passed with no reply).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import SYSTEM, Actor, record
from cloud.commands.states import (
    EXPIRY_GRACE_S,
    LIFECYCLE,
    OPEN_STATES,
    REPLY_ACTION,
)
from cloud.commands.tables import RemoteCommand
from cloud.db.models import Site
from cloud.lifecycle import TransitionRefused
from cloud.web.body import unstorable
from contract.commands import (
    MAX_DETAIL,
    MAX_ISSUED_BY,
    Command,
    CommandKind,
    CommandReply,
    encode_command,
    new_cmd_id,
)
from contract.errors import ContractError

log = structlog.get_logger(__name__)

AUDITED = ("cmd_id", "kind", "args", "issued_by", "state", "not_after")


class InvalidCommand(Exception):
    """The contract refuses the command: ``field`` is the request's field (``args.gate``)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def request_field(contract_field: str) -> str:
    """The request field a contract error names: ``cmd.args.gate`` → ``args.gate``."""
    return contract_field.removeprefix("cmd.")


def wire_command(row: RemoteCommand) -> Command:
    """The ``down/cmd`` message of a stored command."""
    return Command(cmd_id=row.cmd_id, kind=CommandKind(row.kind), issued_by=row.issued_by,
                   not_after=row.not_after, args=dict(row.args or {}))


def checked_payload(kind: str, args: dict[str, Any], issued_by: str,
                    not_after: datetime) -> tuple[str, bytes]:
    """A new cmd_id and the payload the edge will decode; ``InvalidCommand`` when the contract
    refuses it (the kind, an argument), naming the request's field."""
    names = [str(k) for k in CommandKind]
    if kind not in names:
        raise InvalidCommand("kind", f"must be one of {', '.join(names)}")
    for name, value in args.items():
        if isinstance(value, str) and unstorable(value):
            raise InvalidCommand(f"args.{name}"[:100], "contains NUL or is not UTF-8")
    cmd = Command(cmd_id=new_cmd_id(), kind=CommandKind(kind), issued_by=issued_by,
                  not_after=not_after, args=args)
    try:
        return cmd.cmd_id, encode_command(cmd)
    except ContractError as exc:
        raise InvalidCommand(request_field(exc.field), exc.reason) from None
    except (TypeError, ValueError):  # e.g. an integer beyond 64 bits, which JSON may carry
        raise InvalidCommand("args", "must hold only strings") from None


async def issue(session: AsyncSession, site: Site, actor: Actor, kind: str,
                args: dict[str, Any], ttl_s: int, now: datetime) -> RemoteCommand:
    """Store a ``queued`` command issued by ``actor`` and audit it (the caller commits)."""
    issued_by = (actor.name or actor.ref)[:MAX_ISSUED_BY]
    not_after = now + timedelta(seconds=ttl_s)
    cmd_id, _ = checked_payload(kind, args, issued_by, not_after)
    row = RemoteCommand(site_id=site.id, cmd_id=cmd_id, kind=kind, args=args,
                        issued_by=issued_by, issued_by_ref=actor.ref[:64], state="queued",
                        created_at=now, not_after=not_after)
    session.add(row)
    await session.flush()
    record(session, at=now, actor=actor, action="issue", entity="command", entity_id=row.id,
           site_id=site.id, after={f: getattr(row, f) for f in AUDITED})
    return row


def _move(row: RemoteCommand, action: str, now: datetime) -> bool:
    """Take ``action`` when the state allows it; False (nothing changed) when not."""
    try:
        t = LIFECYCLE.check(action, row.state)
    except TransitionRefused:
        return False
    row.state = t.after(row.state)
    if row.state == "sent":
        row.sent_at = now
    else:
        row.finished_at = now
    return True


async def mark_sent(session: AsyncSession, command_id: int, now: datetime) -> bool:
    """The broker took the command (PUBACK): ``queued`` → ``sent``."""
    row = await session.get(RemoteCommand, command_id)
    return row is not None and _move(row, "send", now)


async def apply_reply(session: AsyncSession, site_slug: str, reply: CommandReply,
                      now: datetime) -> RemoteCommand | None:
    """Settle the command ``reply`` answers, if it belongs to ``site_slug`` (the topic's
    site) and its state allows it; None when the reply changes nothing."""
    row = (await session.scalars(
        select(RemoteCommand).join(Site, Site.id == RemoteCommand.site_id)
        .where(RemoteCommand.cmd_id == reply.cmd_id, Site.slug == site_slug))).one_or_none()
    if row is None:
        log.warning("commands.reply_unmatched", site=site_slug, cmd_id=reply.cmd_id)
        return None
    before = row.state
    if not _move(row, REPLY_ACTION[reply.result], now):
        log.info("commands.reply_ignored", site=site_slug, cmd_id=reply.cmd_id, state=before,
                 result=str(reply.result))
        return None
    row.result, row.detail = str(reply.result), reply.detail[:MAX_DETAIL]
    row.replied_at = reply.at
    record(session, at=now, actor=SYSTEM, action="reply", entity="command", entity_id=row.id,
           site_id=row.site_id, before={"state": before},
           after={"state": row.state, "result": row.result, "detail": row.detail})
    return row


def overdue(row: RemoteCommand, now: datetime) -> bool:
    """Open, and past ``not_after`` plus the grace a late reply gets."""
    return row.state in OPEN_STATES and now > row.not_after + timedelta(seconds=EXPIRY_GRACE_S)


def expire(row: RemoteCommand, now: datetime) -> bool:
    """``queued``/``sent`` → ``expired`` once overdue (no reply came in time)."""
    if not overdue(row, now) or not _move(row, "expire", now):
        return False
    row.detail = "未在有效期内收到边缘网关的回复 / no reply from the edge before it expired"
    return True


async def expire_due(session: AsyncSession, now: datetime, limit: int = 500) -> int:
    """Expire every overdue command (the caller commits); how many."""
    cutoff = now - timedelta(seconds=EXPIRY_GRACE_S)
    rows = (await session.scalars(select(RemoteCommand).where(
        RemoteCommand.state.in_(OPEN_STATES), RemoteCommand.not_after < cutoff)
        .order_by(RemoteCommand.id).limit(limit))).all()
    return sum(expire(r, now) for r in rows)
