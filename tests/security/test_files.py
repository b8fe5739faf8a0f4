"""Files as an attack: formulas planted in names come out of every export inert; a photo whose
header claims 7000 × 7000 pixels is refused from its header before anything decodes it (well
under 50 ms and 50 MB); spreadsheets built to cost minutes and gigabytes to import (100,000
rows in 0.8 MB, a zip bomb, billion laughs) are refused quickly with the limit named."""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import re
import struct
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import cv2
import numpy as np
import pytest
from aiohttp.test_utils import TestClient, TestServer
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import cloud.imports.reader as reader
import cloud.workorders.photos as photos
from cloud.app import create_app
from cloud.db.engine import make_engine, session_factory
from cloud.db.models import Site
from cloud.imports.reader import MAX_ROWS, SheetError, TooLarge, read_sheet
from cloud.records.tables import Unit
from cloud.settings import Settings
from cloud.web.tabular import FORMULA_START, write_table
from cloud.workorders.photos import MAX_PIXELS, NotAnImage, prepare
from contract import FakeClock
from tests.records.conftest import T0, Console, error_of
from tests.support.auth import admin_headers
from tests.support.services import migrated_sqlite_copy

#: What an attacker types as a name: each would run in Excel, WPS or LibreOffice.
PAYLOADS = ('=HYPERLINK("http://x","y")', "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1")
MB = 1024 * 1024
NUMBER = re.compile(r"-?\d+(\.\d+)?")


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    """The console on SQLite (what is tested here does not depend on the database)."""
    url = migrated_sqlite_copy(tmp_path / "cloud.db")
    engine = make_engine(url)
    sessions: async_sessionmaker[AsyncSession] = session_factory(engine)
    async with sessions() as session, session.begin():
        session.add(Site(slug="garden", name="花园小区"))
    client = TestClient(TestServer(create_app(Settings(database_url=url), sessions,
                                              FakeClock(T0))))
    await client.start_server()
    try:
        yield Console(client, FakeClock(T0), sessions, await admin_headers(sessions))
    finally:
        await client.close()
        await engine.dispose()


class Measured:
    seconds = 0.0
    peak_bytes = 0


@contextlib.contextmanager
def measured() -> Iterator[Measured]:
    """Wall time and tracemalloc peak (Python and numpy allocations) of the block."""
    m = Measured()
    tracemalloc.start()
    start = time.perf_counter()
    try:
        yield m
    finally:
        m.seconds = time.perf_counter() - start
        m.peak_bytes = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


# --- exports ------------------------------------------------------------------------------


def _csv_cells(raw: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def _assert_inert_csv(raw: bytes) -> list[list[str]]:
    """Every cell is text a spreadsheet shows as typed, or a plain (maybe negative) number."""
    rows = _csv_cells(raw)
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_START) or NUMBER.fullmatch(cell), (cell, row)
    return rows


def _assert_inert_xlsx(raw: bytes) -> list[list[Any]]:
    ws = load_workbook(io.BytesIO(raw)).worksheets[0]
    values = []
    for row in ws.iter_rows():
        for cell in row:
            assert cell.data_type != "f", (cell.coordinate, cell.value)
            if isinstance(cell.value, str) and cell.value.startswith(FORMULA_START):
                assert cell.data_type == "s" and cell.quotePrefix, (cell.coordinate, cell.value)
        values.append([c.value for c in row])
    return values


async def _register(c: Console) -> None:
    await c.call("POST", "/api/buildings", 201, {"site": "garden", "code": "1", "name": "1号楼"})
    await c.call("POST", "/api/units", 201, {"site": "garden", "building": "1",
                                             "code": "1-1-101", "area": "89.5"})
    for i, name in enumerate(PAYLOADS):
        await c.call("POST", "/api/owners", 201, {"site": "garden", "unit": "1-1-101",
                                                  "name": name, "phone": f"1380013800{i}"})
        await c.call("POST", "/api/vehicles", 201, {"site": "garden", "plate": f"粤B1234{i}",
                                                    "holder": name, "unit": "1-1-101"})


