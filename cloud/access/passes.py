"""Visitor passes in the console: checks, the 9-digit code, the signed token, the dataset's
``passes`` / ``passes_revoked`` sections and the ingest of their use.

A pass is signed (``contract.visitor_pass``) with a key derived from the site's secret, the
one the site's edge holds; the token is never stored: the claims are kept (times in whole
seconds) and signed again when the QR image is asked for, which gives the same token. The
``code`` is the numeric form for QR readers set to Wiegand output: random, 9 digits, unique
among the site's live passes and not the number of an active card. A number cannot carry a
signature, so the code is only as good as the dataset the edge holds (docs/operations.md).

Checks raise ``service.Invalid`` naming the field; writes run in the caller's transaction
after the access version bump (``routes.versioned_write``), which serialises one site's edits.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.access.service import Invalid, active_card, doors, instant
from cloud.access.tables import AccessPass
from cloud.ingest.handlers import HandlerContext, StoredEvent
from cloud.records.tables import Unit
from cloud.web.body import unstorable
from contract.visitor_pass import CODE_DIGITS, PassClaims, sign

MAX_WINDOW = timedelta(days=7)
MAX_USES = 50
MAX_NAME = 64
CODE_ATTEMPTS = 20
HOLDER_PREFIX = "visitor-"
FIELDS = ("visitor_name", "unit", "valid_from", "valid_to", "doors", "uses")
AUDITED = ("code", "unit_id", "doors", "valid_from", "valid_to", "uses", "state",
           "revoked_reason")


def visitor_name(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip() or unstorable(raw):
        raise Invalid("visitor_name", "须填写访客姓名", "the visitor's name is required")
    if len(raw.strip()) > MAX_NAME:
        raise Invalid("visitor_name", f"访客姓名至多 {MAX_NAME} 个字",
                      f"the visitor's name is at most {MAX_NAME} characters")
    return raw.strip()


def uses(raw: Any) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= MAX_USES:
        raise Invalid("uses", f"可用次数须为 1–{MAX_USES} 的整数",
                      f"uses must be a whole number from 1 to {MAX_USES}")
    return raw


def window(body: dict[str, Any], tz: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """``valid_from`` (absent: now) and ``valid_to`` in whole seconds; ``valid_to`` must be
    in the future, after ``valid_from``, at most 7 days later."""
    start = instant(body.get("valid_from"), "valid_from", tz) or now
    end = instant(body.get("valid_to"), "valid_to", tz, end_of_day=True)
    if end is None:
        raise Invalid("valid_to", "须填写有效期止", "valid_to is required")
    start, end = _second(start, "valid_from"), _second(end, "valid_to")
    if end <= now:
        raise Invalid("valid_to", "有效期止已过去", "valid_to is in the past")
    if end <= start:
        raise Invalid("valid_to", "有效期止须晚于起", "valid_to must be after valid_from")
    if end - start > MAX_WINDOW:
        raise Invalid("valid_to", "通行证有效期不能超过 7 天", "a pass is valid for 7 days at most")
    return start, end


def _second(at: datetime, field: str) -> datetime:
    try:
        return at.astimezone(UTC).replace(microsecond=0)
    except OverflowError:
        raise Invalid(field, "时间超出范围", "the time is out of range") from None


def pass_doors(raw: Any) -> list[str]:
    """Door keys as cards take them, in ASCII (they are signed into the QR code)."""
    found = doors(raw)
    if not all(d.isascii() and d.isprintable() for d in found):
        raise Invalid("doors", "门标识须为英文字母、数字等 ASCII 字符（站点文件中的门 id）",
                      "door keys are ASCII (the door ids of the site file)")
    return found


async def unit_of(session: AsyncSession, site_id: int, raw: Any) -> Unit:
    if not isinstance(raw, str) or not 0 < len(raw.strip()) <= 64 or unstorable(raw):
        raise Invalid("unit", "须填写被访房屋编号", "the host's unit code is required")
    found = (await session.scalars(select(Unit).where(
        Unit.site_id == site_id, Unit.code == raw.strip()))).first()
    if found is None:
        raise Invalid("unit", f"本小区没有房屋 {raw.strip()[:64]}",
                      f"no unit {raw.strip()[:64]} at this site")
    return found


def claims(p: AccessPass, site: str) -> PassClaims:
    return PassClaims(id=p.id, site=site, doors=tuple(p.doors),
                      valid_from=int(p.valid_from.timestamp()),
                      valid_to=int(p.valid_to.timestamp()), uses=p.uses)


def token(p: AccessPass, site: str, secret: str) -> str:
    return sign(secret, claims(p, site))


async def live_pass(session: AsyncSession, site_id: int, code: str, now: datetime) -> int | None:
    """The id of the site's live pass (active, not ended) with this code, if any.

    A code and a card number share one space at the edge (both arrive as a Wiegand card
    number and the card wins there), so a live code and an active card number never meet.
    """
    found = (await session.scalars(select(AccessPass.id).where(
        AccessPass.site_id == site_id, AccessPass.code == code,
        AccessPass.state == "active", AccessPass.valid_to > now))).first()
    return None if found is None else int(found)


async def new_code(session: AsyncSession, site_id: int, now: datetime) -> str:
    """A random 9-digit code no live pass of the site and no active card number uses."""
    low = 10 ** (CODE_DIGITS - 1)
    for _ in range(CODE_ATTEMPTS):
        code = str(low + secrets.randbelow(9 * low))
        if (await live_pass(session, site_id, code, now) is None
                and await active_card(session, site_id, int(code)) is None):
            return code
    raise RuntimeError("no free pass code after several attempts")


def state_of(p: AccessPass, now: datetime) -> str:
    if p.state == "revoked":
        return "revoked"
    return "expired" if p.valid_to <= now else "active"


async def listed(session: AsyncSession, site_id: int, state: str | None,
                 now: datetime) -> Sequence[tuple[AccessPass, str]]:
    query = select(AccessPass, Unit.code).join(Unit, Unit.id == AccessPass.unit_id).where(
        AccessPass.site_id == site_id)
    if state == "revoked":
        query = query.where(AccessPass.state == "revoked")
    elif state == "active":
        query = query.where(AccessPass.state == "active", AccessPass.valid_to > now)
    elif state == "expired":
        query = query.where(AccessPass.state == "active", AccessPass.valid_to <= now)
    rows = (await session.execute(query.order_by(AccessPass.id.desc()).limit(1000))).all()
    return [(p, unit) for p, unit in rows]


# -- ingest: a pass used at a door ------------------------------------------------------------

def _pass_id(holder: Any) -> int | None:
    if not isinstance(holder, str) or not holder.startswith(HOLDER_PREFIX):
        return None
    digits = holder[len(HOLDER_PREFIX):]
    return int(digits) if digits.isascii() and digits.isdigit() and len(digits) < 10 else None


async def on_granted(ctx: HandlerContext, events: Sequence[StoredEvent]) -> None:
    """Count each ``access.granted`` with method ``pass`` on its pass (``used``, last use)."""
    uses_by_pass: dict[int, tuple[int, datetime]] = {}
    for ev in events:
        if ev.data.get("method") != "pass":
            continue
        pid = _pass_id(ev.data.get("holder"))
        if pid is None:
            continue
        n, last = uses_by_pass.get(pid, (0, ev.ts))
        uses_by_pass[pid] = (n + 1, max(last, ev.ts))
    for pid, (n, last) in uses_by_pass.items():
        await ctx.session.execute(update(AccessPass).where(
            AccessPass.id == pid, AccessPass.site_id == ctx.site_id).values(
            used=AccessPass.used + n,
            last_used_at=case((AccessPass.last_used_at.is_(None), last),
                              (AccessPass.last_used_at < last, last),
                              else_=AccessPass.last_used_at)))
        ctx.count("access_pass_uses", n)
