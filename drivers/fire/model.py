"""Configuration of the fire-panel receiver: which UITDs may connect, how each one speaks,
and where its zones are.

Location rules (``UitdConfig.locations``): a rule matches when every field it sets
(``system_type``, ``system_address``, ``zone``) equals the reported value; ``None`` matches
anything. Of the matching rules the most specific (most fields set) wins, and among equally
specific rules the first listed, so a site can write a broad "system 1 is building 1" rule and
refine single zones without caring about order. An object without a zone (system status,
UITD events) only matches rules that leave ``zone`` unset. When nothing matches, the location
is the UITD's default ``building`` (floor and area unknown), or unknown.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from drivers.fire.codec import ADDRESS_MAX, CHECKSUM_METHODS, SERIAL_ORDERS


@dataclass(frozen=True, slots=True)
class ZoneLocation:
    building: str
    floor: str | None = None
    area: str | None = None
    system_type: int | None = None    # match on these; None = any
    system_address: int | None = None
    zone: int | None = None           # the zone half of the component address

    def as_dict(self) -> dict[str, Any]:
        return {"building": self.building, "floor": self.floor, "area": self.area}

    @property
    def text(self) -> str:
        """What a guard reads: ``1号楼 3层 东侧走廊`` (a name like ``A座`` or ``B1`` stays)."""
        parts = [_suffixed(self.building, "号楼")]
        if self.floor:
            parts.append(_suffixed(self.floor, "层"))
        if self.area:
            parts.append(self.area)
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class UitdConfig:
    id: str
    address: int                      # the UITD's own source address
    building: str | None = None       # default building when no location rule matches
    #: Source IPs or networks allowed to connect as this UITD; empty admits nobody unless
    #: ``any_peer`` (the site file's ``peers: any``, which ``edge validate`` warns about).
    peers: tuple[str, ...] = ()
    checksum: str = "sum"             # sum | sum_from_command | xor
    serial_order: str = "little"      # little | big
    heartbeat_timeout: float = 90.0   # seconds of silence before uitd offline
    clock_sync_interval: float = 3600.0
    locations: tuple[ZoneLocation, ...] = ()
    any_peer: bool = False
    #: A newcomer claiming this UITD's address is refused while the live connection has sent
    #: a sound frame within this many seconds (a little over the standard's 20–30 s heartbeat);
    #: after that the old one counts as dead and the newcomer from a listed peer replaces it.
    displace_after: float = 35.0

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("uitd id must not be empty")
        if not 0 <= self.address <= ADDRESS_MAX:
            raise ValueError(f"uitd {self.id}: address must fit 6 bytes")
        if self.checksum not in CHECKSUM_METHODS:
            raise ValueError(f"uitd {self.id}: checksum must be one of {CHECKSUM_METHODS}")
        if self.serial_order not in SERIAL_ORDERS:
            raise ValueError(f"uitd {self.id}: serial_order must be one of {SERIAL_ORDERS}")
        if self.heartbeat_timeout <= 0 or self.clock_sync_interval <= 0 or (
                self.displace_after <= 0):
            raise ValueError(f"uitd {self.id}: heartbeat_timeout, clock_sync_interval and "
                             "displace_after must be > 0")
        for peer in self.peers:
            try:
                ipaddress.ip_network(peer, strict=False)
            except ValueError:
                raise ValueError(f"uitd {self.id}: peer {peer!r} is not an IP address or "
                                 "network") from None

    def allows(self, peer: str | None) -> bool:
        """Whether a connection from ``peer`` (an IP, or None when unknown) may be this UITD:
        a listed address or network, anyone only with ``any_peer``."""
        if self.any_peer:
            return True
        if not self.peers or peer is None:
            return False
        ip = normalise_ip(peer)
        if ip is None:
            return False
        return any(ip in ipaddress.ip_network(p, strict=False) for p in self.peers)

    def locate(self, system_type: int | None, system_address: int | None,
               zone: int | None) -> ZoneLocation | None:
        """The location of an object (see the module docstring for the rule order)."""
        best: ZoneLocation | None = None
        best_score = -1
        for loc in self.locations:
            score = 0
            for want, have in ((loc.system_type, system_type),
                               (loc.system_address, system_address), (loc.zone, zone)):
                if want is None:
                    continue
                if want != have:
                    score = -1
                    break
                score += 1
            if score > best_score:
                best, best_score = loc, score
        if best is None and self.building:
            return ZoneLocation(self.building)
        return best


@dataclass(frozen=True, slots=True)
class FireConfig:
    port: int
    host: str = "0.0.0.0"
    centre_address: int = 0
    uitds: tuple[UitdConfig, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be 0–65535 (0 picks a free one)")
        if not 0 <= self.centre_address <= ADDRESS_MAX:
            raise ValueError("centre_address must fit 6 bytes")
        ids = [u.id for u in self.uitds]
        addresses = [u.address for u in self.uitds]
        if len(set(ids)) != len(ids):
            raise ValueError("uitd ids must be unique")
        if len(set(addresses)) != len(addresses):
            raise ValueError("uitd addresses must be unique: the first frame's source address "
                             "is how a connection is told apart")


def normalise_ip(peer: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The peer address, with an IPv4-mapped IPv6 address (``::ffff:a.b.c.d``) as IPv4."""
    try:
        ip = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _suffixed(name: str, unit: str) -> str:
    """``1`` → ``1号楼`` / ``3`` → ``3层``; anything already named (``A座``, ``B1``) stays."""
    return f"{name}{unit}" if name.isdigit() else name
