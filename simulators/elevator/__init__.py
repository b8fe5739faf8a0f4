"""Simulated elevator monitoring boxes over Modbus (wire protocol only, no drivers/ import).

``python -m simulators.elevator --port 1503 --units 1,2`` serves two boxes; tests and site
simulators use ``ElevatorSimulator`` / ``ElevatorBox`` / ``SimCar`` directly.
"""

from simulators.elevator.car import SimCar
from simulators.elevator.layout import Layout, find_profile, load_layout
from simulators.elevator.server import (
    FAULTS,
    ElevatorBox,
    ElevatorBusContext,
    ElevatorSimulator,
)

__all__ = ["FAULTS", "ElevatorBox", "ElevatorBusContext", "ElevatorSimulator", "Layout",
           "SimCar", "find_profile", "load_layout"]
