"""Reading an uploaded sheet: .xlsx (openpyxl, read-only) or CSV in UTF-8 (with or without
BOM) or GB18030, as Excel on Chinese Windows saves it.

Rows are numbered as the user sees them in the sheet (the header is row 1), so an error
message points at the right line in Excel or WPS.

An upload is bounded before it is parsed, because parsing costs far more than the bytes: a
0.8 MB .xlsx holds 100,000 rows (minutes of CPU and GBs of RAM to import). A file may have
``MAX_ROWS`` rows below its header and ``MAX_COLUMNS`` columns. An .xlsx is a zip: the sizes
its members declare (``zipfile`` never unpacks more than a member declares) are summed and
checked against ``MAX_UNZIPPED``, each large member's packing ratio against ``MAX_RATIO``,
and its row elements counted from the unpacked stream — all before openpyxl opens it (which
would parse every sheet whole just to find its size). openpyxl parses the XML through
defusedxml (checked at import), so entity declarations ("billion laughs") are refused.

A CSV cell ``'=…`` (a leading ``'`` before ``= + - @``, TAB or CR) is read without its
``'``: that is how exports write text a spreadsheet would otherwise run as a formula, so an
export imports back unchanged.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import openpyxl.xml
from defusedxml import DefusedXmlException
from openpyxl import load_workbook

from cloud.imports.templates import COMMENT
from cloud.web.tabular import FORMULA_START

#: Larger uploads are refused with 413 (a 50,000-unit CSV is about 3 MB).
MAX_BYTES = 32 * 1024 * 1024
#: Rows below the header, blank and note rows included (they are read too). An .xlsx of
#: 20,000 rows takes a few seconds to read; split a larger register into several files.
MAX_ROWS = 20_000
#: Columns of a row; a template has at most 12.
MAX_COLUMNS = 256
#: What an .xlsx may unpack to, all members together (20,000 rows of ten columns: ~12 MB).
MAX_UNZIPPED = 64 * 1024 * 1024
#: Unpacked ÷ packed bytes of a member over ``RATIO_FLOOR`` (spreadsheet XML packs ~15:1).
MAX_RATIO = 200
RATIO_FLOOR = 1024 * 1024
#: Members of an .xlsx (a workbook has a dozen or two).
MAX_MEMBERS = 1000
_READ = 1024 * 1024
#: A row element with a namespace prefix (``<x:row r="1">``); plain ``<row`` is counted by
#: ``bytes.count``, ten times faster than the regular expression.
_PREFIXED_ROW = re.compile(rb"<[A-Za-z_][\w.-]*:row[\s/>]")
_PLAIN_ROW = (b"<row ", b"<row>", b"<row/", b"<row\n", b"<row\r", b"<row\t")
#: What Excel, WPS and LibreOffice write: zipfile unpacks these a bounded piece at a time.
_PACKINGS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, NotImplementedError,
               EOFError, OSError, zlib.error)

if not openpyxl.xml.DEFUSEDXML:  # pragma: no cover - defusedxml is a dependency
    raise ImportError("openpyxl must parse through defusedxml (unset OPENPYXL_DEFUSEDXML)")


class SheetError(ValueError):
    """The file itself cannot be read (not an error of one row)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


class TooLarge(SheetError):
    """The file is over one of the limits (HTTP 413): ``limit`` and, where known, ``count``."""

    def __init__(self, zh: str, en: str, limit: int, count: int | None = None) -> None:
        super().__init__(zh, en)
        self.limit, self.count = limit, count


def _too_many_rows(count: int, exact: bool = True) -> TooLarge:
    n_zh, n_en = (f"{count:,}", f"{count:,}") if exact else (f"超过 {count - 1:,}",
                                                             f"more than {count - 1:,}")
    return TooLarge(f"文件行数过多：表头以下有 {n_zh} 行，每个文件最多 {MAX_ROWS:,} 行，"
                    "请拆分后分批导入",
                    f"too many rows: {n_en} below the header; at most {MAX_ROWS:,} per file, "
                    f"split it into several imports", MAX_ROWS, count if exact else None)


def _too_many_columns(count: int) -> TooLarge:
    return TooLarge(f"文件列数过多：{count:,} 列，最多 {MAX_COLUMNS} 列",
                    f"too many columns: {count:,}; at most {MAX_COLUMNS}", MAX_COLUMNS, count)


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


def _unreadable(exc: BaseException) -> SheetError:
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, DefusedXmlException):
        cause = cause.__cause__ or cause.__context__  # openpyxl wraps what the parser raised
    if cause is not None:
        return SheetError("文件含有 XML 实体或外部引用声明（可能是恶意构造的文件），已拒绝",
                          "the file declares XML entities or external references (a crafted "
                          "file?); refused")
    text = str(exc)[:200]
    return SheetError(f"无法读取 .xlsx 文件：{text}", f"cannot read the .xlsx file: {text}")


def _row_elements(buf: bytes) -> int:
    count = sum(buf.count(plain) for plain in _PLAIN_ROW)
    return count + (len(_PREFIXED_ROW.findall(buf)) if b":row" in buf else 0)


