"""Opaque keyset cursors: ``?after=<cursor>&limit=`` and ``"next": cursor | null``.

A page is one indexed range query (``WHERE key > last ORDER BY key LIMIT n + 1``), never
``OFFSET`` (which reads and throws away every row before the page) nor ``count(*)`` (which reads
the whole filtered set on every page). The cursor is the last row's sort key, base64url JSON:
opaque to clients, so the key can change without breaking them. It is not a secret: a forged
cursor only moves the page start inside what the caller may see anyway (the filters and the
role's scope still apply).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import and_, or_

from cloud.web.errors import bad_param

MAX_CURSOR = 200


def encode_cursor(key: Sequence[int | str]) -> str:
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def cursor_param(request: web.Request, shape: Sequence[type], name: str = "after"
                 ) -> tuple[int | str, ...] | None:
    """The decoded cursor (its values of the types in ``shape``), None when absent."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        if len(raw) > MAX_CURSOR:
            raise ValueError
        value = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if (not isinstance(value, list) or len(value) != len(shape)
                or any(type(v) is not t for v, t in zip(value, shape, strict=True))):
            raise ValueError
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad_param(name, "翻页游标无效（请用上一页的 next）",
                        "not a valid cursor (pass the previous page's next)") from None
    return tuple(value)


def newest_first_cursor(request: web.Request, name: str = "after"
                        ) -> tuple[datetime, int] | None:
    """A ``(time, id)`` cursor of a newest-first list (see ``newest_first_after``)."""
    key = cursor_param(request, (str, int), name)
    if key is None:
        return None
    try:
        at = datetime.fromisoformat(str(key[0]))
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise bad_param(name, "翻页游标无效（请用上一页的 next）",
                        "not a valid cursor (pass the previous page's next)")
    return at, int(key[1])


def encode_newest_first(at: datetime, row_id: int) -> str:
    return encode_cursor([at.astimezone(UTC).isoformat(), row_id])


def newest_first_after(at_col: Any, id_col: Any, key: tuple[datetime, int]) -> Any:
    """Rows after ``key`` in ``ORDER BY at DESC, id DESC`` (an index on the site and ``at``
    serves it: one range scan per page)."""
    at, row_id = key
    return or_(at_col < at, and_(at_col == at, id_col < row_id))
