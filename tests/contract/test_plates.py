"""Chinese plates: formats, normalisation and fuzzy whitelist lookups (docs/protocols.md §3)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parkingrules import plates
from parkingrules.plates import (
    MatchRule,
    PlateColour,
    PlateIndex,
    PlateKind,
    Strictness,
    canonical,
    colour_from_vzenith,
    kind_hint_from_vzenith,
    normalize,
    parse,
    with_camera_colour,
)

K = PlateKind
C = PlateColour


# --- formats ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "kind", "province", "colour", "size"),
    [
        ("京A12345", K.ORDINARY, "京", C.BLUE, "small"),
        ("苏E5Y2C1", K.ORDINARY, "苏", C.BLUE, "small"),
        ("川AB1234", K.ORDINARY, "川", C.BLUE, "small"),
        ("粤BD12345", K.NEW_ENERGY_SMALL, "粤", C.GREEN, "small"),
        ("沪AF12345", K.NEW_ENERGY_SMALL, "沪", C.GREEN, "small"),
        ("粤BDF1234", K.NEW_ENERGY_SMALL, "粤", C.GREEN, "small"),  # letter allowed in position 4
        ("粤B12345D", K.NEW_ENERGY_LARGE, "粤", C.YELLOW_GREEN, "large"),
        ("京A12345F", K.NEW_ENERGY_LARGE, "京", C.YELLOW_GREEN, "large"),
        ("鲁A1234挂", K.TRAILER, "鲁", C.YELLOW, "large"),
        ("京A1234学", K.COACH, "京", C.YELLOW, "large"),
        ("粤B1234警", K.POLICE, "粤", C.WHITE, "small"),
        ("粤Z1234港", K.HONG_KONG, "粤", C.BLACK, "small"),
        ("粤Z9065澳", K.MACAU, "粤", C.BLACK, "small"),  # Vzenith test vector
        ("使014578", K.EMBASSY, None, C.BLACK, "small"),
        ("沪A1234领", K.CONSULATE, "沪", C.BLACK, "small"),
    ],
)
def test_valid_formats(
    raw: str, kind: PlateKind, province: str | None, colour: PlateColour, size: str
) -> None:
    info = parse(raw)
    assert (info.text, info.kind, info.province, info.colour) == (raw, kind, province, colour)
    assert info.vehicle_class == size
    assert info.is_new_energy == (kind in (K.NEW_ENERGY_SMALL, K.NEW_ENERGY_LARGE))
    assert info.problem is None
    assert info.valid


@pytest.mark.parametrize("raw", ["_无_", "＿无＿", "无车牌", "", "  ", "·-"])
def test_no_plate_read_is_kind_none(raw: str) -> None:
    assert normalize(raw) == ""
    info = parse(raw)
    assert (info.kind, info.text, info.problem, info.colour) == (K.NONE, "", None, C.UNKNOWN)
    assert not info.valid


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("京A1234", "7或8位"),  # 6 characters
        ("京A123456789", "7或8位"),
        ("粤I12345", "第2位应为字母"),  # I reads as 1, and a digit cannot stand in position 2
        ("粤O12345", "第2位应为字母"),
        ("台A12345", "未知省份"),
        ("AB12345", "缺少省份"),
        ("京A12#45", "第3–6位"),
        ("京A1234车", "末位"),
        ("京A1234港", "粤Z"),
        ("使01457A", "使馆"),  # letter where digits must be
        ("沪A12B4领", "领馆"),
        ("沪B1234领", "领馆"),
        ("粤B12A45D", "第3–7位须为数字"),
        ("粤BD1234A", "后4位须为数字"),  # small NEV with letters at the end
        ("粤BDF12A4", "后4位须为数字"),
        ("粤B123456", "D或F"),
    ],
)
def test_invalid_plates_say_why(raw: str, reason: str) -> None:
    info = parse(raw)
    assert info.kind is K.INVALID
    assert info.problem is not None
    assert reason in info.problem
    zh, en = info.problem.split(" / ")
    assert zh and en and not zh.isascii()
    assert info.colour is C.UNKNOWN and not info.is_new_energy


def test_invalid_keeps_known_province() -> None:
    assert parse("京A1234").province == "京"
    assert parse("台A12345").province is None


def test_i_and_o_read_as_digits() -> None:
    assert normalize("粤BOI234") == "粤B01234"
    assert parse("粤BOI234").kind is K.ORDINARY
    assert normalize("粤bdo1234") == "粤BD01234"


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("粤Ｂ１２３４５", "粤B12345"),  # full-width
        ("粤ｂ·ｏｌ234", "粤B0L234"),
        (" 京 a-123 45 ", "京A12345"),
        ("京A・12345", "京A12345"),  # katakana middle dot
        ("京A‧12345", "京A12345"),
        ("京A•12345", "京A12345"),
        ("京A.123_45", "京A12345"),
        ("京A\u200b12345", "京A12345"),  # zero-width space
        ("京A－１２３４５", "京A12345"),
        ("\u3000沪AD12345\t", "沪AD12345"),
    ],
)
def test_normalize(raw: str, text: str) -> None:
    assert normalize(raw) == text
    assert parse(raw).text == text


# --- camera hints ------------------------------------------------------------------------------


def test_vzenith_colours() -> None:
    assert [colour_from_vzenith(i) for i in range(7)] == [
        C.UNKNOWN,
        C.BLUE,
        C.YELLOW,
        C.WHITE,
        C.BLACK,
        C.GREEN,
        C.YELLOW_GREEN,
    ]
    assert colour_from_vzenith(99) is C.UNKNOWN
    assert colour_from_vzenith(-1) is C.UNKNOWN


def test_vzenith_kinds() -> None:
    assert kind_hint_from_vzenith(1) is K.ORDINARY
    assert kind_hint_from_vzenith(3) is K.ORDINARY
    assert kind_hint_from_vzenith(4) is K.ORDINARY
    assert kind_hint_from_vzenith(5) is K.POLICE
    assert kind_hint_from_vzenith(19) is K.NEW_ENERGY_SMALL
    assert kind_hint_from_vzenith(20) is K.NEW_ENERGY_LARGE
    assert kind_hint_from_vzenith(31) is K.NONE
    assert kind_hint_from_vzenith(14) is None


def test_vzenith_test_vector() -> None:
    info = parse("粤Z9065澳", colour=colour_from_vzenith(4))
    assert (info.kind, info.colour, info.province) == (K.MACAU, C.BLACK, "粤")


def test_yellow_ordinary_plate_is_large() -> None:
    info = parse("鲁B12345", colour=C.YELLOW)
    assert (info.kind, info.colour, info.vehicle_class) == (K.ORDINARY, C.YELLOW, "large")
    assert with_camera_colour(parse("鲁B12345"), C.YELLOW) == info
    assert parse("鲁B12345", colour=C.BLUE).vehicle_class == "small"
    assert parse("鲁B12345", colour=C.UNKNOWN).colour is C.BLUE


def test_camera_colour_cannot_override_fixed_formats() -> None:
    nev = parse("粤BD12345", colour=C.YELLOW)
    assert (nev.colour, nev.vehicle_class) == (C.GREEN, "small")
    assert parse("粤B1234警", colour=C.YELLOW).colour is C.WHITE
    assert parse("鲁B12345", colour=C.GREEN).colour is C.BLUE
    assert parse("京A1234", colour=C.YELLOW).kind is K.INVALID


# --- fuzzy matching ---------------------------------------------------------------------------

PAIRS = [("0", "D"), ("0", "Q"), ("D", "Q"), ("8", "B"), ("2", "Z"), ("5", "S"), ("6", "G")]


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_each_confusion_pair(a: str, b: str) -> None:
    assert canonical(a) == canonical(b)
    index: PlateIndex[str] = PlateIndex()
    index.add(f"粤A1{a}345", "owner")
    assert index.lookup(f"粤A1{b}345", Strictness.EXACT).match is None
    match = index.lookup(f"粤A1{b}345", Strictness.OCR).match
    assert match is not None
    assert (match.plate, match.value, match.rule) == (
        f"粤A1{a}345",
        "owner",
        MatchRule.OCR_CONFUSION,
    )
    assert match.read == f"粤A1{b}345"


def test_one_and_i_already_equal_after_normalize() -> None:
    assert canonical("1") == canonical("I") == "1"
    index: PlateIndex[int] = PlateIndex()
    index.add("粤A11345", 1)
    match = index.lookup("粤AI1345", Strictness.EXACT).match
    assert match is not None and match.rule is MatchRule.EXACT


def test_canonical_normalizes_first() -> None:
    assert canonical("粤ｂｄ·１２３４５") == "粤8012345"
    assert canonical("_无_") == ""


def test_non_confusable_letters_do_not_match() -> None:
    index: PlateIndex[int] = PlateIndex()
    index.add("粤A12345", 1)
    assert index.lookup("粤A12346", Strictness.LENIENT).match is None
    assert index.lookup("粤AX2345", Strictness.LENIENT).match is None


@pytest.fixture
def index() -> PlateIndex[str]:
    idx: PlateIndex[str] = PlateIndex()
    idx.add("粤B12345", "Wang")
    idx.add("湘C88888", "Li")
    idx.add("使014578", "Embassy")
    return idx


def test_strictness_exact(index: PlateIndex[str]) -> None:
    match = index.lookup("粤b·12345", Strictness.EXACT).match
    assert match is not None and (match.value, match.rule) == ("Wang", MatchRule.EXACT)
    assert index.lookup("粤812345", Strictness.EXACT).match is None
    assert index.lookup("B12345", Strictness.EXACT).match is None


def test_strictness_ocr(index: PlateIndex[str]) -> None:
    match = index.lookup("粤812345", Strictness.OCR).match
    assert match is not None and (match.plate, match.rule) == ("粤B12345", MatchRule.OCR_CONFUSION)
    assert index.lookup("B12345", Strictness.OCR).match is None
    assert index.lookup("桂B12345", Strictness.OCR).match is None


def test_strictness_lenient(index: PlateIndex[str]) -> None:
    missing = index.lookup("B12345", Strictness.LENIENT).match
    assert missing is not None
    assert (missing.plate, missing.rule) == ("粤B12345", MatchRule.PROVINCE_MISSING)
    differs = index.lookup("桂B12345", Strictness.LENIENT).match
    assert differs is not None
    assert (differs.plate, differs.rule) == ("粤B12345", MatchRule.PROVINCE_DIFFERS)
    both = index.lookup("桂8I2345", Strictness.LENIENT).match  # other province and OCR noise
    assert both is not None and both.rule is MatchRule.PROVINCE_DIFFERS
    assert both.read == "桂812345"
    embassy = index.lookup("014578", Strictness.LENIENT).match
    assert embassy is not None and embassy.value == "Embassy"
    ocr = index.lookup("湘CB8888", Strictness.LENIENT).match
    assert ocr is not None and ocr.rule is MatchRule.OCR_CONFUSION


def test_default_strictness_is_ocr(index: PlateIndex[str]) -> None:
    assert index.lookup("湘CB8888").match is not None
    assert index.lookup("C88888").match is None


def test_ambiguity_is_no_match() -> None:
    index: PlateIndex[int] = PlateIndex()
    index.add("粤A10345", 1)
    index.add("粤A1D345", 2)
    result = index.lookup("粤A1Q345", Strictness.LENIENT)
    assert result.match is None
    assert result.ambiguous == ("粤A10345", "粤A1D345")


def test_exact_beats_fuzzy() -> None:
    index: PlateIndex[int] = PlateIndex()
    index.add("粤A10345", 1)
    index.add("粤A1D345", 2)
    for read, value in [("粤A10345", 1), ("粤A1D345", 2)]:
        result = index.lookup(read, Strictness.LENIENT)
        assert result.match is not None and result.ambiguous == ()
        assert (result.match.value, result.match.rule) == (value, MatchRule.EXACT)


def test_ocr_beats_province_rules() -> None:
    index: PlateIndex[int] = PlateIndex()
    index.add("粤B12345", 1)
    index.add("湘B12345", 2)
    match = index.lookup("湘812345", Strictness.LENIENT).match
    assert match is not None and (match.value, match.rule) == (2, MatchRule.OCR_CONFUSION)


def test_province_rules_can_be_ambiguous() -> None:
    index: PlateIndex[int] = PlateIndex()
    index.add("粤B12345", 1)
    index.add("湘B12345", 2)
    for read in ("B12345", "桂B12345"):
        result = index.lookup(read, Strictness.LENIENT)
        assert result.match is None
        assert result.ambiguous == tuple(sorted(("粤B12345", "湘B12345")))


def test_no_plate_read_never_matches(index: PlateIndex[str]) -> None:
    assert index.lookup("_无_", Strictness.LENIENT) == plates.Lookup()
    with pytest.raises(ValueError, match="空号牌"):
        index.add("_无_", "x")


def test_add_replace_remove_contains(index: PlateIndex[str]) -> None:
    assert len(index) == 3
    assert "粤ｂ12345" in index and "粤812345" not in index and 42 not in index
    index.add("粤B 12345", "Zhang")
    assert len(index) == 3
    match = index.lookup("粤B12345").match
    assert match is not None and match.value == "Zhang"
    index.remove("粤b12345")
    assert len(index) == 2 and "粤B12345" not in index
    assert index.lookup("粤812345", Strictness.LENIENT).match is None
    with pytest.raises(KeyError):
        index.remove("粤B12345")


def test_removing_one_of_a_collision_resolves_it() -> None:
    index: PlateIndex[int] = PlateIndex()
    for value, plate in enumerate(["粤A10345", "粤A1D345", "粤A1Q345"]):
        index.add(plate, value)
    index.remove("粤A1D345")
    assert index.lookup("粤A10345").match is not None
    assert index.lookup("京A10345", Strictness.LENIENT).ambiguous == ("粤A10345", "粤A1Q345")
    index.remove("粤A1Q345")
    match = index.lookup("粤A1D345").match
    assert match is not None and (match.plate, match.rule) == ("粤A10345", MatchRule.OCR_CONFUSION)
    match = index.lookup("京A1D345", Strictness.LENIENT).match
    assert match is not None and match.rule is MatchRule.PROVINCE_DIFFERS


def test_plates_without_province_are_stored_but_not_province_matched() -> None:
    index: PlateIndex[int] = PlateIndex()
    index.add("B12345", 1)
    assert index.lookup("812345").match is not None
    assert index.lookup("粤B12345", Strictness.LENIENT).match is None


# --- properties -------------------------------------------------------------------------------


@given(st.text())
def test_normalize_is_idempotent(raw: str) -> None:
    once = normalize(raw)
    assert normalize(once) == once


@given(st.text(alphabet=st.sampled_from(list("京粤使领挂港澳无_·-. ＡａＯoIi0DQ8B1Z2S5G6"))))
def test_normalize_is_idempotent_on_plate_like_text(raw: str) -> None:
    once = normalize(raw)
    assert normalize(once) == once


@given(st.text(), st.sampled_from([None, *PlateColour]))
def test_parse_never_raises(raw: str, colour: PlateColour | None) -> None:
    info = parse(raw, colour=colour)
    assert info.text == normalize(raw)
    assert (info.problem is None) == (info.kind is not K.INVALID)


_PROVINCE = st.sampled_from(sorted(plates.PROVINCES))
_LETTER = st.sampled_from("ABCDEFGHJKLMNPQRSTUVWXYZ")
_ALNUM = st.sampled_from("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789")
_PLATE = st.tuples(_PROVINCE, _LETTER, st.lists(_ALNUM, min_size=5, max_size=6)).map(
    lambda t: t[0] + t[1] + "".join(t[2])
)
_CLASSES = ["0DQ", "8B", "1I", "2Z", "5S", "6G"]
_CLASS_OF = {c: cls for cls in _CLASSES for c in cls}


def _variant(draw: st.DrawFn, plate: str) -> str:
    chars = [draw(st.sampled_from(_CLASS_OF.get(c, c))) for c in plate]
    return "".join(draw(st.sampled_from([c, c.lower()])) for c in chars)


@given(st.data())
def test_every_confusion_variant_is_found(data: st.DataObject) -> None:
    stored = data.draw(st.lists(_PLATE, min_size=1, max_size=20, unique_by=canonical))
    index: PlateIndex[int] = PlateIndex()
    for value, plate in enumerate(stored):
        index.add(plate, value)
    target = data.draw(st.integers(0, len(stored) - 1))
    read = data.draw(st.composite(lambda draw: _variant(draw, stored[target]))())
    result = index.lookup(read, Strictness.OCR)
    assert result.match is not None
    assert (result.match.plate, result.match.value) == (stored[target], target)
    assert result.match.rule in (MatchRule.EXACT, MatchRule.OCR_CONFUSION)
    assert index.lookup(read, Strictness.LENIENT).match == result.match


# --- dependencies -----------------------------------------------------------------------------


def test_module_imports_standard_library_only() -> None:
    tree = ast.parse(Path(plates.__file__).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    assert names <= set(sys.stdlib_module_names) | {"__future__"}