async def test_formula_names_come_out_of_owner_and_vehicle_exports_inert(
        console: Console) -> None:
    c = console
    await _register(c)
    stored = [p.strip() for p in PAYLOADS]  # the register trims names: "\t=1" is "=1"
    for kind, column in (("owners", "姓名 name"), ("vehicles", "车主 holder")):
        rows = _assert_inert_csv(await c.call(
            "GET", f"/api/{kind}/export?site=garden&format=csv", 200))
        names = [r[rows[0].index(column)] for r in rows[1:]]
        assert sorted(names) == sorted("'" + s for s in stored), names
        sheet = _assert_inert_xlsx(await c.call(
            "GET", f"/api/{kind}/export?site=garden&format=xlsx", 200))
        assert sorted(r[sheet[0].index(column)] for r in sheet[1:]) == sorted(stored)

    # The neutralised files import back as they were: the ' is not taken into the names.
    for fmt in ("csv", "xlsx"):
        exported = await c.call("GET", f"/api/owners/export?site=garden&format={fmt}", 200)
        form = aiohttp.FormData()
        form.add_field("file", exported, filename=f"owners.{fmt}")
        back = await c.call("POST", "/api/imports/owners?site=garden&dry_run=false", 200,
                            data=form)
        assert (back["unchanged"], back["created"], back["updated"]) == (len(stored), 0, 0), back


async def test_negative_money_stays_a_number_and_free_text_is_inert(console: Console) -> None:
    c = console
    await c.call("POST", "/api/buildings", 201, {"site": "garden", "code": "1", "name": "1号楼"})
    await c.call("POST", "/api/units", 201, {"site": "garden", "building": "1",
                                             "code": "1-1-101", "area": "89.5"})
    pay = await c.call("POST", "/api/payments", 201, {
        "site": "garden", "unit": "1-1-101", "amount": "200.00", "method": "wechat",
        "reference": '=HYPERLINK("http://x","y")', "idempotency_key": "k1", "prepay": True})
    rev = await c.call("POST", f"/api/payments/{pay['id']}/reverse", 201, {"reason": "录错"})
    assert rev["amount"] == "-200.00"

    rows = _assert_inert_csv(await c.call(
        "GET", "/api/payments/export?site=garden&format=csv", 200))
    amount, ref = rows[0].index("金额 amount"), rows[0].index("凭证号 reference")
    assert sorted(r[amount] for r in rows[1:]) == ["-200.00", "200.00"]  # no ' on numbers
    assert {r[ref] for r in rows[1:]} >= {"'=HYPERLINK(\"http://x\",\"y\")"}

    raw = await c.call("GET", "/api/payments/export?site=garden&format=xlsx", 200)
    _assert_inert_xlsx(raw)
    ws = load_workbook(io.BytesIO(raw)).worksheets[0]
    cells = [row[amount] for row in ws.iter_rows(min_row=2)]
    assert sorted(cell.value for cell in cells) == [-200, 200]
    assert all(cell.data_type == "n" for cell in cells)


def test_the_kit_neutralises_every_trigger_and_only_text() -> None:
    rows = [[*PAYLOADS, "#N/A", "plain", Decimal("-5.00"), -3, 2.5]]
    headers = ["=h", *(f"c{i}" for i in range(10))]
    csv_rows = _assert_inert_csv(write_table(headers, rows, "csv"))
    assert csv_rows[1][:6] == ["'" + p for p in PAYLOADS]
    assert csv_rows[1][6:] == ["#N/A", "plain", "-5.00", "-3", "2.5"]
    sheet = _assert_inert_xlsx(write_table(headers, rows, "xlsx"))
    assert sheet[0][0] == "=h"
    assert sheet[1][:4] == list(PAYLOADS[:4]) and sheet[1][6:] == ["#N/A", "plain", -5, -3, 2.5]


# --- photo uploads ------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int, idat: bytes, ihdr_tail: bytes = b"\x08\x02\x00\x00\x00"
         ) -> bytes:
    ihdr = struct.pack(">II", width, height) + ihdr_tail
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat)
            + _chunk(b"IEND", b""))


@functools.cache
def _png_bomb() -> bytes:
    """7000 × 7000 RGB of zeros, fully encoded: 147 MB of pixels in ~140 KB of file."""
    z = zlib.compressobj(9)
    row = bytes(1 + 7000 * 3)
    return _png(7000, 7000, b"".join(z.compress(row) for _ in range(7000)) + z.flush())


