"""Backup and restore through the command line, on real PostgreSQL and SQLite: a console
with data is backed up, restored into a new database and blob store, and a second console on
the copy answers every GET byte for byte as the first did; a tampered archive, an archive of
a newer schema and a non-empty target (without --force) are refused before anything is
written."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import shutil
import tarfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.engine import make_url

from cloud.app import create_app
from cloud.auth.audit import SYSTEM
from cloud.backup.database import known_revisions, table_names
from cloud.blobs import blob_store_from_settings
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.features import default_registry
from cloud.ingest import Ingestor
from cloud.sample_community import load_community
from cloud.settings import Settings
from contract import Batch, Envelope, FakeClock, encode_batch, priority_for, topics
from courtyard.cli import main as cli
from tests.support import services
from tests.support.auth import admin_headers
from tests.support.epochs import TEST_EPOCH

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "configs" / "billing" / "sample_community.yaml"
T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
SITE = "sunny"


@dataclass
class Target:
    """A database URL and the data dir (its ``blobs/`` is the blob store) of one console."""

    url: str
    data: Path

    @property
    def blobs(self) -> Path:
        return self.data / "blobs"


pytestmark = pytest.mark.usefixtures("restore_logging")  # the command line sets up logging


@pytest.fixture(params=["sqlite", "postgresql"])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Target, Target]]:
    """The original console's database (migrated) and an empty one to restore into."""
    if request.param == "sqlite":
        (tmp_path / "a").mkdir()
        yield (Target(services.migrated_sqlite_copy(tmp_path / "a" / "cloud.db"), tmp_path / "a"),
               Target(f"sqlite+aiosqlite:///{tmp_path / 'b' / 'cloud.db'}", tmp_path / "b"))
    else:
        with services.fresh_pg_database(migrated=True) as a, services.fresh_pg_database() as b:
            yield Target(a, tmp_path / "a"), Target(b, tmp_path / "b")


@asynccontextmanager
async def console(target: Target) -> AsyncIterator[TestClient[Any, Any]]:
    await migrate(target.url)
    engine = make_engine(target.url)
    sessions = session_factory(engine)
    app = create_app(Settings(database_url=target.url, data_dir=str(target.data)), sessions,
                     FakeClock(T0))
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
        await engine.dispose()


def jpeg(shade: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((16, 24, 3), shade, np.uint8))
    assert ok
    return bytes(buf.tobytes())


async def fill(target: Target) -> tuple[dict[str, str], list[str]]:
    """The sample community, residents, a payment, plate reads with an image, a blob in the
    store; an admin's headers and the GET paths to compare."""
    await migrate(target.url)
    engine = make_engine(target.url)
    sessions = session_factory(engine)
    try:
        async with sessions() as session, session.begin():
            doc = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
            await load_community(session, doc, SYSTEM, T0)
        headers = await admin_headers(sessions)
        # As the served console does: the images go to the blob store, events hold refs.
        store = blob_store_from_settings(Settings(database_url=target.url,
                                                  data_dir=str(target.data)))
        ingestor = Ingestor(sessions, FakeClock(T0), default_registry(), blobs=store)
        image = base64.b64encode(jpeg(90)).decode()
        envs = [Envelope(seq=seq, id=str(uuid.uuid4()), ts=T0 + timedelta(seconds=seq),
                         device="cam-in", kind="plate.read", priority=priority_for("plate.read"),
                         data={"v": 1, "camera": "cam-in", "vendor": "vzenith",
                               "plate_raw": plate, "colour_name": "blue", "confidence": 91,
                               "direction": "in", "offline": False,
                               "evidence_jpeg_b64": image if seq == 2 else None,
                               "crop_jpeg_b64": None})
                for seq, plate in ((1, "粤B12345"), (2, "粤B67890"))]
        result = await ingestor.handle(topics.up_events(SITE), encode_batch(
            Batch(epoch=TEST_EPOCH, site=SITE, events=envs)))
        assert result.ok, result
    finally:
        await engine.dispose()
    blob = jpeg(30)
    digest = hashlib.sha256(blob).hexdigest()
    (target.blobs / digest[:2] / digest[2:4]).mkdir(parents=True)
    (target.blobs / digest[:2] / digest[2:4] / digest).write_bytes(blob)
    async with console(target) as client:
        for unit, name in (("1-101", "张伟"), ("2-101", "李娜")):
            resp = await client.post("/api/owners", headers=headers, json={
                "site": SITE, "unit": unit, "name": name, "phone": "13812345678"})
            assert resp.status == 201, await resp.text()
        resp = await client.post("/api/payments", headers=headers, json={
            "site": SITE, "unit": "3-102", "amount": "120.00", "method": "wechat",
            "reference": "4200009999", "idempotency_key": "backup-test"})
        assert resp.status == 201, await resp.text()
    paths = [f"/api/owners?site={SITE}", f"/api/units?site={SITE}", f"/api/bills?site={SITE}",
             f"/api/payments?site={SITE}", f"/api/sites/{SITE}/events",
             f"/api/sites/{SITE}/parking/lanes",
             f"/api/sites/{SITE}/parking/reads/2/evidence.jpg?epoch={TEST_EPOCH}"]
    return headers, paths


