"""What handling one message produced, and the running counters /metrics shows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from contract import Ack


@dataclass(frozen=True, slots=True)
class IngestResult:
    """Outcome of one MQTT message.

    ``acks`` holds, per outbox epoch the message(s) carried, that epoch's contiguous watermark
    after commit: publish each as ``down/ack``. ``epoch``/``ack_upto`` are the last of them
    (None when nothing was committed). A refused message names the reason (``malformed``,
    ``wrong_site``, ``bad_topic``) and, for malformed payloads, the offending field.
    """

    ok: bool
    site: str | None = None
    ack_upto: int | None = None
    epoch: str | None = None
    acks: tuple[Ack, ...] = ()
    inserted: int = 0
    duplicates: int = 0
    #: Events that came to a stored position with another id (quarantined, not stored).
    conflicts: int = 0
    gaps: int = 0
    reason: str | None = None
    field: str | None = None
    detail: str | None = None

    @classmethod
    def refused(cls, reason: str, site: str | None = None, field: str | None = None,
                detail: str | None = None) -> IngestResult:
        return cls(ok=False, site=site, reason=reason, field=field, detail=detail)


@dataclass
class IngestStats:
    """Counters since start; plain ints so reading them never blocks the ingest path."""

    batches: int = 0
    #: Database transactions; several queued batches of one site may share one.
    transactions: int = 0
    events_inserted: int = 0
    duplicates: int = 0
    gaps_declared: int = 0
    status_updates: int = 0
    #: Events that broke the contract, stored as ``ingest.quarantined`` under their seq.
    quarantined: int = 0
    #: Events that came to a stored (site, epoch, seq) with another id, each time...
    conflicts: int = 0
    #: ... and the distinct ones (each kept once in ``ingest_conflicts``, each an alarm).
    conflicts_new: int = 0
    #: Declared gaps cut at the highest seq their batch carried.
    gaps_clipped: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    handlers: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, int]:
        out = {
            "ingest_batches": self.batches,
            "ingest_transactions": self.transactions,
            "ingest_events_inserted": self.events_inserted,
            "ingest_duplicates": self.duplicates,
            "ingest_gaps_declared": self.gaps_declared,
            "ingest_status_updates": self.status_updates,
            "ingest_quarantined": self.quarantined,
            "ingest_conflicts": self.conflicts,
            "ingest_conflicts_new": self.conflicts_new,
            "ingest_gaps_clipped": self.gaps_clipped,
            "ingest_rejected": sum(self.rejected.values()),
        }
        out.update({f"ingest_rejected_{k}": v for k, v in sorted(self.rejected.items())})
        out.update({f"ingest_{k}": v for k, v in sorted(self.handlers.items())})
        return out
