"""The ``down/sync`` notice: "dataset X is at version N" (DESIGN §2).

The console publishes it retained, QoS 1, on ``courtyard/v1/{site}/down/sync``; the edge then
pulls the document itself (``contract.datasets``), so the notice only carries the name and the
number. Keys a newer console may add are ignored by this decoder.
"""

from __future__ import annotations

from typing import NamedTuple

from contract import jsoncodec
from contract.errors import ContractError

MAX_DATASET_NAME = 64


class SyncNotice(NamedTuple):
    """``{"dataset": "parking", "version": 7}``; a tuple, so ``dataset, version = notice``."""

    dataset: str
    version: int


def encode_sync(notice: SyncNotice) -> bytes:
    _checked(notice.dataset, notice.version)
    return jsoncodec.dumpb({"dataset": notice.dataset, "version": notice.version})


def decode_sync(payload: bytes) -> SyncNotice:
    """Parse a notice; ContractError names the field that is wrong."""
    try:
        doc = jsoncodec.loads(payload)
    except jsoncodec.JSONDecodeError:
        raise ContractError("sync", "not JSON") from None
    if not isinstance(doc, dict):
        raise ContractError("sync", "must be a JSON object")
    return _checked(doc.get("dataset"), doc.get("version"))


def _checked(dataset: object, version: object) -> SyncNotice:
    if not isinstance(dataset, str) or not dataset or len(dataset) > MAX_DATASET_NAME:
        raise ContractError("sync.dataset", "must be a non-empty name")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ContractError("sync.version", "must be an integer ≥ 0")
    return SyncNotice(dataset, version)
