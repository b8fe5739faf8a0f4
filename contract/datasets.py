"""The dataset documents the edge pulls from the console (DESIGN §2, §3): their shape on the
wire and the version and ETag rules both sides follow.

``GET /api/sites/{site}/parking/dataset`` answers one JSON document per site and version::

    {"version": 7,
     "vehicles":  [{"plate": "京A12345", "holder": "王伟", "unit": "1-1-101",
                    "role": "owner", "lots": []}],
     "spaces":    [{"lot": "P1", "code": "B1-001", "kind": "private", "unit": "1-1-101",
                    "plate": "京A12345"}],
     "passes":    [{"plate": "...", "holder": "...", "lots": ["P1"],
                    "valid_from": "2026-11-01", "valid_to": "2026-11-30",
                    "grace_days": 3, "remind_days": 7}],
     "visitors":  [{"plate": "...", "host_unit": "...", "start": "2026-11-23T01:00:00Z",
                    "end": "2026-11-23T05:00:00Z"}],
     "blacklist": [{"plate": "...", "reason": "..."}],
     "tariffs":   {"P1": {<Tariff.to_dict()>}}}

Rules: ``version`` is an integer ≥ 0 that names exactly one content (0: nothing yet, every list
empty); dates are ISO ``YYYY-MM-DD`` in site time, visitor times UTC with ``Z``; the ETag is
``"<dataset>-<version>"``; a reader ignores keys it does not know (``spaces`` rides along for
later). What an entry must hold to be usable (a valid plate, ``valid_to`` ≥ ``valid_from``…)
is the edge's to check: it skips the entries it cannot use, not the document.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from contract.errors import ContractError

PARKING = "parking"
"""The dataset the parking lanes decide from (also its name in ``down/sync``)."""

VehicleRole = Literal["owner", "tenant", "staff"]


class VehicleEntry(TypedDict):
    plate: str
    holder: str
    unit: str | None
    role: VehicleRole
    lots: list[str]  # empty: every lot


class SpaceEntry(TypedDict):
    lot: str
    code: str
    kind: str
    unit: str | None
    plate: str | None


class PassEntry(TypedDict):
    plate: str
    holder: str | None
    lots: list[str]
    valid_from: str  # YYYY-MM-DD, site time
    valid_to: str  # inclusive
    grace_days: int
    remind_days: int


class VisitorEntry(TypedDict):
    plate: str
    host_unit: str | None
    start: str  # UTC, trailing Z
    end: str


class BarredEntry(TypedDict):
    plate: str
    reason: str


class ParkingDocument(TypedDict):
    version: int
    vehicles: list[VehicleEntry]
    spaces: NotRequired[list[SpaceEntry]]
    passes: list[PassEntry]
    visitors: list[VisitorEntry]
    blacklist: list[BarredEntry]
    #: lot → the tariff as ``parkingrules.tariff.Tariff.to_dict`` writes it.
    tariffs: dict[str, dict[str, Any]]


ACCESS = "access"
"""The dataset doors decide from: the edge's own readers (``edge.access.credentials``) and the
cards each 微耕/UHPPOTE controller holds (``edge.access_cards``) read the same document."""


# ``from`` is a keyword, hence the functional form. ``days``: ISO weekdays (1 = Monday) in
# site time; ``from`` / ``to`` ``HH:MM``, a window whose ``to`` is not after ``from`` runs past
# midnight.
Window = TypedDict("Window", {"days": list[int], "from": str, "to": str})


class CardPermit(TypedDict):
    holder: str  # a resident id (``resident-12``) or a staff name
    doors: list[str]  # door keys of the site; ``["*"]`` is every door
    profile: NotRequired[str | None]  # a key of ``time_profiles``; absent: any time
    valid_from: NotRequired[str | None]  # ISO 8601 with offset; absent: from now
    valid_to: NotRequired[str | None]  # after valid_from; absent: no end
    duress: NotRequired[bool]  # PINs only


class PassPermit(TypedDict):
    """A visitor pass (``contract.visitor_pass``) as the edge needs it for the numeric form
    and to count uses: the token carries the same claims, signed."""

    id: int
    doors: list[str]  # ``["*"]`` is every door
    valid_from: str  # ISO 8601, UTC
    valid_to: str  # after valid_from, at most 7 days later
    uses: int  # ≥ 1


class AccessDocument(TypedDict):
    """``GET /api/sites/{site}/access/dataset``: cards keyed by their number in decimal
    (the Wiegand card number, ≤ 2^32), PINs keyed by their digits, ``blocked`` names cards or
    holders. ``passes``: the site's live visitor passes keyed by their 9-digit code, and
    ``passes_revoked``: the ids of revoked passes whose window has not ended (both as of the
    version's time; the edge checks the window itself). Same version and ETag rules as
    parking."""

    version: int
    time_profiles: dict[str, list[Window]]
    cards: dict[str, CardPermit]
    pins: NotRequired[dict[str, CardPermit]]
    blocked: list[str]
    passes: NotRequired[dict[str, PassPermit]]
    passes_revoked: NotRequired[list[int]]


def etag(dataset: str, version: int) -> str:
    """The strong ETag of one version of a dataset: equal versions, equal documents."""
    return f'"{dataset}-{version}"'


def document_version(doc: Any) -> int:
    """The ``version`` of a dataset document; ContractError when there is no usable one."""
    if not isinstance(doc, dict):
        raise ContractError("dataset", "must be a JSON object")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ContractError("dataset.version", "must be an integer ≥ 0")
    return version

