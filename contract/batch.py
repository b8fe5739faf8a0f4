"""The ``up/events`` batch and the ``down/ack`` reply: their one encoder and one decoder.

Wire format (JSON, UTF-8; a batch may be gzip-compressed, recognised by its magic bytes)::

    batch: {"v": 1, "site": "demo", "events": [<envelope>...], "gaps": [[from, to], ...]}
    ack: {"upto": 17}

``gaps`` lists inclusive seq ranges the edge dropped under its disk budget (DESIGN §2 rule 4)
and will never send, so the cloud can advance its contiguous ack watermark past them.

Both encoders end in ``encode_wire_batch``: the edge's uplink hands it envelopes straight from
the outbox's stored columns (``Outbox.pending_wire``), everyone else ``encode_batch`` with
``Envelope`` objects, and the bytes are the same for the same events. One ``jsoncodec`` call
lays out the whole batch: cheaper than encoding each envelope on its own and joining.
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from contract import jsoncodec
from contract.envelope import Envelope, WireEnvelope
from contract.errors import ContractError

ENVELOPE_VERSION = 1
"""``v`` of a batch; a change of the envelope or batch layout is a new version."""
MAX_BATCH_BYTES = 8 * 1024 * 1024
"""A batch larger than this (decompressed) is refused."""
GZIP_LEVEL = 3
"""Level 3 compresses event batches within a few per cent of level 6 at a third of the CPU."""
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class Batch:
    site: str
    events: list[Envelope]
    gaps: list[tuple[int, int]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Rejected:
    """One event of a batch that breaks the contract while the batch around it does not."""

    seq: int
    field: str
    reason: str
    #: The event as received (a JSON object).
    raw: dict[str, Any]


# -- encoding -----------------------------------------------------------------------------


def encode_wire_batch(site: str, events: Sequence[WireEnvelope],
                      gaps: Sequence[tuple[int, int]] = ()) -> bytes:
    """The batch JSON of envelopes in their wire form (``wire_envelope``), uncompressed."""
    return jsoncodec.dumpb({"v": ENVELOPE_VERSION, "site": site, "events": events,
                            "gaps": [list(g) for g in gaps]})


def gzip_batch(raw: bytes) -> bytes:
    """gzip at ``GZIP_LEVEL``; the decoder recognises it by its magic bytes."""
    return gzip.compress(raw, compresslevel=GZIP_LEVEL)


def encode_batch(batch: Batch, compress: bool = False) -> bytes:
    """The batch JSON of decoded envelopes: ``encode_wire_batch`` of their ``wire()`` form."""
    raw = encode_wire_batch(batch.site, [e.wire() for e in batch.events], batch.gaps)
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
        raise ContractError("v", f"unsupported version {raw.get('v')!r}")
    site = raw.get("site")
    if not isinstance(site, str) or not site:
        raise ContractError("site", "must be a non-empty string")
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
    return Batch(site=site, events=events, gaps=gaps), rejected


# -- the ack ------------------------------------------------------------------------------


def encode_ack(upto: int) -> bytes:
    return jsoncodec.dumpb({"upto": upto})


def decode_ack(payload: bytes) -> int:
    try:
        raw = jsoncodec.loads(payload)
    except jsoncodec.JSONDecodeError as exc:
        raise ContractError("payload", f"not JSON: {exc}") from None
    upto = raw.get("upto") if isinstance(raw, dict) else None
    if not isinstance(upto, int) or isinstance(upto, bool) or upto < 0:
        raise ContractError("upto", "must be an integer ≥ 0")
    return upto
