"""Spreadsheet imports on SQLite and PostgreSQL: the dry run names every bad row and applies
nothing; an import applies all rows in one go; importing again changes nothing; a changed row
is updated with its audit row; CSV (UTF-8, GB18030) and .xlsx alike; large sheets as jobs;
the CLI."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from cloud.auth.tables import AuditEntry
from cloud.records.tables import Building, Unit
from tests.records.conftest import REPO, Console, error_of

UNITS_HEADER = "房号 unit_code,楼栋 building_code,楼层 floor,建筑面积 area,状态 status\n"
UNITS = UNITS_HEADER + (
    "1-1-101,1,1,89.50,occupied\n"
    "1-1-102,1,1,90,自住\n"
    "2-1-101,2,1,120.25,vacant\n")


def _xlsx(text: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for line in text.strip().split("\n"):
        cells: list[Any] = line.split(",")
        ws.append([float(c) if c.replace(".", "").isdigit() and "." in c else c
                   for c in cells])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


async def _upload(c: Console, kind: str, data: bytes, status: int, *, dry_run: bool = False,
                  site: str = "garden", name: str = "sheet.csv") -> Any:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name)
    return await c.call("POST", f"/api/imports/{kind}?site={site}&dry_run="
                        f"{'true' if dry_run else 'false'}", status, data=form)


async def _count(c: Console, model: Any) -> int:
    async with c.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_dry_run_lists_every_bad_row_and_applies_nothing(console: Console) -> None:
    c = console
    sheet = UNITS_HEADER + (
        "1-1-101,1,1,89.50,occupied\n"
        "1-1-102,1,1,0,occupied\n"         # row 3: area
        "1-1-103,1,x,80,sold\n"            # row 4: floor and status
        "\n"                               # blank rows are skipped, numbering is not
        ",1,1,80,vacant\n"                 # row 6: unit code missing
        "1-1-101,1,1,89.50,occupied\n")    # row 7: same unit as row 2
    for dry_run, status in ((True, 200), (False, 422)):
        result = await _upload(c, "units", sheet.encode(), status, dry_run=dry_run)
        got = [(e["row"], e["column"]) for e in result["errors"]]
        assert got == [(3, "建筑面积 area"), (4, "楼层 floor"), (4, "状态 status"),
                       (6, "房号 unit_code"), (7, "房号 unit_code")], got
        assert "须大于 0" in result["errors"][0]["zh"]
        assert "greater than 0" in result["errors"][0]["en"]
        assert "第 2 行" in result["errors"][-1]["zh"]
        assert result["applied"] is False and result["rows_total"] == 5
    assert await _count(c, Unit) == 0 and await _count(c, Building) == 0

    bad_header = await _upload(c, "units", "房号 unit_code,面积\n1,2\n".encode(), 200,
                               dry_run=True)
    assert {(e["row"], e["column"]) for e in bad_header["errors"]} == {
        (1, "面积"), (1, "楼栋 building_code"), (1, "建筑面积 area")}
    unknown = await c.call("POST", "/api/imports/units?site=garden", 400, data=b"\xff\xfe\x00")
    assert error_of(unknown)["field"] == "file"
    await c.call("POST", "/api/imports/people?site=garden", 404, data=b"a")
    await c.call("POST", "/api/imports/units?site=nowhere", 404, data=b"a")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_import_then_reimport_is_unchanged_and_a_changed_row_is_audited(
        console: Console, fmt: str) -> None:
    c = console
    data = UNITS.encode() if fmt == "csv" else _xlsx(UNITS)
    result = await _upload(c, "units", data, 200, name=f"units.{fmt}")
    assert (result["created"], result["updated"], result["unchanged"]) == (3, 0, 0)
    assert result["buildings_created"] == 2 and result["applied"] is True
    units = (await c.call("GET", "/api/units?site=garden", 200))["units"]
    assert [(u["code"], u["building"], u["area"], u["status"]) for u in units] == [
        ("1-1-101", "1", "89.50", "occupied"), ("1-1-102", "1", "90.00", "occupied"),
        ("2-1-101", "2", "120.25", "vacant")]

    again = await _upload(c, "units", data, 200, name=f"units.{fmt}")
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)

    changed = UNITS.replace("2-1-101,2,1,120.25,vacant", "2-1-101,2,1,120.25,rented")
    changed += "3-1-101,3,1,60,unsold\n"
    data = changed.encode() if fmt == "csv" else _xlsx(changed)
    result = await _upload(c, "units", data, 200, name=f"u.{fmt}")
    assert (result["created"], result["updated"], result["unchanged"]) == (1, 1, 2)
    unit = (await c.call("GET", "/api/units?site=garden&q=2-1-101", 200))["units"][0]
    history = (await c.call("GET", f"/api/units/{unit['id']}/history", 200))["history"]
    assert [h["action"] for h in history] == ["create", "update"]
    assert history[1]["before"] == {"status": "vacant"}
    assert history[1]["after"] == {"status": "rented"}
    assert history[1]["detail"]["import"] == "units"

    # The export is in the template's columns, so it imports back unchanged.
    exported = await c.call("GET", f"/api/units/export?site=garden&format={fmt}", 200)
    back = await _upload(c, "units", exported, 200, name=f"export.{fmt}")
    assert back["errors"] == [] and back["created"] == 0 and back["updated"] == 0
    assert back["unchanged"] == 4


async def test_owners_from_gb18030_csv_and_the_owners_export_is_masked_for_installers(
        console: Console) -> None:
    c = console
    await _upload(c, "units", UNITS.encode(), 200)
    owners = ("房号 unit_code,姓名 name,电话 phone,入住日期 move_in\n"
              "1-1-101,张三,13812345678,2024-05-01\n"
              "1-1-102,李四,13900001111,2024/6/1\n"
              "9-9-999,王五,13700000000,\n")
    bad = await _upload(c, "owners", owners.encode("gb18030"), 422)
    assert [(e["row"], e["column"]) for e in bad["errors"]] == [(4, "房号 unit_code")]
    assert "房屋不存在" in bad["errors"][0]["zh"]
    good = owners.rsplit("9-9-999", 1)[0]
    result = await _upload(c, "owners", good.encode("gb18030"), 200)
    assert result["created"] == 2
    again = await _upload(c, "owners", ("\ufeff" + good).encode("utf-8"), 200)
    assert again["unchanged"] == 2 and again["created"] == 0

    installer = await c.as_role("installer", ["garden"])
    csv_bytes = await c.call("GET", "/api/owners/export?site=garden", 200, headers=installer)
    text = csv_bytes.decode("utf-8-sig")
    assert "138****5678" in text and "13812345678" not in text and "张*" in text
    finance = await c.as_role("finance", ["garden"])
    csv_bytes = await c.call("GET", "/api/owners/export?site=garden", 200, headers=finance)
    assert "13812345678" in csv_bytes.decode("utf-8-sig")
    async with c.sessions() as session:
        views = (await session.scalars(select(AuditEntry).where(
            AuditEntry.action == "view"))).all()
    assert len(views) == 1 and views[0].detail is not None
    assert len(views[0].detail["ids"]) == 2


async def test_templates_have_bilingual_headers_and_import_as_nothing(console: Console) -> None:
    c = console
    for kind in ("units", "owners", "tenants", "vehicles", "spaces", "meters"):
        csv_bytes = await c.call("GET", f"/api/imports/templates/{kind}.csv", 200)
        header = csv_bytes.decode("utf-8-sig").splitlines()[0]
        assert header.split(",")[0].split(" ")[1] in ("unit_code", "plate", "lot",
                                                      "meter_code"), header
        result = await _upload(c, kind, csv_bytes, 200, dry_run=True)
        assert result["rows_total"] == 0 and result["errors"] == []
    xlsx = await c.call("GET", "/api/imports/templates/units.xlsx", 200)
    ws = load_workbook(io.BytesIO(xlsx), read_only=True).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "房号 unit_code" and str(rows[2][0]).startswith("#")
    await c.call("GET", "/api/imports/templates/bills.csv", 404)


async def test_vehicle_import_bumps_the_parking_version_once(console: Console) -> None:
    c = console
    await _upload(c, "units", UNITS.encode(), 200)
    sheet = ("车牌 plate,车主 holder,房号 unit_code,身份 role\n"
             "粤B12345,张三,1-1-101,业主\n"
             "粤B 54321,李四,1-1-102,tenant\n")
    result = await _upload(c, "vehicles", sheet.encode(), 200)
    assert result["created"] == 2 and result["version"] == 1
    parking = await c.call("GET", "/api/sites/garden/parking/vehicles", 200)
    assert parking["version"] == 1
    assert sorted(v["plate"] for v in parking["vehicles"]) == ["粤B12345", "粤B54321"]
    again = await _upload(c, "vehicles", sheet.encode(), 200)
    assert again["unchanged"] == 2 and again["version"] is None  # nothing new for the edge
    await c.call("PATCH", f"/api/vehicles/{parking['vehicles'][0]['id']}", 200,
                 {"lots": ["lot-a", "lot-b"]})
    exported = await c.call("GET", "/api/vehicles/export?site=garden&format=xlsx", 200)
    back = await _upload(c, "vehicles", exported, 200, name="vehicles.xlsx")
    assert back["unchanged"] == 2 and back["errors"] == []
    bad = await _upload(c, "vehicles", (sheet + "XYZ,王五,,owner\n").encode(), 422)
    assert [(e["row"], e["column"]) for e in bad["errors"]] == [(4, "车牌 plate")]
    assert (await c.call("GET", "/api/sites/garden/parking/vehicles", 200))["version"] == 2


async def test_a_large_import_runs_as_a_job_with_progress(console: Console) -> None:
    c = console
    rows = "".join(f"{b}-1-{r},{b},1,80,occupied\n" for b in range(1, 4) for r in range(800))
    started = await _upload(c, "units", (UNITS_HEADER + rows).encode(), 202)
    job = started["job"]
    assert job["rows_total"] == 2400 and started["url"] == f"/api/imports/jobs/{job['id']}"
    for _ in range(600):
        job = await c.call("GET", started["url"], 200)
        if job["state"] != "running":
            break
        await asyncio.sleep(0.05)
    assert job["state"] == "done" and job["rows_done"] == 2400
    assert job["result"]["created"] == 2400
    other = await c.as_role("admin")
    await c.call("GET", started["url"], 404, headers=other)  # someone else's job


async def test_oversized_upload_is_413(console: Console, monkeypatch: pytest.MonkeyPatch
                                       ) -> None:
    import cloud.imports.routes as api

    monkeypatch.setattr(api, "MAX_BYTES", 1000)
    c = console
    big = await c.call("POST", "/api/imports/units?site=garden", 413, data=b"x" * 5000,
                       headers={**c.headers, "Content-Type": "text/csv"})
    assert error_of(big)["code"] == "too_large" and "MiB" in big["error"]["message"]
    form = aiohttp.FormData()
    form.add_field("file", b"y" * 5000, filename="big.csv")
    big = await c.call("POST", "/api/imports/units?site=garden", 413, data=form)
    assert error_of(big)["field"] == "file"


def test_cli_import_reports_bad_rows_as_file_row_column_and_exits_2(
        tmp_path: Path, sqlite_url: str) -> None:
    env = {**os.environ, "COURTYARD_DATABASE_URL": sqlite_url,
           "COURTYARD_SITE_CREDENTIALS": "garden:secret-garden-1234"}
    good = tmp_path / "units.csv"
    good.write_text(UNITS, encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text(UNITS_HEADER + "1-1-101,1,1,-5,occupied\n", encoding="utf-8")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "courtyard", "records", *args], env=env,
                              cwd=REPO, capture_output=True, text=True, timeout=120)

    out = run("import", "units", str(bad), "--site", "garden", "--dry-run")
    assert out.returncode == 2, out.stderr
    assert f"{bad}:2:建筑面积 area: 须大于 0" in out.stderr and " — " in out.stderr
    out = run("import", "units", str(good), "--site", "garden")
    assert out.returncode == 0, out.stderr
    assert "created 3" in out.stdout and "rows" in out.stderr  # plain progress lines
    out = run("import", "units", str(good), "--site", "garden")
    assert out.returncode == 0 and "unchanged 3" in out.stdout
    out = run("template", "meters", "-o", str(tmp_path / "m.xlsx"), "--format", "xlsx")
    assert out.returncode == 0 and (tmp_path / "m.xlsx").stat().st_size > 0
