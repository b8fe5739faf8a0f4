"""Elevators through their monitoring boxes (GB/T 24476 data items over Modbus): state, faults,
trapped passengers, and a recall to the main landing where the box model allows it."""

from drivers.elevator.driver import ElevatorDriver
from drivers.elevator.model import (
    ELEVATOR_FAULT,
    ELEVATOR_RECALL,
    ELEVATOR_RECOVERED,
    ELEVATOR_STATE,
    ELEVATOR_TRAPPED,
    Direction,
    Door,
    ElevatorConfig,
    ElevatorProfile,
    ElevatorState,
    Mode,
    RecallResult,
)
from drivers.elevator.profile import ProfileError, load_profile, load_profiles

__all__ = [
    "ELEVATOR_FAULT",
    "ELEVATOR_RECALL",
    "ELEVATOR_RECOVERED",
    "ELEVATOR_STATE",
    "ELEVATOR_TRAPPED",
    "Direction",
    "Door",
    "ElevatorConfig",
    "ElevatorDriver",
    "ElevatorProfile",
    "ElevatorState",
    "Mode",
    "ProfileError",
    "RecallResult",
    "load_profile",
    "load_profiles",
]
