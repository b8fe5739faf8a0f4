"""Modbus RTU/TCP energy and water meters: profiles in, ``meter.reading`` events out."""

from drivers.modbus.bus_driver import ModbusBusDriver
from drivers.modbus.model import MeterDevice, Profile, RegisterSpec, RtuBus, TcpBus

__all__ = ["MeterDevice", "ModbusBusDriver", "Profile", "RegisterSpec", "RtuBus", "TcpBus"]
