"""Reading an uploaded sheet: .xlsx (openpyxl, read-only) or CSV in UTF-8 (with or without
BOM) or GB18030, as Excel on Chinese Windows saves it.

Rows are numbered as the user sees them in the sheet (the header is row 1), so an error
message points at the right line in Excel or WPS.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from openpyxl import load_workbook

from cloud.imports.templates import COMMENT

#: Larger uploads are refused with 413 (a 50,000-unit CSV is about 3 MB).
MAX_BYTES = 32 * 1024 * 1024


class SheetError(ValueError):
    """The file itself cannot be read (not an error of one row)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


@dataclass
class Sheet:
    headers: list[str]
    #: (row number in the sheet, cells); blank and comment rows are left out.
    rows: list[tuple[int, list[Any]]] = field(default_factory=list)


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise SheetError("文件不是 UTF-8 或 GB18030 编码的 CSV，也不是 .xlsx",
                         "the file is neither a CSV in UTF-8 or GB18030 nor an .xlsx") from None


def _blank(cells: list[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _keep(cells: list[Any]) -> bool:
    first = cells[0] if cells else None
    return not _blank(cells) and not (isinstance(first, str) and
                                      first.lstrip().startswith(COMMENT))


def _csv_rows(text: str) -> Iterator[list[Any]]:
    sample = text[:4096]
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def _xlsx_rows(data: bytes) -> Iterator[list[Any]]:
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise SheetError(f"无法读取 .xlsx 文件：{exc}", f"cannot read the .xlsx file: {exc}"
                         ) from None
    try:
        ws = wb.worksheets[0]
        for row in ws.iter_rows(values_only=True):
            yield list(row)
    finally:
        wb.close()


def read_sheet(data: bytes) -> Sheet:
    """The first sheet of an .xlsx, or the CSV; the first non-blank row is the header."""
    if not data.strip():
        raise SheetError("文件为空", "the file is empty")
    rows = _xlsx_rows(data) if data[:4] == b"PK\x03\x04" else _csv_rows(_decode(data))
    sheet: Sheet | None = None
    try:
        for number, cells in enumerate(rows, start=1):
            if sheet is None:
                if _blank(cells):
                    continue
                sheet = Sheet([("" if c is None else str(c)).strip() for c in cells])
                continue
            if _keep(cells):
                sheet.rows.append((number, cells))
    except csv.Error as exc:
        raise SheetError(f"CSV 格式错误：{exc}", f"malformed CSV: {exc}") from None
    if sheet is None:
        raise SheetError("文件没有表头行", "the file has no header row")
    return sheet
