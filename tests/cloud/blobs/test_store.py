"""The filesystem blob store: content-addressed round trip, idempotent atomic writes, and
no ref that is not ``sha256:<64 hex>`` ever reaching the disk."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from cloud.blobs import BadRef, BlobStore, FsBlobStore, blob_store_from_settings, parse_ref
from cloud.settings import Settings
from tests.cloud.blobs.plates import files, jpeg


async def test_put_get_exists_delete_round_trip(tmp_path: Path) -> None:
    store = FsBlobStore(tmp_path / "blobs")
    assert isinstance(store, BlobStore)
    image = jpeg(90)
    ref = await store.put(image, content_type="image/jpeg")
    digest = hashlib.sha256(image).hexdigest()
    assert ref == f"sha256:{digest}"
    assert (tmp_path / "blobs" / digest[:2] / digest[2:4] / digest).read_bytes() == image
    assert await store.get(ref) == image and await store.exists(ref)
    assert await store.delete(ref) is True
    assert await store.get(ref) is None and not await store.exists(ref)
    assert await store.delete(ref) is False


async def test_the_same_bytes_are_one_file_and_no_temporary_file_is_left(tmp_path: Path) -> None:
    store = FsBlobStore(tmp_path)
    image, other = jpeg(10), jpeg(250)
    refs = await asyncio.gather(*(store.put(image, content_type="image/jpeg")
                                  for _ in range(8)), store.put(other, content_type="image/jpeg"))
    assert len(set(refs)) == 2
    stored = files(tmp_path)
    assert [p.name for p in stored] == sorted(r.removeprefix("sha256:") for r in set(refs))
    before = stored[0].stat().st_mtime_ns
    await store.put(image, content_type="image/jpeg")  # again: nothing rewritten
    assert files(tmp_path) == stored and stored[0].stat().st_mtime_ns == before


@pytest.mark.parametrize("ref", [
    "sha256:../../../etc/passwd",
    "sha256:" + "a" * 63,
    "sha256:" + "a" * 65,
    "sha256:" + "A" * 64,
    "sha256:" + "a" * 62 + "/x",
    "sha256:" + "a" * 64 + "\n",
    "sha1:" + "a" * 40,
    "/etc/passwd",
    "",
    "../" + "a" * 64,
])
async def test_anything_but_a_sha256_ref_is_refused_before_the_disk(
        tmp_path: Path, ref: str) -> None:
    secret = tmp_path / "etc" / "passwd"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0")
    store = FsBlobStore(tmp_path / "blobs" / "x")
    with pytest.raises(BadRef):
        parse_ref(ref)
    for call in (store.get, store.exists, store.delete):
        with pytest.raises(BadRef):
            await call(ref)
    assert secret.read_text() == "root:x:0:0"


def test_parse_ref_refuses_non_text() -> None:
    for value in (None, 7, b"sha256:" + b"a" * 64):
        with pytest.raises(BadRef):
            parse_ref(value)
    assert parse_ref("sha256:" + "0f" * 32) == "0f" * 32


def test_the_store_lives_in_the_data_dir_unless_told(tmp_path: Path) -> None:
    dflt = blob_store_from_settings(Settings(data_dir=str(tmp_path)))
    assert isinstance(dflt, FsBlobStore) and dflt.root == tmp_path / "blobs"
    assert not (tmp_path / "blobs").exists()  # nothing is made before the first write
    env = Settings.from_env({"COURTYARD_BLOB_DIR": str(tmp_path / "img"),
                             "COURTYARD_DATA_DIR": str(tmp_path)})
    told = blob_store_from_settings(env)
    assert isinstance(told, FsBlobStore) and told.root == tmp_path / "img"
