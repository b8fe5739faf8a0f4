"""The ``up/events`` batch and the ``down/ack`` reply: their one encoder and one decoder.

Wire format (JSON, UTF-8; a batch may be gzip-compressed, recognised by its magic bytes)::

    batch: {"v": 2, "site": "demo", "epoch": "<26 chars>", "events": [<envelope>...],
            "gaps": [[from, to], ...]}
    ack: {"epoch": "<26 chars>", "upto": 17}

``epoch`` names the edge outbox that gave the events their seqs: random, made when the outbox
is created (``new_epoch``), so a replaced box or a wiped data dir is a new epoch and its seq 1
is never mistaken for the old box's seq 1. An event's position is (site, epoch, seq), its
identity its ``id``. The ack names the epoch it covers; an edge ignores an ack for another.

``gaps`` lists inclusive seq ranges (of this epoch) the edge dropped under its disk budget
(DESIGN §2 rule 4) and will never send, so the cloud can advance its contiguous ack watermark
past them. The cloud never lets a gap move the mark past the highest seq the batch carries.

Version 2 added ``epoch`` (to the batch and the ack); a version 1 batch is refused with "upgrade
the edge", since its seqs cannot be told apart from another outbox's.

Both encoders end in ``encode_wire_batch``: the edge's uplink hands it envelopes straight from
the outbox's stored columns (``Outbox.pending_wire``), everyone else ``encode_batch`` with
``Envelope`` objects, and the bytes are the same for the same events. One ``jsoncodec`` call
lays out the whole batch: cheaper than encoding each envelope on its own and joining.
"""

from __future__ import annotations

import base64
import gzip
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from contract import jsoncodec
from contract.envelope import Envelope, WireEnvelope
from contract.errors import ContractError

ENVELOPE_VERSION = 2
"""``v`` of a batch; a change of the envelope or batch layout is a new version (2: ``epoch``)."""
EPOCH_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
"""What an epoch may look like on the wire (``new_epoch`` makes 26 lower-case base32 chars)."""
MAX_BATCH_BYTES = 8 * 1024 * 1024
"""A batch larger than this (decompressed) is refused."""
GZIP_LEVEL = 3
"""Level 3 compresses event batches within a few per cent of level 6 at a third of the CPU."""
_GZIP_MAGIC = b"\x1f\x8b"


def new_epoch() -> str:
    """A fresh outbox epoch: 16 random bytes as 26 lower-case base32 characters."""
    return base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=").lower()


def check_epoch(raw: Any, where: str = "epoch") -> str:
    """``raw`` if it is a well-formed epoch, else ContractError naming ``where``."""
    if not isinstance(raw, str) or EPOCH_RE.fullmatch(raw) is None:
        raise ContractError(where, "must be 16-64 characters of A-Z a-z 0-9 _ -")
    return raw


@dataclass(frozen=True, slots=True)
class Batch:
    site: str
    events: list[Envelope]
    gaps: list[tuple[int, int]] = field(default_factory=list)
    #: The outbox epoch the events' seqs belong to (required; keyword-only).
    epoch: str = field(kw_only=True)


class Ack(NamedTuple):
    """``down/ack``: every seq ≤ ``upto`` of outbox ``epoch`` is durably stored in the cloud."""

    epoch: str
    upto: int


@dataclass(frozen=True, slots=True)
class Rejected:
    """One event of a batch that breaks the contract while the batch around it does not."""

    seq: int
    field: str
    reason: str
    #: The event as received (a JSON object).
    raw: dict[str, Any]


# -- encoding -----------------------------------------------------------------------------


def encode_wire_batch(site: str, epoch: str, events: Sequence[WireEnvelope],
                      gaps: Sequence[tuple[int, int]] = ()) -> bytes:
    """The batch JSON of envelopes in their wire form (``wire_envelope``), uncompressed."""
    return jsoncodec.dumpb({"v": ENVELOPE_VERSION, "site": site, "epoch": epoch,
                            "events": events, "gaps": [list(g) for g in gaps]})