def _tiny_png_bomb() -> bytes:
    """The 7000 × 7000 header with a few hundred bytes of data (what was reported)."""
    return _png(7000, 7000, zlib.compress(bytes(100_000), 9))


def _jpeg(width: int = 64, height: int = 48, progressive: bool = False) -> bytes:
    img = (np.random.default_rng(3).random((height, width, 3)) * 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_PROGRESSIVE, int(progressive)])
    assert ok
    return bytes(buf.tobytes())


def _with_sof(jpeg: bytes, width: int, height: int) -> bytes:
    out = bytearray(jpeg)
    sof = out.index(b"\xff\xc0")
    out[sof + 5:sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(out)


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times the upload path called the decoder."""
    calls: list[int] = []
    real = cv2.imdecode

    def spy(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(photos.cv2, "imdecode", spy)
    return calls


BOMBS: dict[str, Callable[[], bytes]] = {
    "png-full": _png_bomb, "png-tiny": _tiny_png_bomb,
    "jpeg-7000": lambda: _with_sof(_jpeg(), 7000, 7000),
    "jpeg-65535": lambda: _with_sof(_jpeg(), 65535, 65535)}


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_a_pixel_bomb_is_refused_from_its_header_in_under_50_ms_and_50_mb(
        bomb: str, decodes: list[int]) -> None:
    raw = BOMBS[bomb]()
    assert len(raw) < 8 * MB
    with measured() as m, pytest.raises(NotAnImage) as refused:
        prepare(raw)
    assert "too many pixels" in refused.value.en and f"{MAX_PIXELS:,}" in refused.value.en
    assert "像素过多" in refused.value.zh
    assert decodes == []  # nothing was decoded
    assert m.seconds < 0.050 and m.peak_bytes < 50 * MB, (m.seconds, m.peak_bytes)


async def _order(c: Console) -> int:
    order = await c.call("POST", "/api/workorders", 201, {
        "site": "garden", "category": "plumbing", "title": "3-2-101 厨房漏水",
        "request_id": "app-1", "requested_by": "3-2-101 业主"})
    return int(order["id"])


async def test_the_pixel_bomb_upload_is_refused_with_400_naming_the_body(
        console: Console, decodes: list[int]) -> None:
    c = console
    oid = await _order(c)
    bomb = _png_bomb()
    with measured() as m:
        resp = await c.client.post(f"/api/workorders/{oid}/photos", data=bomb,
                                   headers={**c.headers, "Content-Type": "image/png"})
        body = await resp.json()
    assert resp.status == 400, body
    assert error_of(body)["field"] == "body" and "7000×7000" in body["error"]["message"]
    assert decodes == [] and m.peak_bytes < 50 * MB, m.peak_bytes
    assert (await c.call("GET", f"/api/workorders/{oid}/photos", 200))["photos"] == []


def _segments(*segs: tuple[int, bytes]) -> bytes:
    return b"".join(b"\xff" + bytes([m]) + struct.pack(">H", len(p) + 2) + p for m, p in segs)


SOI = b"\xff\xd8"
APP0 = (0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
SOF_64 = (0xC0, b"\x08\x00\x30\x00\x40\x03\x01\x11\x00\x02\x11\x01\x03\x11\x01")


@pytest.mark.parametrize("raw", [
    pytest.param(b"\x89PNG\r\n\x1a\n", id="png-signature-only"),
    pytest.param(_png(64, 48, b"")[:24], id="png-ihdr-cut"),
    pytest.param(_png(64, 48, b"")[:29] + b"\0\0\0\0", id="png-ihdr-bad-crc"),
    pytest.param(_png(0, 48, b""), id="png-zero-width"),
    pytest.param(_png(64, 48, b"", b"\x07\x02\x00\x00\x00"), id="png-bad-depth"),
    pytest.param(_png(64, 48, b"")[:8] + _chunk(b"tEXt", b"a\0b") + _png(64, 48, b"")[8:],
                 id="png-ihdr-not-first"),
    pytest.param(SOI + b"\xff", id="jpeg-soi-only"),
    pytest.param(SOI + _segments(APP0), id="jpeg-no-frame-header"),
    pytest.param(SOI + _segments(APP0)[:10], id="jpeg-app0-cut"),
    pytest.param(SOI + _segments(APP0, (0xDA, b"\x01\x01\x00\x00\x3f\x00")) + b"\0" * 64,
                 id="jpeg-scan-before-frame"),
    pytest.param(SOI + _segments(APP0, (0xC0, b"\x08\x00\x00\x00\x40\x01\x01\x11\x00"))
                 + b"\0" * 64, id="jpeg-height-later-dnl"),
    pytest.param(SOI + _segments(APP0) + b"\xff\xc0\x00\x01" + b"\0" * 64,
                 id="jpeg-length-under-2"),
    pytest.param(SOI + _segments(APP0) + b"garbage" + _segments(SOF_64), id="jpeg-stray-bytes"),
    pytest.param(SOI + _segments(APP0) + _segments(SOF_64)[:9], id="jpeg-frame-header-cut"),
    pytest.param(SOI + _segments(*[(0xFE, b"x")] * 5000, SOF_64), id="jpeg-endless-segments"),
    pytest.param(SOI + _segments(APP0, SOF_64) + b"\xff\xda\x00\x02" * 500,
                 id="jpeg-scan-bomb"),
])
def test_an_unreadable_header_is_refused_not_counted_as_zero_pixels(
        raw: bytes, decodes: list[int]) -> None:
    with measured() as m, pytest.raises(NotAnImage) as refused:
        prepare(raw)
    assert refused.value.zh and refused.value.en
    assert decodes == [] and m.seconds < 0.050, m.seconds


@pytest.mark.parametrize("image", [
    pytest.param(lambda: _jpeg(640, 480), id="jpeg-baseline"),
    pytest.param(lambda: _jpeg(640, 480, progressive=True), id="jpeg-progressive"),
    pytest.param(lambda: bytes(cv2.imencode(".png", np.full((480, 640, 3), 40000, np.uint16)
                                            )[1].tobytes()), id="png-16-bit"),
    pytest.param(lambda: bytes(cv2.imencode(".png", np.zeros((480, 640), np.uint8)
                                            )[1].tobytes()), id="png-grey"),
])
def test_ordinary_photos_still_pass(image: Callable[[], bytes]) -> None:
    photo = prepare(image())
    assert (photo.width, photo.height) == (640, 480)


# --- imports ------------------------------------------------------------------------------


@functools.cache
def _xlsx_100k() -> bytes:
    """100,000 rows below the header in ~0.8 MB (openpyxl write-only, no dimension)."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("units")
    ws.append(["房号 unit_code"])
    for i in range(100_000):
        ws.append([i])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _small_xlsx() -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["房号 unit_code", "楼栋 building_code", "建筑面积 area"])
    ws.append(["1-1-101", "1", 89.5])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _rezip(base: bytes, replace: dict[str, bytes] | None = None,
           add: dict[str, bytes] | None = None) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(base))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            z.writestr(info.filename, (replace or {}).get(info.filename, src.read(info)))
        for name, data in (add or {}).items():
            z.writestr(name, data)
    return out.getvalue()


