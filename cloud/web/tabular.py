"""Writing tables as CSV (UTF-8 with BOM, so Excel on Chinese Windows opens it right) or .xlsx.

Cells are written as text except numbers (Decimals keep their exact digits in xlsx:
a Decimal is written as a number only when it round-trips through float unchanged, otherwise
as text), so amounts in fen never drift.

Text cells are written inert (OWASP "CSV injection"): a text that Excel, WPS or LibreOffice
would run as a formula — one starting with ``= + - @``, TAB or CR, e.g. an owner named
``=HYPERLINK("http://evil","点击")`` — gets a leading ``'`` in CSV, and in .xlsx is written as
a string cell with the quotePrefix style (shown as typed, never evaluated, not even after
editing the cell; its value is unchanged, so the file imports back as it was). Numbers are not
text: a negative amount stays a number.
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
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from cloud.web.errors import bad_param

Format = Literal["csv", "xlsx"]
CONTENT_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
#: First characters that make a spreadsheet read a text cell as a formula (OWASP).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def live(text: str) -> bool:
    """Whether a spreadsheet would evaluate ``text`` typed or opened as a cell."""
    return text.startswith(FORMULA_START)


def inert(text: str) -> str:
    """``text`` as a CSV cell no spreadsheet runs: a leading ``'`` when it would be a formula."""
    return "'" + text if live(text) else text


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | Decimal):
        return str(value)  # a number, negative ones too, is never a formula
    return inert(str(value))


def _cell(ws: WriteOnlyWorksheet, value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return "" if value is None else str(value).lower()
    if isinstance(value, int | float):
        return value
    if isinstance(value, Decimal):
        return float(value) if Decimal(repr(float(value))) == value else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", str(value))  # openpyxl refuses them
    if not (live(text) or text in ERROR_CODES):
        return text
    cell = WriteOnlyCell(ws, value=text)
    cell.data_type = "s"  # openpyxl made "=…" a formula and "#N/A" an error
    cell.quotePrefix = True
    return cell


def write_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], fmt: Format,
                sheet: str = "Sheet1") -> bytes:
    """The table as file bytes in ``fmt``; ``rows`` may be a generator (streamed once)."""
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow([_text(h) for h in headers])
        for row in rows:
            w.writerow([_text(v) for v in row])
        return ("\ufeff" + buf.getvalue()).encode("utf-8")
    if fmt == "xlsx":
        wb = Workbook(write_only=True)
        ws = wb.create_sheet(sheet[:31])
        ws.append([_cell(ws, h) for h in headers])
        for row in rows:
            ws.append([_cell(ws, v) for v in row])
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
