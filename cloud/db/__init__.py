"""Cloud storage: typed models, engine/session helpers and migrations."""

from cloud.db.engine import make_engine, migrate, session_factory
from cloud.db.models import (
    Base,
    Device,
    Event,
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
    "Meter",
    "Reading",
    "SeqGap",
    "Site",
    "TelemetryCursor",
    "make_engine",
    "migrate",
    "session_factory",
]
