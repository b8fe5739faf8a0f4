"""Checks and writes for access credentials, and the site's ``access`` dataset document.

Bad input raises ``Invalid`` naming the field (the routes turn it into a 400). Writes run
inside the caller's transaction right after the version bump (``cloud.parking.dataset``'s
``bump_version`` with the ``access`` name), which also serialises edits of one site, so the
"one active card per number" check cannot race. The document is a pure function of the
version: sorted, no timestamps of its own.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.access.tables import (
    ACCESS_DATASET,
    AccessCard,
    AccessGroup,
    AccessPass,
    AccessProfile,
)
from cloud.parking.dataset import current_version
from cloud.parking.tables import DatasetVersion
from contract.datasets import AccessDocument, CardPermit, PassPermit, Window

MAX_CARD = 2**32
MAX_DOORS = 64
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
CONSISTENT_READ_ATTEMPTS = 5


class Invalid(ValueError):
    """A refused request: ``field`` and the reason in zh / en."""

    def __init__(self, field: str, zh: str, en: str, status: int = 400,
                 code: str = "invalid_parameter") -> None:
        super().__init__(f"{field}: {en}")
        self.field, self.zh, self.en, self.status, self.code = field, zh, en, status, code


def card_number(raw: Any) -> int:
    """A positive decimal card number ≤ 2^32 (the Wiegand number the readers decode)."""
    text = str(raw).strip() if isinstance(raw, (str, int)) and not isinstance(raw, bool) else ""
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_CARD:
        raise Invalid("number", f"卡号须为不超过 {MAX_CARD} 的正整数（十进制）",
                      f"must be a positive decimal number up to {MAX_CARD}")
    return int(text)


def profile_name(raw: Any, field: str = "profile") -> str:
    if (not isinstance(raw, str) or not 0 < len(raw) <= 64
            or not set(raw) <= NAME_CHARS):
        raise Invalid(field, "时段名须为小写字母、数字、- 或 _（至多 64 个）",
                      "a profile name is lower-case letters, digits, - or _ (up to 64)")
    return raw


def group_name(raw: Any, field: str = "name") -> str:
    if (not isinstance(raw, str) or not 0 < len(raw) <= 64
            or not set(raw) <= NAME_CHARS):
        raise Invalid(field, "门禁组名须为小写字母、数字、- 或 _（至多 64 个）",
                      "a group name is lower-case letters, digits, - or _ (up to 64)")
    return raw


def group_names(raw: Any) -> list[str]:
    """A card's ``groups``: a list of group names (may be empty), sorted, no repeats."""
    if (not isinstance(raw, list) or len(raw) > MAX_DOORS
            or not all(isinstance(g, str) and 0 < len(g) <= 64 and set(g) <= NAME_CHARS
                       for g in raw)):
        raise Invalid("groups", "须为门禁组名称列表（小写字母、数字、- 或 _）",
                      "a list of access group names (lower-case letters, digits, - or _)")
    return sorted(set(raw))


async def known_groups(session: AsyncSession, site_id: int, names: list[str]) -> None:
    """Refuse (naming ``groups``) any name that is not a group of the site."""
    if not names:
        return
    found = set((await session.scalars(select(AccessGroup.name).where(
        AccessGroup.site_id == site_id, AccessGroup.name.in_(names)))).all())
    missing = [n for n in names if n not in found]
    if missing:
        raise Invalid("groups", f"没有门禁组 {', '.join(missing)}",
                      f"no access group {', '.join(missing)}")


def expand(own: list[Any], groups: list[Any] | None, group_doors: dict[str, list[Any]]
           ) -> list[str]:
    """A card's door list for the edge: its own doors and those of its groups, sorted;
    ``["*"]`` when any of them is every door."""
    out = {str(d) for d in own}
    for g in groups or []:
        out.update(str(d) for d in group_doors.get(g, []))
    return ["*"] if "*" in out else sorted(out)


def doors(raw: Any) -> list[str]:
    if (not isinstance(raw, list) or not 0 < len(raw) <= MAX_DOORS
            or not all(isinstance(d, str) and 0 < len(d.strip()) <= 64 for d in raw)):
        raise Invalid("doors", "须为门的标识列表（至少一个，[\"*\"] 为全部门）",
                      "a non-empty list of door keys ([\"*\"] is every door)")
    return sorted({d.strip() for d in raw})