async def answers(target: Target, headers: dict[str, str],
                  paths: list[str]) -> dict[str, tuple[int, bytes]]:
    async with console(target) as client:
        out = {}
        for path in paths:
            resp = await client.get(path, headers=headers)
            out[path] = (resp.status, await resp.read())
    return out


def blob_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


async def run(monkeypatch: pytest.MonkeyPatch, target: Target, *argv: str) -> int:
    """``courtyard cloud …`` against ``target`` (in a thread: it runs its own event loop)."""
    monkeypatch.setenv("COURTYARD_DATABASE_URL", target.url)
    monkeypatch.setenv("COURTYARD_DATA_DIR", str(target.data))
    return await asyncio.to_thread(cli, ["cloud", *argv])


def rewrite(src: Path, dst: Path, change: dict[str, bytes | None],
            extra: dict[str, bytes] | None = None) -> None:
    """A copy of the archive with members replaced (None: dropped) or added."""
    with tarfile.open(src) as tin, tarfile.open(dst, "w") as tout:
        for info in tin:
            f = tin.extractfile(info)
            assert f is not None
            data = f.read()
            if info.name in change:
                if change[info.name] is None:
                    continue
                data = change[info.name] or b""
            info.size = len(data)
            tout.addfile(info, io.BytesIO(data))
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tout.addfile(info, io.BytesIO(data))


