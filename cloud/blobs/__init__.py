"""The blob store (issue 16, docs/data-lifecycle.md §1): images live here, not in ``events``.

What other parts use:

- ``BlobStore`` (``put`` / ``get`` / ``delete`` / ``exists``), refs ``sha256:<hex>`` checked by
  ``parse_ref`` (``BadRef`` otherwise; no ref ever becomes a path unchecked).
- ``blob_store_from_settings(settings)``: the configured store (``FsBlobStore`` at
  ``COURTYARD_BLOB_DIR``, default ``<data dir>/blobs``; ``S3BlobStore`` when
  ``COURTYARD_BLOB_S3_URL`` is set).
- ``take_images`` / ``index_blobs``: ingest takes the images out of ``plate.read`` and
  ``plate.evidence`` before the batch's transaction and indexes them inside it
  (``cloud.ingest.ingestor``).
- ``forget(session, store, refs) -> int``: for retention and erasure. After deleting events,
  pass the refs they carried (``evidence_blob`` / ``crop_blob`` in their data,
  ``refs_in(data)``); the index rows and files of refs no remaining event references are
  deleted, the rest kept. To drop the images of events that are themselves kept (plate images
  are kept 30 days, plate reads 180), first ``detach`` the refs from those events.
- ``courtyard cloud blobs migrate``: moves images still inline in old events into the store
  (``cloud.blobs.migrate``).

The package knows the database kit and the settings, nothing of the features.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from cloud.blobs.forget import detach, forget, referenced
from cloud.blobs.fs import FsBlobStore
from cloud.blobs.images import IMAGE_KINDS, IMAGES, REF_KEYS, refs_in, take_images
from cloud.blobs.s3 import S3BlobStore
from cloud.blobs.store import BadRef, BlobStore, is_ref, parse_ref, ref_of
from cloud.blobs.tables import PLATE_IMAGES, Blob, BlobRow, index_blobs
from cloud.settings import Settings

__all__ = ["IMAGES", "IMAGE_KINDS", "PLATE_IMAGES", "REF_KEYS", "BadRef", "Blob", "BlobRow",
           "BlobStore", "FsBlobStore", "S3BlobStore", "blob_store_from_settings", "close_store",
           "detach", "forget", "index_blobs", "is_ref", "parse_ref", "ref_of", "referenced",
           "refs_in", "take_images"]


def blob_store_from_settings(settings: Settings) -> BlobStore:
    """The store the console writes images to (nothing is created until the first write)."""
    if settings.blob_s3_url:
        parts = urlsplit(settings.blob_s3_url)
        bucket, _, prefix = parts.path.strip("/").partition("/")
        return S3BlobStore(f"{parts.scheme}://{parts.netloc}", bucket,
                           settings.blob_s3_access_key or "", settings.blob_s3_secret_key or "",
                           region=settings.blob_s3_region, prefix=prefix)
    return FsBlobStore(settings.effective_blob_dir)


async def close_store(store: BlobStore) -> None:
    """Release what a store holds open (an S3 store's HTTP session); a no-op for files."""
    close = getattr(store, "close", None)
    if close is not None:
        await close()
