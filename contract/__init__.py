"""The edge↔cloud contract: everything that crosses the MQTT wire (DESIGN §2), nothing else.

Envelope and batch (``envelope``, ``batch``), event kinds and their payloads (``kinds``,
``payloads``), topics, the ``down/sync`` notice (``sync``), the dataset documents
(``datasets``) and the ``down/cmd`` / ``up/cmd-reply`` messages (``commands``). Both sides
import this package; it imports nothing else of ours, so a change here is a change of the wire
contract and must stay backward compatible (``ENVELOPE_VERSION``).
"""

from contract import operator_token as operator_token  # edge operator tokens
from contract.batch import (
    ENVELOPE_VERSION,
    Ack,
    Batch,
    Rejected,
    check_epoch,
    decode_ack,
    decode_batch,
    decode_batch_lenient,
    encode_ack,
    encode_batch,
    encode_wire_batch,
    new_epoch,
)
from contract.clock import Clock, FakeClock, SystemClock, utc_now
from contract.envelope import Envelope, NewEvent, WireEnvelope, wire_envelope
from contract.errors import ContractError
from contract.kinds import KINDS, Kind, Priority, priority_for

__all__ = [
    "ENVELOPE_VERSION",
    "KINDS",
    "Ack",
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
    "WireEnvelope",
    "check_epoch",
    "decode_ack",
    "decode_batch",
    "decode_batch_lenient",
    "encode_ack",
    "encode_batch",
    "encode_wire_batch",
    "new_epoch",
    "priority_for",
    "utc_now",
    "wire_envelope",
]