def instant(raw: Any, field: str, tz: ZoneInfo, end_of_day: bool = False) -> datetime | None:
    """ISO 8601 with an offset, or a date (its start, or for ``valid_to`` its end, in site
    time); None when absent."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise Invalid(field, "须为日期或带时区的时间", "must be a date or a date-time with offset")
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            return datetime.combine(day, time.max if end_of_day else time.min, tz)
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise Invalid(field, "不是有效的日期或时间", "not a valid date or date-time") from None
    if at.tzinfo is None:
        raise Invalid(field, "时间须带时区（如 +08:00）", "a date-time needs an offset (+08:00)")
    return at


def _minutes(raw: Any, field: str) -> int:
    try:
        t = time.fromisoformat(str(raw))
    except ValueError:
        raise Invalid(field, "须为 HH:MM", "must be HH:MM") from None
    return t.hour * 60 + t.minute


def windows(raw: Any) -> list[Window]:
    """Weekly windows; overlapping ones (same day, shared minutes) are refused."""
    if not isinstance(raw, list) or not 0 < len(raw) <= 16:
        raise Invalid("windows", "须为 1 到 16 个时段", "must be 1 to 16 windows")
    out: list[Window] = []
    taken: dict[int, list[tuple[int, int, int]]] = {}  # weekday → (start, end, index)
    for i, w in enumerate(raw):
        where = f"windows[{i}]"
        if not isinstance(w, dict):
            raise Invalid(where, "须为对象", "must be an object")
        days = w.get("days")
        if (not isinstance(days, list) or not days
                or not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7
                           for d in days)):
            raise Invalid(f"{where}.days", "须为星期 1（周一）到 7", "ISO weekdays 1 (Monday) to 7")
        start, end = _minutes(w.get("from"), f"{where}.from"), _minutes(w.get("to"), f"{where}.to")
        for d in set(days):  # past midnight: the rest of the day, then the next morning
            spans = [(d, start, end)] if start < end else [(d, start, 1440),
                                                           (d % 7 + 1, 0, end)]
            for day, a, b in spans:
                for s, e, j in taken.get(day, []):
                    if a < e and s < b:
                        raise Invalid(where, f"与第 {j + 1} 个时段重叠", f"overlaps windows[{j}]")
                taken.setdefault(day, []).append((a, b, i))
        out.append({"days": sorted(set(days)), "from": f"{start // 60:02d}:{start % 60:02d}",
                    "to": f"{end // 60:02d}:{end % 60:02d}"})
    return out


async def active_card(session: AsyncSession, site_id: int, number: int) -> AccessCard | None:
    return (await session.scalars(select(AccessCard).where(
        AccessCard.site_id == site_id, AccessCard.number == number,
        AccessCard.state == "active"))).first()


async def profile(session: AsyncSession, site_id: int, name: str) -> AccessProfile | None:
    return (await session.scalars(select(AccessProfile).where(
        AccessProfile.site_id == site_id, AccessProfile.name == name))).first()


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


async def _contents(session: AsyncSession, site_id: int) -> AccessDocument:
    profiles = (await session.scalars(select(AccessProfile).where(
        AccessProfile.site_id == site_id).order_by(AccessProfile.name))).all()
    groups = (await session.scalars(select(AccessGroup).where(
        AccessGroup.site_id == site_id))).all()
    group_doors = {g.name: list(g.doors) for g in groups}
    cards = (await session.scalars(select(AccessCard).where(
        AccessCard.site_id == site_id).order_by(AccessCard.number, AccessCard.id))).all()
    active: dict[str, CardPermit] = {}
    revoked: set[str] = set()
    for c in cards:
        if c.state != "active":
            revoked.add(str(c.number))
            continue
        active[str(c.number)] = {"holder": c.holder,
                                 "doors": expand(c.doors, c.groups, group_doors),
                                 "profile": c.profile, "valid_from": _iso(c.valid_from),
                                 "valid_to": _iso(c.valid_to)}
    passes, passes_revoked = await _passes(session, site_id)
    return {"version": 0, "time_profiles": {p.name: list(p.windows) for p in profiles},
            "cards": active, "blocked": sorted(revoked - set(active), key=int),
            "passes": passes, "passes_revoked": passes_revoked}


async def _passes(session: AsyncSession, site_id: int
                  ) -> tuple[dict[str, PassPermit], list[int]]:
    """Live visitor passes by code, and the ids of revoked ones whose window has not ended,
    both as of the version's own time (its ``dataset_versions.updated_at``) so that the
    document stays a function of the version. A pass that ends later stays listed until the
    next version; the edge checks the window itself."""
    as_of = (await session.scalars(select(DatasetVersion.updated_at).where(
        DatasetVersion.site_id == site_id, DatasetVersion.name == ACCESS_DATASET))).first()
    if as_of is None:
        return {}, []
    rows = (await session.scalars(select(AccessPass).where(
        AccessPass.site_id == site_id, AccessPass.valid_to > as_of)
        .order_by(AccessPass.id))).all()
    live: dict[str, PassPermit] = {}
    revoked: list[int] = []
    for p in rows:
        if p.state == "revoked":
            revoked.append(p.id)
        else:
            live[p.code] = {"id": p.id, "doors": list(p.doors),
                            "valid_from": p.valid_from.astimezone(UTC).isoformat(),
                            "valid_to": p.valid_to.astimezone(UTC).isoformat(), "uses": p.uses}
    return live, revoked


async def document(session: AsyncSession, site_id: int) -> AccessDocument:
    """The site's ``contract.datasets.AccessDocument``, consistent with its version (equal
    versions before and after the reads prove no write came in between)."""
    for _ in range(CONSISTENT_READ_ATTEMPTS):
        before = await current_version(session, site_id, ACCESS_DATASET)
        doc = await _contents(session, site_id)
        if await current_version(session, site_id, ACCESS_DATASET) == before:
            doc["version"] = before
            return doc
    raise RuntimeError("access dataset kept changing while it was read")
