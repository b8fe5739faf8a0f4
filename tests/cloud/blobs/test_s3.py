"""The S3-compatible store against a real S3 server process that checks every signature:
round trip, idempotent puts, the object layout, a wrong secret refused by the server, bad refs
refused before any request, and ingest storing plate images there."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.blobs import BadRef, S3BlobStore, blob_store_from_settings, ref_of
from cloud.blobs.s3 import S3Error
from cloud.db.models import Event
from cloud.features import default_registry
from cloud.ingest import Ingestor
from cloud.settings import Settings, SettingsError
from contract import FakeClock, topics
from tests.cloud.blobs.plates import T0, envelope, jpeg, payload, read_data
from tests.cloud.blobs.s3_server import S3Server, s3_server


@pytest.fixture(scope="module")
def server() -> Iterator[S3Server]:
    with s3_server() as s:
        yield s


@pytest.fixture
async def store(server: S3Server) -> AsyncIterator[S3BlobStore]:
    s = S3BlobStore(server.endpoint, server.bucket, server.access_key, server.secret_key,
                    prefix="site-images")
    try:
        yield s
    finally:
        await s.close()


async def test_round_trip_and_layout(store: S3BlobStore, server: S3Server) -> None:
    image = jpeg(99)
    ref = await store.put(image, content_type="image/jpeg")
    assert ref == ref_of(image)
    assert await store.put(image, content_type="image/jpeg") == ref  # the same object again
    assert await store.get(ref) == image and await store.exists(ref)
    digest = ref[7:]
    client: Any = server.client()
    listed = client.list_objects_v2(Bucket=server.bucket, Prefix="site-images/")
    assert [o["Key"] for o in listed["Contents"]] == [
        f"site-images/{digest[:2]}/{digest[2:4]}/{digest}"]
    head = client.head_object(Bucket=server.bucket, Key=listed["Contents"][0]["Key"])
    assert head["ContentType"] == "image/jpeg" and head["ContentLength"] == len(image)
    assert await store.delete(ref) is True
    assert await store.get(ref) is None and not await store.exists(ref)
    assert await store.delete(ref) is False


async def test_a_wrong_secret_is_refused_by_the_server(server: S3Server) -> None:
    wrong = S3BlobStore(server.endpoint, server.bucket, server.access_key, "not-the-secret")
    try:
        with pytest.raises(S3Error) as err:
            await wrong.put(jpeg(5), content_type="image/jpeg")
        assert err.value.status == 403 and "SignatureDoesNotMatch" in str(err.value)
        with pytest.raises(S3Error):
            await wrong.get(ref_of(jpeg(5)))
    finally:
        await wrong.close()


async def test_bad_refs_never_become_keys(store: S3BlobStore) -> None:
    for ref in ("sha256:../../other-bucket/x", "sha256:" + "A" * 64, "x"):
        for call in (store.get, store.exists, store.delete):
            with pytest.raises(BadRef):
                await call(ref)


async def test_ingest_puts_plate_images_in_the_bucket(
        sessions: async_sessionmaker[AsyncSession], store: S3BlobStore) -> None:
    full, crop = jpeg(33), jpeg(66)
    ingestor = Ingestor(sessions, FakeClock(T0), default_registry(), blobs=store)
    assert (await ingestor.handle(topics.up_events("north"), payload(
        "north", envelope(1, "plate.read", read_data("粤B12345", full, crop))))).ok
    async with sessions() as s:
        data = (await s.scalars(select(Event.data))).one()
    assert await store.get(data["evidence_blob"]) == full
    assert await store.get(data["crop_blob"]) == crop


def test_settings_choose_the_s3_store(tmp_path: Path) -> None:
    env = {"COURTYARD_BLOB_S3_URL": "https://s3.example.internal:9000/images/north",
           "COURTYARD_BLOB_S3_ACCESS_KEY": "AK", "COURTYARD_BLOB_S3_SECRET_KEY": "SK",
           "COURTYARD_BLOB_S3_REGION": "cn-east-1"}
    store = blob_store_from_settings(Settings.from_env(env))
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix, store.region) == ("images", "north/", "cn-east-1")
    assert "SK" not in repr(Settings.from_env(env))
    for bad, variable in (({**env, "COURTYARD_BLOB_S3_URL": "s3://images"},
                           "COURTYARD_BLOB_S3_URL"),
                          ({**env, "COURTYARD_BLOB_S3_URL": "https://host:9000/"},
                           "COURTYARD_BLOB_S3_URL"),
                          ({k: v for k, v in env.items() if "SECRET" not in k},
                           "COURTYARD_BLOB_S3_SECRET_KEY")):
        with pytest.raises(SettingsError) as err:
            Settings.from_env(bad)
        assert err.value.variable == variable