def _laughs() -> bytes:
    """A worksheet whose one cell expands to 10⁹ "lol"s (3 GB) through nested entities."""
    entities = [b'<!ENTITY lol0 "lol">'] + [
        b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10) for i in range(1, 10)]
    return (b'<?xml version="1.0"?><!DOCTYPE lolz [' + b"".join(entities) + b"]>"
            b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
            b"</sheetData></worksheet>")


async def _import(c: Console, data: bytes, name: str, status: int) -> dict[str, Any]:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name)
    out: dict[str, Any] = await c.call("POST", "/api/imports/units?site=garden&dry_run=true",
                                       status, data=form)
    return out


async def test_a_100k_row_sheet_is_refused_with_the_limit_and_the_count(
        console: Console) -> None:
    c = console
    sheets = {"units.xlsx": _xlsx_100k(),
              "units.csv": ("房号 unit_code\n" + "1-1-101\n" * 100_000).encode()}
    assert len(sheets["units.xlsx"]) < 1 * MB
    for name, data in sheets.items():
        with measured() as m:
            body = await _import(c, data, name, 413)
        err = error_of(body)
        assert (err["code"], err["field"], err["limit"], err["count"]) == (
            "too_large", "file", MAX_ROWS, 100_000), (name, err)
        assert "100,000" in err["message"] and f"{MAX_ROWS:,}" in err["message"]
        assert m.seconds < 3 and m.peak_bytes < 100 * MB, (name, m.seconds, m.peak_bytes)
    async with c.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Unit))).scalar() == 0


