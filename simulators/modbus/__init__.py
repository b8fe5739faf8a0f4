"""Simulated Modbus meters (RTU and TCP) that speak the wire protocol only."""

from simulators.modbus.encode import crc16_modbus, encode_value
from simulators.modbus.meter import FAULTS, SimClock, SimMeter
from simulators.modbus.server import MeterBusSimulator

__all__ = ["FAULTS", "MeterBusSimulator", "SimClock", "SimMeter", "crc16_modbus",
           "encode_value"]
