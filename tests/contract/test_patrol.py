"""The patrol contract: one key per tag whatever form it is written in, and signed stickers."""

from __future__ import annotations

import pytest

from contract.patrol import (
    Sticker,
    StickerRefused,
    eddystone_key,
    ibeacon_key,
    sign_sticker,
    tag_key,
    verify_sticker,
)
from contract.visitor_pass import PassClaims
from contract.visitor_pass import sign as sign_pass

VECTOR = "ibeacon:426c7565-4368-6172-6d42-6561636f6e73:3838:4949"  # PROTOCOLS.md vector 6


@pytest.mark.parametrize("written", [
    VECTOR,
    "iBeacon:426c7565-4368-6172-6d42-6561636f6e73-3838-4949",  # ESPresense
    "426C7565436861726D426561636F6E73 3838 4949",  # Theengs: no dashes, any case
    "426c7565-4368-6172-6d42-6561636f6e73, 3838, 4949",
])
def test_every_written_form_of_an_ibeacon_gives_one_key(written: str) -> None:
    assert tag_key(written) == VECTOR


def test_negative_major_minor_from_theengs_are_the_unsigned_values() -> None:
    assert ibeacon_key("426c7565436861726d426561636f6e73", -32768, -1) == (
        "ibeacon:426c7565-4368-6172-6d42-6561636f6e73:32768:65535")


def test_eddystone_uid_forms() -> None:
    key = eddystone_key("EDD1EBEAC04E5DEFA017", "0BDB87539B67")
    assert key == "eddystone:edd1ebeac04e5defa017:0bdb87539b67"
    assert tag_key("edd1ebeac04e5defa017:0bdb87539b67") == key
    assert tag_key(key) == key


@pytest.mark.parametrize("bad", ["", "hello", "426c7565 70000 1", "eddystone:zz:00"])
def test_a_tag_that_cannot_be_one_is_refused_saying_what_is_expected(bad: str) -> None:
    with pytest.raises(ValueError, match="UUID major minor"):
        tag_key(bad)


def test_a_sticker_verifies_for_its_site_only_and_resists_tampering() -> None:
    token = sign_sticker("s3cret", Sticker(site="demo", checkpoint="cp-gate", n=2))
    assert verify_sticker("s3cret", token, "demo") == Sticker("demo", "cp-gate", 2)
    with pytest.raises(StickerRefused) as other:
        verify_sticker("s3cret", token, "other")
    assert other.value.reason == "other_site"
    with pytest.raises(StickerRefused) as forged:
        verify_sticker("guessed", token, "demo")
    assert forged.value.reason == "bad_signature"
    head, body, mac = token.split(".")
    with pytest.raises(StickerRefused):
        verify_sticker("s3cret", f"{head}.{body[:-2]}xx.{mac}", "demo")


def test_a_visitor_pass_is_never_taken_for_a_sticker() -> None:
    token = sign_pass("s3cret", PassClaims(id=1, site="demo", doors=("*",), valid_from=1,
                                           valid_to=2, uses=1))
    with pytest.raises(StickerRefused) as refused:
        verify_sticker("s3cret", token, "demo")
    assert refused.value.reason == "malformed"