async def test_a_zip_bomb_is_refused_before_it_is_unpacked(
        console: Console) -> None:
    c = console
    base = _small_xlsx()
    packed = _rezip(base, add={"xl/media/image1.bin": bytes(50 * MB)})  # ~1000:1
    spread = _rezip(base, add={f"xl/media/image{i}.bin": bytes(MB) for i in range(80)})
    assert len(packed) < MB and len(spread) < MB
    for data, words in ((packed, ("200:1", "zip bomb")), (spread, ("MiB", "unpacks"))):
        with measured() as m:
            err = error_of(await _import(c, data, "units.xlsx", 413))
        assert err["code"] == "too_large" and err["field"] == "file"
        assert all(w in err["message"] for w in words), err
        assert m.seconds < 1 and m.peak_bytes < 20 * MB, (m.seconds, m.peak_bytes)


@pytest.mark.parametrize("member", ["xl/worksheets/sheet1.xml", "xl/sharedStrings.xml",
                                    "xl/workbook.xml"])
async def test_billion_laughs_in_an_xlsx_is_refused_quickly(
        console: Console, member: str) -> None:
    base = _small_xlsx()
    if member == "xl/sharedStrings.xml":  # openpyxl writes inline strings: declare the part
        types = zipfile.ZipFile(io.BytesIO(base)).read("[Content_Types].xml").replace(
            b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
            b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
        base = _rezip(base, replace={"[Content_Types].xml": types}, add={member: b""})
    with measured() as m:
        body = await _import(console, _rezip(base, replace={member: _laughs()}), "units.xlsx", 400)
    err = error_of(body)
    assert err["code"] == "invalid_file" and err["field"] == "file"
    assert "XML" in err["message"] and "entities" in err["message"], err
    assert m.seconds < 1 and m.peak_bytes < 20 * MB, (m.seconds, m.peak_bytes)


async def test_a_member_packed_other_than_deflate_is_refused_unopened(
        console: Console) -> None:
    """bzip2 unpacks each read whole (up to millions to one): only deflate is opened."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        src = zipfile.ZipFile(io.BytesIO(_small_xlsx()))
        for info in src.infolist():
            z.writestr(info.filename, src.read(info))
        z.writestr("xl/media/image1.bin", bytes(MB), compress_type=zipfile.ZIP_BZIP2)
    err = error_of(await _import(console, out.getvalue(), "units.xlsx", 400))
    assert err["field"] == "file" and "deflate" in err["message"], err


def _sheet_xml(dimension: str | None, rows: str) -> bytes:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
            b'spreadsheetml/2006/main">' + dim.encode() + b"<sheetData>" + rows.encode()
            + b"</sheetData></worksheet>")


HEADER_ROW = '<row r="1"><c r="A1" t="inlineStr"><is><t>房号 unit_code</t></is></c></row>'


@pytest.mark.parametrize(("sheet", "words"), [
    pytest.param(_sheet_xml("A1:A1048576", HEADER_ROW), "1,048,575", id="declared-rows"),
    pytest.param(_sheet_xml("A1:XFD2", HEADER_ROW), "16,384", id="declared-columns"),
    pytest.param(_sheet_xml(None, HEADER_ROW + '<row r="1048576"><c r="A1048576"><v>1</v>'
                            "</c></row>"), "more than 20,000", id="sparse-rows"),
])
def test_sparse_and_wide_sheets_are_refused_before_they_are_padded_out(
        sheet: bytes, words: str) -> None:
    data = _rezip(_small_xlsx(), replace={"xl/worksheets/sheet1.xml": sheet})
    with measured() as m, pytest.raises(TooLarge) as refused:
        read_sheet(data)
    assert words in refused.value.en, refused.value.en
    assert m.seconds < 2 and m.peak_bytes < 20 * MB, (m.seconds, m.peak_bytes)


def test_a_file_over_the_byte_cap_is_refused_before_parsing_also_from_the_cli(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "MAX_BYTES", 1000)
    with pytest.raises(TooLarge) as refused:
        read_sheet(b"a,b\n" * 1000)
    assert refused.value.limit == 1000 and "MiB" in refused.value.en
    with pytest.raises(SheetError):
        read_sheet(b"PK\x03\x04 not a zip at all")