def gzip_batch(raw: bytes) -> bytes:
    """gzip at ``GZIP_LEVEL``; the decoder recognises it by its magic bytes."""
    return gzip.compress(raw, compresslevel=GZIP_LEVEL)


def encode_batch(batch: Batch, compress: bool = False) -> bytes:
    """The batch JSON of decoded envelopes: ``encode_wire_batch`` of their ``wire()`` form."""
    raw = encode_wire_batch(batch.site, batch.epoch, [e.wire() for e in batch.events],
                            batch.gaps)
    return gzip_batch(raw) if compress else raw


# -- decoding -----------------------------------------------------------------------------


def decode_batch(payload: bytes) -> Batch:
    """Parse a batch; raise ContractError naming the offending field."""
    batch, rejected = decode_batch_lenient(payload)
    if rejected:
        r = rejected[0]
        raise ContractError(r.field, r.reason)
    return batch


def decode_batch_lenient(payload: bytes) -> tuple[Batch, list[Rejected]]:
    """Parse a batch, setting aside each event that breaks the contract but has a valid
    ``seq`` (so the receiver can account for that seq); anything else wrong raises
    ContractError naming the offending field."""
    if payload[:2] == _GZIP_MAGIC:
        try:
            payload = gzip.decompress(payload)
        except (OSError, EOFError) as exc:
            raise ContractError("payload", f"corrupt gzip: {exc}") from None
    if len(payload) > MAX_BATCH_BYTES:
        raise ContractError("payload", f"larger than {MAX_BATCH_BYTES} bytes")
    try:
        raw = jsoncodec.loads(payload)
    except jsoncodec.JSONDecodeError as exc:
        raise ContractError("payload", f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ContractError("payload", "must be a JSON object")
    if raw.get("v") != ENVELOPE_VERSION:
        if raw.get("v") == 1:
            raise ContractError("v", "version 1 has no outbox epoch: upgrade the edge"
                                " / 版本 1 没有发件箱纪元，请升级边缘网关")
        raise ContractError("v", f"unsupported version {raw.get('v')!r}")
    site = raw.get("site")
    if not isinstance(site, str) or not site:
        raise ContractError("site", "must be a non-empty string")
    epoch = check_epoch(raw.get("epoch"))
    events_raw = raw.get("events")
    if not isinstance(events_raw, list):
        raise ContractError("events", "must be a list")
    events: list[Envelope] = []
    rejected: list[Rejected] = []
    from_dict = Envelope.from_dict
    for i, e in enumerate(events_raw):
        try:
            events.append(from_dict(e))
        except ContractError as exc:
            # Named by position only on the (rare) error path: no string per good event.
            where = f"events[{i}]" + exc.field.removeprefix("event")
            seq = e.get("seq") if isinstance(e, dict) else None
            if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
                raise ContractError(where, exc.reason) from None
            rejected.append(Rejected(seq, where, exc.reason, e))
    gaps: list[tuple[int, int]] = []
    for i, g in enumerate(raw.get("gaps", [])):
        if (not isinstance(g, list) or len(g) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in g)
                or not 1 <= g[0] <= g[1]):
            raise ContractError(f"gaps[{i}]", "must be [from, to] with 1 ≤ from ≤ to")
        gaps.append((g[0], g[1]))
    return Batch(site=site, epoch=epoch, events=events, gaps=gaps), rejected


# -- the ack ------------------------------------------------------------------------------


def encode_ack(epoch: str, upto: int) -> bytes:
    return jsoncodec.dumpb({"epoch": epoch, "upto": upto})


def decode_ack(payload: bytes) -> Ack:
    """Parse a ``down/ack``; raise ContractError naming the offending field (an ack without an
    epoch, as version 1 sent, is refused: it cannot say which outbox it covers)."""
    try:
        raw = jsoncodec.loads(payload)
    except jsoncodec.JSONDecodeError as exc:
        raise ContractError("payload", f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ContractError("payload", "must be a JSON object")
    epoch = check_epoch(raw.get("epoch"))
    upto = raw.get("upto")
    if not isinstance(upto, int) or isinstance(upto, bool) or upto < 0:
        raise ContractError("upto", "must be an integer ≥ 0")
    return Ack(epoch, upto)
