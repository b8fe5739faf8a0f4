# Over 500 lines on purpose: plate rules and the fuzzy index they feed are one idea.
"""Chinese licence plates: normalise, validate, classify and fuzzy-match camera reads.

Cameras disagree on spelling (full-width letters, ``京A·12345``, lower case, O for 0) and OCR
confuses look-alike characters, so every read goes through :func:`normalize` before it is compared
and the whitelist lives in a :class:`PlateIndex` that answers in O(1) with 100,000 plates.
Formats follow docs/protocols.md §3 ("Chinese plates").

Format decisions:

* Small new-energy plates are province + letter + D/F + one letter *or* digit + 4 digits, as the
  protocol rule says, so ``粤BDF1234`` is valid (F in position 4 is the optional letter) while
  ``粤BD1234A`` is not (letters at the end).
* ``港``/``澳`` as the last character is only valid after ``粤Z``; ``粤Z`` with an ordinary
  ending is accepted as ordinary (refusing a real plate at a gate is worse than accepting a
  rare one).
* Embassy plates (``使014578``) have no province; consulate plates (``沪A1234领``) keep theirs.
* Empty text means "no plate read" (kind NONE), never "invalid".
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Generic, Literal, TypeVar

__all__ = [
    "NO_PLATE_MARKERS",
    "PROVINCES",
    "Lookup",
    "Match",
    "MatchRule",
    "PlateColour",
    "PlateIndex",
    "PlateInfo",
    "PlateKind",
    "Strictness",
    "VehicleClass",
    "canonical",
    "colour_from_vzenith",
    "kind_hint_from_vzenith",
    "normalize",
    "parse",
    "with_camera_colour",
]

V = TypeVar("V")
VehicleClass = Literal["small", "large"]

PROVINCES: frozenset[str] = frozenset(
    "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
)
#: Texts that mean "the camera saw a vehicle but no plate" (Vzenith ``_无_``, Hikvision ``无车牌``),
#: compared after separators are dropped.
NO_PLATE_MARKERS: frozenset[str] = frozenset({"无", "无牌", "无车牌"})

_LETTERS = frozenset("ABCDEFGHJKLMNPQRSTUVWXYZ")  # I and O never occur on plates
_DIGITS = frozenset("0123456789")
_ALNUM = _LETTERS | _DIGITS
_EMBASSY = "使"
_CONSULATE = "领"
#: Text made only of these is already normalised: the fast path for clean camera reads.
_CLEAN = _ALNUM | PROVINCES | frozenset("使领挂学警港澳")
_SEPARATORS = frozenset(
    "·•.-_"
    "\u0387\u2022\u2027\u2219\u22c5\u30fb\uff65"  # middle dots and bullets
    "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u3002"  # dashes, minus, ideographic full stop
)
#: Invisible or combining characters: dropping them keeps normalize idempotent (a combining mark
#: left behind could compose with a new neighbour once a separator between them is gone).
_DROP_CATEGORIES = frozenset({"Cc", "Cf", "Mn", "Mc", "Me", "Zs", "Zl", "Zp"})
_IO_TABLE = str.maketrans({"O": "0", "I": "1"})
#: OCR confusion classes {0,D,Q} {8,B} {1,I} {2,Z} {5,S} {6,G}, each mapped to its digit.
_CANON_TABLE = str.maketrans("DQBIZSG", "0081256")


class PlateKind(StrEnum):
    ORDINARY = "ordinary"
    NEW_ENERGY_SMALL = "new_energy_small"
    NEW_ENERGY_LARGE = "new_energy_large"
    TRAILER = "trailer"
    COACH = "coach"
    POLICE = "police"
    HONG_KONG = "hong_kong"
    MACAU = "macau"
    EMBASSY = "embassy"
    CONSULATE = "consulate"
    NONE = "none"
    INVALID = "invalid"


class PlateColour(StrEnum):
    BLUE = "blue"
    YELLOW = "yellow"
    WHITE = "white"
    BLACK = "black"
    GREEN = "green"
    YELLOW_GREEN = "yellow_green"
    UNKNOWN = "unknown"


class Strictness(StrEnum):
    """How far a lookup may stray from the read: each level includes the ones before it."""

    EXACT = "exact"
    OCR = "ocr"
    LENIENT = "lenient"


class MatchRule(StrEnum):
    """Which rule found a match, best first; logged so staff can see why a gate opened."""

    EXACT = "exact"
    OCR_CONFUSION = "ocr_confusion"
    PROVINCE_MISSING = "province_missing"
    PROVINCE_DIFFERS = "province_differs"


_KIND_COLOUR: dict[PlateKind, PlateColour] = {
    PlateKind.ORDINARY: PlateColour.BLUE,
    PlateKind.NEW_ENERGY_SMALL: PlateColour.GREEN,
    PlateKind.NEW_ENERGY_LARGE: PlateColour.YELLOW_GREEN,
    PlateKind.TRAILER: PlateColour.YELLOW,
    PlateKind.COACH: PlateColour.YELLOW,
    PlateKind.POLICE: PlateColour.WHITE,
    PlateKind.HONG_KONG: PlateColour.BLACK,
    PlateKind.MACAU: PlateColour.BLACK,
    PlateKind.EMBASSY: PlateColour.BLACK,
    PlateKind.CONSULATE: PlateColour.BLACK,
    PlateKind.NONE: PlateColour.UNKNOWN,
    PlateKind.INVALID: PlateColour.UNKNOWN,
}
_LARGE_KINDS = frozenset({PlateKind.NEW_ENERGY_LARGE, PlateKind.TRAILER, PlateKind.COACH})
_NEV_KINDS = frozenset({PlateKind.NEW_ENERGY_SMALL, PlateKind.NEW_ENERGY_LARGE})
_SUFFIX_KIND: dict[str, PlateKind] = {
    "挂": PlateKind.TRAILER,
    "学": PlateKind.COACH,
    "警": PlateKind.POLICE,
    "港": PlateKind.HONG_KONG,
    "澳": PlateKind.MACAU,
}
#: Colours an ordinary-format plate really comes in (blue small, yellow large, black foreign).
_ORDINARY_COLOURS = frozenset({PlateColour.BLUE, PlateColour.YELLOW, PlateColour.BLACK})
_VZ_COLOURS: dict[int, PlateColour] = {
    0: PlateColour.UNKNOWN,
    1: PlateColour.BLUE,
    2: PlateColour.YELLOW,
    3: PlateColour.WHITE,
    4: PlateColour.BLACK,
    5: PlateColour.GREEN,
    6: PlateColour.YELLOW_GREEN,
}
_VZ_KINDS: dict[int, PlateKind] = {
    1: PlateKind.ORDINARY,
    3: PlateKind.ORDINARY,  # yellow single row: large, pass PlateColour.YELLOW to parse
    4: PlateKind.ORDINARY,  # yellow double row: likewise
    5: PlateKind.POLICE,
    19: PlateKind.NEW_ENERGY_SMALL,
    20: PlateKind.NEW_ENERGY_LARGE,
    31: PlateKind.NONE,
}


@dataclass(frozen=True, slots=True)
class PlateInfo:
    """What the text of a plate says; ``problem`` explains (zh-CN / en) why it is INVALID."""

    text: str
    kind: PlateKind
    province: str | None
    colour: PlateColour
    vehicle_class: VehicleClass
    is_new_energy: bool
    problem: str | None = None

    @property
    def valid(self) -> bool:
        return self.kind not in (PlateKind.INVALID, PlateKind.NONE)


# --- normalising ------------------------------------------------------------------------------


def normalize(raw: str) -> str:
    """Spell a read the one way plates are stored: ``"粤ｂ·ol234"`` → ``"粤B01234"``.

    NFKC (full-width → ASCII), upper case, drop whitespace, separators, invisible and combining
    characters, then O→0 and I→1 (neither letter is used on plates). A no-plate read (Vzenith
    ``_无_``, ``无车牌``) becomes ``""``, which :func:`parse` reports as kind NONE. Idempotent.
    """
    if _CLEAN.issuperset(raw):  # already clean: the usual camera read
        return raw
    text = raw
    for _ in range(4):  # a fixed point is reached after one or two rounds
        cleaned = _clean_once(text)
        if cleaned == text:
            break
        text = cleaned
        if _CLEAN.issuperset(text):  # clean text is a fixed point: skip the confirming round
            break
    return "" if text in NO_PLATE_MARKERS else text


def _clean_once(text: str) -> str:
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).upper())
    kept = "".join(
        c
        for c in text
        if c not in _SEPARATORS
        and not c.isspace()
        and unicodedata.category(c) not in _DROP_CATEGORIES
    )
    return kept.translate(_IO_TABLE)


def canonical(text: str) -> str:
    """The read with each OCR-confusable character replaced by its class digit (D,Q→0 B→8 …).

    Two plates with the same canonical text cannot be told apart by a camera that confuses them.
    """
    return normalize(text).translate(_CANON_TABLE)


# --- parsing ----------------------------------------------------------------------------------


def parse(raw: str, colour: PlateColour | None = None) -> PlateInfo:
    """Classify a read; never raises. ``colour`` is what the camera saw (see with_camera_colour)."""
    info = _classify(normalize(raw))
    return info if colour is None else with_camera_colour(info, colour)


def with_camera_colour(info: PlateInfo, colour: PlateColour) -> PlateInfo:
    """Apply the camera's colour where the format leaves it open.

    Only ordinary plates share one format across colours: yellow ones are large vehicles (trucks,
    buses), black ones foreign vehicles. Every other format fixes its colour, so a camera colour
    that disagrees is a misread and is ignored.
    """
    if info.kind is not PlateKind.ORDINARY or colour not in _ORDINARY_COLOURS:
        return info
    size: VehicleClass = "large" if colour is PlateColour.YELLOW else "small"
    return replace(info, colour=colour, vehicle_class=size)


def colour_from_vzenith(code: int) -> PlateColour:
    """Vzenith ``colorType``; codes outside 0–6 are UNKNOWN."""
    return _VZ_COLOURS.get(code, PlateColour.UNKNOWN)


def kind_hint_from_vzenith(type_code: int) -> PlateKind | None:
    """Vzenith ``type`` as a kind, or None for types the protocol leaves to the source.

    Types 3 and 4 (yellow) map to ORDINARY: the large class comes from the yellow colour.
    """
    return _VZ_KINDS.get(type_code)


def _valid(text: str, kind: PlateKind, province: str | None) -> PlateInfo:
    return PlateInfo(
        text=text,
        kind=kind,
        province=province,
        colour=_KIND_COLOUR[kind],
        vehicle_class="large" if kind in _LARGE_KINDS else "small",
        is_new_energy=kind in _NEV_KINDS,
    )


def _invalid(text: str, province: str | None, problem: str) -> PlateInfo:
    return PlateInfo(
        text=text,
        kind=PlateKind.INVALID,
        province=province,
        colour=PlateColour.UNKNOWN,
        vehicle_class="small",
        is_new_energy=False,
        problem=problem,
    )


def _all_in(text: str, allowed: frozenset[str]) -> bool:
    return allowed.issuperset(text)


def _classify(text: str) -> PlateInfo:
    if not text:
        return _valid(text, PlateKind.NONE, None)
    n = len(text)
    first = text[0]
    province = first if first in PROVINCES else None
    if n not in (7, 8):
        return _invalid(
            text, province, f"号牌应为7或8位，实为{n}位 / plate has {n} characters, expected 7 or 8"
        )
    if first == _EMBASSY:
        if n == 7 and _all_in(text[1:], _DIGITS):
            return _valid(text, PlateKind.EMBASSY, None)
        return _invalid(
            text, None, "使馆号牌应为“使”加6位数字 / embassy plate must be 使 followed by 6 digits"
        )
    if province is None:
        if first in _ALNUM:
            return _invalid(text, None, "缺少省份简称 / province character missing at the start")
        return _invalid(
            text, None, f"未知省份简称“{first}” / unknown province abbreviation {first!r}"
        )
    if text[1] not in _LETTERS:
        return _invalid(
            text,
            province,
            "第2位应为字母（不含I、O） / character 2 must be a letter (I and O are never used)",
        )
    return _classify_7(text, province) if n == 7 else _classify_8(text, province)


def _classify_7(text: str, province: str) -> PlateInfo:
    body, last = text[2:6], text[6]
    if last == _CONSULATE:
        if text[1] == "A" and _all_in(body, _DIGITS):
            return _valid(text, PlateKind.CONSULATE, province)
        return _invalid(
            text,
            province,
            "领馆号牌应为省份+A+4位数字+领 / consulate plate must be province, A, 4 digits, 领",
        )
    if not _all_in(body, _ALNUM):
        return _invalid(
            text, province, "第3–6位应为字母或数字 / characters 3–6 must be letters or digits"
        )
    if last in _ALNUM:
        return _valid(text, PlateKind.ORDINARY, province)
    kind = _SUFFIX_KIND.get(last)
    if kind is None:
        return _invalid(
            text,
            province,
            "末位应为字母、数字或挂/学/警/港/澳 / "
            "last character must be a letter, a digit or 挂/学/警/港/澳",
        )
    if kind in (PlateKind.HONG_KONG, PlateKind.MACAU) and text[:2] != "粤Z":
        return _invalid(text, province, "港澳号牌应以“粤Z”开头 / 港/澳 plates must start with 粤Z")
    return _valid(text, kind, province)


def _classify_8(text: str, province: str) -> PlateInfo:
    if text[2] in "DF":
        if text[3] in _ALNUM and _all_in(text[4:], _DIGITS):
            return _valid(text, PlateKind.NEW_ENERGY_SMALL, province)
        if text[3] not in _ALNUM:
            return _invalid(
                text,
                province,
                "小型新能源号牌第4位应为字母或数字 / "
                "small new-energy plate needs a letter or digit in position 4",
            )
        return _invalid(
            text,
            province,
            "小型新能源号牌后4位须为数字 / small new-energy plate must end in 4 digits",
        )
    if text[7] in "DF":
        if _all_in(text[2:7], _DIGITS):
            return _valid(text, PlateKind.NEW_ENERGY_LARGE, province)
        return _invalid(
            text,
            province,
            "大型新能源号牌第3–7位须为数字 / large new-energy plate needs digits in positions 3–7",
        )
    return _invalid(
        text,
        province,
        "8位号牌为新能源号牌，第3位或末位须为D或F / "
        "8-character plates are new-energy: D or F must be in position 3 or 8",
    )


# --- matching ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Match(Generic[V]):
    """A stored plate that fits a read; ``rule`` says how loosely."""

    plate: str
    value: V
    rule: MatchRule
    read: str


@dataclass(frozen=True, slots=True)
class Lookup(Generic[V]):
    """The answer to a read: one match, or the candidates that made it ambiguous (never both).

    Ambiguity is not a match: a gate must not open for the wrong car; the caller logs the plates.
    """

    match: Match[V] | None = None
    ambiguous: tuple[str, ...] = ()


#: A dict slot holds the one plate under a key (the common case, no container allocated) or a
#: tuple of the plates that collide there.
_Bucket = str | tuple[str, ...]


def _bucket_add(table: dict[str, _Bucket], key: str, plate: str) -> None:
    held = table.get(key)
    if held is None:
        table[key] = plate
    elif isinstance(held, str):
        table[key] = (held, plate)
    else:
        table[key] = (*held, plate)


def _bucket_remove(table: dict[str, _Bucket], key: str, plate: str) -> None:
    held = table[key]
    if isinstance(held, str):
        del table[key]
        return
    left = tuple(p for p in held if p != plate)
    table[key] = left[0] if len(left) == 1 else left


def _rest_key(text: str, canon: str) -> str | None:
    """Canonical text after the province (or 使), for plates that have one; else None."""
    if len(text) >= 7 and (text[0] in PROVINCES or text[0] == _EMBASSY):
        return canon[1:]
    return None


class PlateIndex(Generic[V]):
    """Plates (normalised) → values, with O(1) exact, OCR-confusion and province-blind lookups.

    Three dicts: by text, by canonical text, and by canonical text without the province. Any
    non-empty text can be stored (staff type odd plates); only plates that start with a province
    or 使 take part in the province rules. Not thread-safe: use it from one thread or event loop.
    """

    __slots__ = ("_by_canon", "_by_rest", "_values")

    def __init__(self) -> None:
        self._values: dict[str, V] = {}
        self._by_canon: dict[str, _Bucket] = {}
        self._by_rest: dict[str, _Bucket] = {}

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, plate: object) -> bool:
        return isinstance(plate, str) and normalize(plate) in self._values

    def add(self, plate: str, value: V) -> None:
        """Store ``value`` under the normalised plate; adding the same plate again replaces it."""
        text = normalize(plate)
        if not text:
            raise ValueError(f"不能登记空号牌 / cannot index an empty plate: {plate!r}")
        if text in self._values:
            self._values[text] = value
            return
        self._values[text] = value
        canon = text.translate(_CANON_TABLE)
        if canon == text:
            canon = text  # share the string: most plates have no confusable letter
        _bucket_add(self._by_canon, canon, text)
        rest = _rest_key(text, canon)
        if rest is not None:
            _bucket_add(self._by_rest, rest, text)

    def remove(self, plate: str) -> None:
        """Forget a plate; KeyError when it is not stored."""
        text = normalize(plate)
        del self._values[text]
        canon = text.translate(_CANON_TABLE)
        _bucket_remove(self._by_canon, canon, text)
        rest = _rest_key(text, canon)
        if rest is not None:
            _bucket_remove(self._by_rest, rest, text)

    def lookup(self, raw: str, strictness: Strictness = Strictness.OCR) -> Lookup[V]:
        """The stored plate for a read under the best rule that fits; ambiguity stops the search."""
        read = normalize(raw)
        if not read:
            return Lookup()
        values = self._values
        if read in values:
            return Lookup(Match(read, values[read], MatchRule.EXACT, read))
        if strictness is Strictness.EXACT:
            return Lookup()
        canon = read.translate(_CANON_TABLE)
        held = self._by_canon.get(canon)
        if held is not None:
            return self._answer(held, MatchRule.OCR_CONFUSION, read)
        if strictness is Strictness.OCR:
            return Lookup()
        if read[0] in _ALNUM:  # the camera missed the province character
            held = self._by_rest.get(canon)
            rule = MatchRule.PROVINCE_MISSING
        else:  # any other leading character stands where the province is
            held = self._by_rest.get(canon[1:])
            rule = MatchRule.PROVINCE_DIFFERS
        if held is None:
            return Lookup()
        return self._answer(held, rule, read)

    def _answer(self, held: _Bucket, rule: MatchRule, read: str) -> Lookup[V]:
        if isinstance(held, str):
            return Lookup(Match(held, self._values[held], rule, read))
        return Lookup(None, tuple(sorted(held)))
