"""Cloud ingest: MQTT batches in, committed records and acks out (DESIGN §2 rule 3)."""

from cloud.ingest.handlers import HandlerContext, HandlerRegistry, StoredEvent
from cloud.ingest.ingestor import Ingestor
from cloud.ingest.result import IngestResult, IngestStats
from cloud.ingest.worker import IngestWorker

__all__ = [
    "HandlerContext",
    "HandlerRegistry",
    "IngestResult",
    "IngestStats",
    "IngestWorker",
    "Ingestor",
    "StoredEvent",
]
