"""Writing tables as CSV (UTF-8 with BOM, so Excel on Chinese Windows opens it right) or .xlsx.

Cells are written as text except ints and Decimals (numbers keep their exact digits in xlsx:
a Decimal is written as a number only when it round-trips through float unchanged, otherwise
as text), so amounts in fen never drift.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

from aiohttp import web
from openpyxl import Workbook

from cloud.web.errors import bad_param

Format = Literal["csv", "xlsx"]
CONTENT_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return "" if value is None else str(value).lower()
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        return float(value) if Decimal(repr(float(value))) == value else str(value)
    return _text(value)


def write_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], fmt: Format,
                sheet: str = "Sheet1") -> bytes:
    """The table as file bytes in ``fmt``; ``rows`` may be a generator (streamed once)."""
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(headers)
        for row in rows:
            w.writerow([_text(v) for v in row])
        return ("\ufeff" + buf.getvalue()).encode("utf-8")
    if fmt == "xlsx":
        wb = Workbook(write_only=True)
        ws = wb.create_sheet(sheet[:31])
        ws.append(list(headers))
        for row in rows:
            ws.append([_cell(v) for v in row])
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()
    raise ValueError(f"unknown format {fmt!r} (csv or xlsx)")


def format_param(request: web.Request) -> str:
    fmt = request.query.get("format") or "csv"
    if fmt not in CONTENT_TYPES:
        raise bad_param("format", "须为 csv 或 xlsx", "must be csv or xlsx")
    return fmt


def attachment(data: bytes, fmt: str, name: str) -> web.Response:
    return web.Response(body=data, headers={
        "Content-Type": CONTENT_TYPES[fmt],
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})