def _rows_in(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """Row elements in a member, counted from its unpacked stream a megabyte at a time."""
    count, carry = 0, b""
    with archive.open(info) as member:
        while chunk := member.read(_READ):
            buf = carry + chunk
            cut = buf.rfind(b"<")  # a match holds no "<" past its first: none spans the cut
            if cut < 0 or len(buf) - cut > 256:
                cut = len(buf)
            count += _row_elements(buf[:cut])
            carry = buf[cut:]
    return count + _row_elements(carry)


def check_xlsx(data: bytes) -> None:
    """Refuse an .xlsx over the limits from its zip directory and a scan of its rows, before
    any XML is parsed (``TooLarge``, or ``SheetError`` for a broken zip)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_MEMBERS:
                raise TooLarge(f".xlsx 中的文件过多：{len(infos):,} 个，最多 {MAX_MEMBERS:,} 个",
                               f"the .xlsx holds too many parts: {len(infos):,}; at most "
                               f"{MAX_MEMBERS:,}", MAX_MEMBERS, len(infos))
            odd = next((i for i in infos if i.compress_type not in _PACKINGS), None)
            if odd is not None:  # bzip2 and lzma unpack a whole read at once, unbounded
                raise SheetError(f".xlsx 中 {odd.filename[:80]} 的压缩方式不受支持",
                                 f"{odd.filename[:80]} in the .xlsx is packed with a method "
                                 "other than deflate")
            unzipped = sum(i.file_size for i in infos)
            if unzipped > MAX_UNZIPPED:
                mib, cap = unzipped / 2**20, MAX_UNZIPPED // 2**20
                raise TooLarge(f".xlsx 解压后过大：{mib:,.0f} MiB，最多 {cap} MiB",
                               f"the .xlsx unpacks to {mib:,.0f} MiB; at most {cap} MiB",
                               MAX_UNZIPPED, unzipped)
            for i in infos:
                if i.file_size > RATIO_FLOOR and i.file_size > MAX_RATIO * max(i.compress_size,
                                                                               1):
                    ratio = i.file_size // max(i.compress_size, 1)
                    raise TooLarge(
                        f".xlsx 中 {i.filename[:80]} 的压缩比异常（{ratio:,}:1，最多 "
                        f"{MAX_RATIO}:1），疑似压缩炸弹",
                        f"{i.filename[:80]} in the .xlsx packs {ratio:,}:1 (at most "
                        f"{MAX_RATIO}:1): a zip bomb?", MAX_RATIO, ratio)
            rows = sum(_rows_in(archive, i) for i in infos if not i.is_dir())
    except _ZIP_ERRORS as exc:
        raise _unreadable(exc) from None
    if rows - 1 > MAX_ROWS:
        raise _too_many_rows(rows - 1)


def _xlsx_rows(data: bytes) -> Iterator[list[Any]]:
    check_xlsx(data)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (KeyError, ValueError, SyntaxError, *_ZIP_ERRORS) as exc:
        raise _unreadable(exc) from None
    try:
        ws = wb.worksheets[0]
        if ws.max_row is not None and ws.max_row - 1 > MAX_ROWS:  # the declared dimension
            raise _too_many_rows(ws.max_row - 1)
        if ws.max_column is not None and ws.max_column > MAX_COLUMNS:
            raise _too_many_columns(ws.max_column)
        for row in ws.iter_rows(values_only=True):  # rows as wide as declared or filled
            yield list(row)
    except SheetError:
        raise
    except (KeyError, ValueError, SyntaxError, *_ZIP_ERRORS) as exc:
        raise _unreadable(exc) from None
    finally:
        wb.close()


def _unquote(cell: Any) -> Any:
    """A cell an export wrote inert (``'=…``) as it was."""
    if isinstance(cell, str) and cell.startswith("'") and cell[1:].startswith(FORMULA_START):
        return cell[1:]
    return cell


def read_sheet(data: bytes) -> Sheet:
    """The first sheet of an .xlsx, or the CSV; the first non-blank row is the header."""
    if len(data) > MAX_BYTES:
        mib = MAX_BYTES // 2**20
        raise TooLarge(f"文件过大：最多 {mib} MiB，请拆分后分批导入",
                       f"file too large: at most {mib} MiB; split it into several imports",
                       MAX_BYTES, len(data))
    if not data.strip():
        raise SheetError("文件为空", "the file is empty")
    xlsx = data[:4] == b"PK\x03\x04"
    rows = _xlsx_rows(data) if xlsx else _csv_rows(_decode(data))
    sheet: Sheet | None = None
    below = 0  # rows read below the header
    try:
        for number, cells in enumerate(rows, start=1):
            if len(cells) > MAX_COLUMNS:
                raise _too_many_columns(len(cells))
            if sheet is None:
                if _blank(cells):
                    continue
                sheet = Sheet([("" if c is None else str(c)).strip() for c in cells])
                continue
            below += 1
            if below > MAX_ROWS:
                if xlsx:  # not read on: each row costs (its rows were counted before)
                    raise _too_many_rows(below, exact=False)
                raise _too_many_rows(below + sum(1 for _ in rows))  # cheap for a CSV
            if _keep(cells):
                sheet.rows.append((number, [_unquote(c) for c in cells]))
    except csv.Error as exc:
        raise SheetError(f"CSV 格式错误：{exc}", f"malformed CSV: {exc}") from None
    if sheet is None:
        raise SheetError("文件没有表头行", "the file has no header row")
    return sheet
