"""Typed configuration of Modbus buses, meters and their register profiles.

The edge builds these from the site YAML and the profile files; the driver only consumes them,
so a driver never parses YAML and never imports edge/.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DataType = Literal["float32", "int16", "uint16", "int32", "uint32"]
WordOrder = Literal["ABCD", "CDAB", "BADC", "DCBA"]
Parity = Literal["N", "E", "O"]


@dataclass(frozen=True, slots=True)
class RegisterSpec:
    name: str
    address: int
    function_code: Literal[3, 4] = 4
    data_type: DataType = "float32"
    order: WordOrder = "ABCD"
    scale: float = 1.0
    unit: str = ""
    billing: bool = False

    @property
    def width(self) -> int:
        """Registers (16-bit words) this value occupies."""
        return 1 if self.data_type in ("int16", "uint16") else 2


@dataclass(frozen=True, slots=True)
class Profile:
    id: str
    name: str
    kind: str
    registers: tuple[RegisterSpec, ...]
    max_gap: int = 10


@dataclass(frozen=True, slots=True)
class TcpBus:
    id: str
    host: str
    port: int = 502
    timeout: float = 1.0
    retries: int = 1
    type: Literal["modbus_tcp"] = "modbus_tcp"


@dataclass(frozen=True, slots=True)
class RtuBus:
    id: str
    port: str
    baudrate: int = 9600
    parity: Parity = "N"
    stopbits: int = 1
    bytesize: int = 8
    timeout: float = 0.5
    retries: int = 1
    type: Literal["modbus_rtu"] = "modbus_rtu"

    @property
    def inter_frame_gap(self) -> float:
        """Modbus RTU silent interval: 3.5 characters (11 bits each), at least 1.75 ms."""
        return max(3.5 * 11 / self.baudrate, 0.00175)


Bus = TcpBus | RtuBus


@dataclass(frozen=True, slots=True)
class MeterDevice:
    id: str
    bus: str
    profile: Profile
    address: int
    poll_interval: float = 10.0
    unit: str | None = None
    deadband: dict[str, float] = field(default_factory=dict)
