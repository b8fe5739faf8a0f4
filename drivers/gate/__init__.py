"""Barrier gates at parking lanes: a Modbus relay board (with limit switches and a vehicle
loop) or the LPR camera's own relay. ``gate.opened`` is the audit trail of every opening."""

from drivers.gate.controller import (
    CameraRelayGate,
    GateCommandError,
    GateController,
    GateHeld,
    GateIO,
    GateIOError,
)
from drivers.gate.modbus_relay import ModbusRelayGate, RelayLink
from drivers.gate.model import (
    GATE_CLOSED,
    GATE_FAULT,
    GATE_OPENED,
    GATE_RECOVERED,
    OPEN_CAUSES,
    CameraRelayGateSpec,
    GateBehaviour,
    GateInputs,
    GateState,
    ModbusGateSpec,
)

__all__ = [
    "GATE_CLOSED",
    "GATE_FAULT",
    "GATE_OPENED",
    "GATE_RECOVERED",
    "OPEN_CAUSES",
    "CameraRelayGate",
    "CameraRelayGateSpec",
    "GateBehaviour",
    "GateCommandError",
    "GateController",
    "GateHeld",
    "GateIO",
    "GateIOError",
    "GateInputs",
    "GateState",
    "ModbusGateSpec",
    "ModbusRelayGate",
    "RelayLink",
]
