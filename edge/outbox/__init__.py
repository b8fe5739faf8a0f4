"""Durable, budgeted store of events waiting for the cloud's ack (DESIGN §2 rules 1, 2, 4)."""

from edge.outbox.runner import AsyncOutbox
from edge.outbox.store import Outbox, OutboxError, runs

__all__ = ["AsyncOutbox", "Outbox", "OutboxError", "runs"]
