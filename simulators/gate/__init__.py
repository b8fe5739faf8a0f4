"""Simulated barrier gate on a Modbus relay board (wire protocol only)."""

from simulators.gate.barrier import FAULTS, BarrierCommand, BarrierSimulator, Crush

__all__ = ["FAULTS", "BarrierCommand", "BarrierSimulator", "Crush"]