async def test_a_restored_console_answers_as_the_original_did(
        pair: tuple[Target, Target], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    source, copy = pair
    headers, paths = await fill(source)
    before = await answers(source, headers, paths)
    assert all(status == 200 for status, _ in before.values()), before
    assert before[paths[-1]][1] == jpeg(90)
    shown = {p: json.loads(body) for p, (_, body) in before.items() if ".jpg" not in p}
    assert len(shown[paths[0]]["owners"]) == 2 and shown[paths[2]]["bills"]
    assert len(shown[paths[3]]["payments"]) >= 2 and len(shown[paths[4]]["events"]) == 2
    archive = tmp_path / "courtyard.tar.gz"

    assert await run(monkeypatch, source, "backup", str(archive)) == 0
    out = capsys.readouterr().out
    assert "备份完成 / backup written" in out
    with tarfile.open(archive) as tar:
        f = tar.extractfile("manifest.json")
        assert f is not None
        manifest = json.loads(f.read())
        for name, member in manifest["members"].items():
            data = tar.extractfile(name).read()  # type: ignore[union-attr]
            assert hashlib.sha256(data).hexdigest() == member["sha256"]
    assert manifest["format_version"] == 1
    assert manifest["alembic_revision"] == known_revisions()[1]
    assert manifest["created_at"].endswith("Z")
    assert manifest["tables"]["owners" if "owners" in manifest["tables"] else "residents"] == 2
    assert manifest["tables"]["events"] == 2 and manifest["tables"]["payments"] >= 2
    stored = blob_files(source.blobs)
    assert jpeg(30) in stored.values() and jpeg(90) in stored.values()  # the lane image too
    assert manifest["blobs"] == {"count": len(stored),
                                 "bytes": sum(len(b) for b in stored.values())}

    assert await run(monkeypatch, copy, "restore", str(archive)) == 0
    out = capsys.readouterr().out
    assert out.index("校验备份") < out.index("恢复数据库") < out.index("恢复完成")
    assert await answers(copy, headers, paths) == before
    assert blob_files(copy.blobs) == blob_files(source.blobs)

    # The copy now holds data: a second restore needs --force, and then gives the same.
    assert await run(monkeypatch, copy, "restore", str(archive)) == 2
    assert "--force" in capsys.readouterr().err
    assert await run(monkeypatch, copy, "restore", str(archive), "--force") == 0
    assert await answers(copy, headers, paths) == before


async def test_a_tampered_or_newer_archive_is_refused_before_anything_is_written(
        pair: tuple[Target, Target], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    source, copy = pair
    await fill(source)
    archive = tmp_path / "courtyard.tar"
    assert await run(monkeypatch, source, "backup", str(archive)) == 0
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        dump = tar.extractfile(names[0]).read()  # type: ignore[union-attr]
    assert names[0].startswith("database.") and names[-1] == "manifest.json"
    blob = next(n for n in names if n.startswith("blobs/"))
    newer = dict(manifest, alembic_revision="9999_from_the_future")
    cases: dict[str, tuple[dict[str, bytes | None], dict[str, bytes] | None, str]] = {
        "flipped": ({names[0]: dump[:-1] + bytes([dump[-1] ^ 1])}, None, "checksum"),
        "blob swapped": ({blob: jpeg(31)}, None, "checksum"),
        "member dropped": ({blob: None}, None, "missing"),
        "member added": ({}, {"../../etc/evil": b"x"}, "not in the manifest"),
        "newer schema": ({"manifest.json": json.dumps(newer).encode()}, None,
                         "9999_from_the_future"),
        "truncated": ({}, None, "truncated"),
    }
    capsys.readouterr()
    for case, (change, extra, why) in cases.items():
        bad = tmp_path / f"{case}.tar"
        rewrite(archive, bad, change, extra)
        if case == "truncated":
            bad.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
        assert await run(monkeypatch, copy, "restore", str(bad)) == 2, case
        err = capsys.readouterr().err
        assert why in err, (case, err)
        assert not copy.data.exists(), case  # no blob, no dump, no SQLite file written
    if not copy.url.startswith("sqlite"):
        engine = make_engine(copy.url)
        try:
            async with engine.connect() as conn:
                assert await conn.run_sync(table_names) == []
        finally:
            await engine.dispose()
    # The untouched archive still restores.
    assert await run(monkeypatch, copy, "restore", str(archive)) == 0


async def test_a_pg_dump_of_another_major_version_is_refused_naming_both(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    bin_dir = tmp_path / "pg9"
    bin_dir.mkdir()
    fake = bin_dir / "pg_dump"
    fake.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    fake.chmod(0o755)
    with services.fresh_pg_database(migrated=True) as url:
        target = Target(url, tmp_path / "data")
        assert await run(monkeypatch, target, "backup", str(tmp_path / "x.tar"),
                         "--pg-bin", str(bin_dir)) == 2
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                server = (await conn.execute(text("SHOW server_version"))).scalar_one().split()[0]
        finally:
            await engine.dispose()
    err = capsys.readouterr().err
    assert f"pg_dump 9.6.24 and the database server {server} differ" in err, err
    assert f"pg_dump 的版本 9.6.24 与数据库服务器的版本 {server}" in err
    assert not (tmp_path / "x.tar").exists()


async def test_the_password_reaches_pg_dump_in_its_environment_not_its_arguments(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = shutil.which("pg_dump")
    assert real is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    spy = bin_dir / "pg_dump"
    spy.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {tmp_path}/argv\n"
                   f"printf '%s' \"$PGPASSWORD\" > {tmp_path}/password\nexec {real} \"$@\"\n")
    spy.chmod(0o755)
    secret = "s3cr@t w0rd"
    with services.fresh_pg_database(migrated=True) as url:
        u = make_url(url)
        target = Target(u.set(password=secret).render_as_string(hide_password=False),
                        tmp_path / "data")
        assert await run(monkeypatch, target, "backup", str(tmp_path / "x.tar"),
                         "--pg-bin", str(bin_dir)) == 0
    argv = (tmp_path / "argv").read_text()
    assert (tmp_path / "password").read_text() == secret
    assert "--snapshot=" in argv and "s3cr" not in argv and "127.0.0.1" not in argv
