"""The console's storage kit: engine and sessions, dialect helpers, column types and the spine
every feature refers to (sites, devices, the event log, meters and readings).

Feature tables live in their feature packages (``cloud.parking.tables`` …); the composition
root (``cloud.features``) imports them all, so ``Base.metadata`` is complete for migrations.
"""

from cloud.db.engine import make_engine, migrate, session_factory
from cloud.db.models import (
    Base,
    Device,
    Event,
    IngestConflict,
    IngestEpoch,
    Meter,
    Reading,
    SeqGap,
    Site,
    TelemetryCursor,
)

__all__ = [
    "Base",
    "Device",
    "Event",
    "IngestConflict",
    "IngestEpoch",
    "Meter",
    "Reading",
    "SeqGap",
    "Site",
    "TelemetryCursor",
    "make_engine",
    "migrate",
    "session_factory",
]
