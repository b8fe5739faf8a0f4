"""The edge↔cloud contract: message envelope, event kinds and MQTT topic names.

Both sides import this package; it imports nothing else of ours, so a change here is a change
of the wire contract and must stay backward compatible (``ENVELOPE_VERSION``).
"""

from contract.clock import Clock, FakeClock, SystemClock, utc_now
from contract.envelope import (
    ENVELOPE_VERSION,
    Batch,
    ContractError,
    Envelope,
    NewEvent,
    Rejected,
    decode_ack,
    decode_batch,
    decode_batch_lenient,
    encode_ack,
    encode_batch,
)
from contract.kinds import Kind, Priority, priority_for

__all__ = [
    "ENVELOPE_VERSION",
    "Batch",
    "Clock",
    "ContractError",
    "Envelope",
    "FakeClock",
    "Kind",
    "NewEvent",
    "Priority",
    "Rejected",
    "SystemClock",
    "decode_ack",
    "decode_batch",
    "decode_batch_lenient",
    "encode_ack",
    "encode_batch",
    "priority_for",
    "utc_now",
]
