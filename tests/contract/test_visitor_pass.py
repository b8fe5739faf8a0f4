"""The visitor pass token: a test vector computed here with hmac / base64 alone, and every
way a pass is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from contract import operator_token
from contract.visitor_pass import MAX_TOKEN_CHARS, PassClaims, PassRefused, sign, verify

SECRET = "s3cret-site-password"
SITE = "demo"
CLAIMS = PassClaims(id=12, site=SITE, doors=("b1-lobby", "gate-n"), valid_from=1765000000,
                    valid_to=1765086400, uses=2)
NOW = 1765000100


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _expected(secret: str, claims_json: bytes) -> str:
    key = hmac.new(secret.encode(), b"courtyard visitor pass v1", hashlib.sha256).digest()
    signed = "cyp1." + _b64(claims_json)
    return signed + "." + _b64(hmac.new(key, signed.encode(), hashlib.sha256).digest())


VECTOR_JSON = (b'{"doors":["b1-lobby","gate-n"],"from":1765000000,"id":12,"site":"demo",'
               b'"to":1765086400,"uses":2}')


def test_the_token_is_the_test_vector() -> None:
    token = sign(SECRET, CLAIMS)
    assert token == _expected(SECRET, VECTOR_JSON)
    assert token.startswith("cyp1.eyJkb29ycyI6WyJiMS1sb2JieSIsImdhdGUtbiJdLCJmcm9tIjo")
    assert len(token) <= 200 <= MAX_TOKEN_CHARS
    assert sign(SECRET, CLAIMS) == token                       # derived again: the same
    assert verify(SECRET, token, SITE, NOW) == CLAIMS


def test_door_order_and_duplicates_do_not_change_the_token() -> None:
    shuffled = PassClaims(12, SITE, ("gate-n", "b1-lobby", "gate-n"), 1765000000, 1765086400, 2)
    assert sign(SECRET, shuffled) == sign(SECRET, CLAIMS)


def test_no_name_or_phone_can_ride_in_the_claims() -> None:
    body = json.loads(base64.urlsafe_b64decode(sign(SECRET, CLAIMS).split(".")[1] + "=="))
    assert set(body) == {"doors", "from", "id", "site", "to", "uses"}


def _reason(token: str, *, secret: str = SECRET, site: str = SITE, now: int = NOW) -> str:
    with pytest.raises(PassRefused) as err:
        verify(secret, token, site, now)
    assert " / " in str(err.value)                             # zh / en
    return err.value.reason


def _flip(text: str, i: int) -> str:
    return text[:i] + ("A" if text[i] != "A" else "B") + text[i + 1:]


def test_tampering_with_each_part_is_refused() -> None:
    prefix, body, mac = sign(SECRET, CLAIMS).split(".")
    assert _reason(f"cyp2.{body}.{mac}") == "malformed"
    assert _reason(f"{prefix}.{_flip(body, 10)}.{mac}") == "bad_signature"
    assert _reason(f"{prefix}.{body}.{_flip(mac, 5)}") == "bad_signature"
    more_uses = _b64(VECTOR_JSON.replace(b'"uses":2', b'"uses":9'))
    assert _reason(f"{prefix}.{more_uses}.{mac}") == "bad_signature"
    assert _reason(f"{prefix}.{body}") == "malformed"
    assert _reason(f"{prefix}.{body}.{mac}.x") == "malformed"
    assert _reason("") == "malformed"
    assert _reason("cyp1.!!!.???") == "malformed"
    assert _reason("cyp1." + "A" * 600 + ".x") == "malformed"


def test_a_signed_but_meaningless_body_is_malformed() -> None:
    token = _expected(SECRET, b'{"id":1}')
    assert _reason(token) == "malformed"
    token = _expected(SECRET, b'{"doors":[],"from":1,"id":1,"site":"demo","to":2,"uses":1}')
    assert _reason(token) == "malformed"


def test_another_sites_pass_and_another_secret_are_refused() -> None:
    other = PassClaims(12, "other", ("*",), 1765000000, 1765086400, 1)
    assert _reason(sign(SECRET, other)) == "other_site"
    assert _reason(sign("another-secret", CLAIMS)) == "bad_signature"


def test_an_operator_token_key_does_not_sign_passes() -> None:
    key = operator_token.signing_key(SECRET)
    signed = "cyp1." + _b64(VECTOR_JSON)
    forged = signed + "." + _b64(hmac.new(key, signed.encode(), hashlib.sha256).digest())
    assert _reason(forged) == "bad_signature"


def test_the_window_is_enforced_at_its_edges() -> None:
    token = sign(SECRET, CLAIMS)
    assert _reason(token, now=1765000000 - 1) == "not_yet_valid"
    assert verify(SECRET, token, SITE, 1765000000) == CLAIMS
    assert verify(SECRET, token, SITE, 1765086399) == CLAIMS
    assert _reason(token, now=1765086400) == "expired"


def test_signing_refuses_what_cannot_make_a_pass() -> None:
    with pytest.raises(ValueError):
        sign("", CLAIMS)
    with pytest.raises(ValueError, match="fewer doors"):
        sign(SECRET, PassClaims(1, SITE, tuple(f"door-{i}" for i in range(20)), 1, 2, 1))
    bads: list[dict[str, Any]] = [{"uses": 0}, {"valid_to": 1765000000}, {"doors": ()},
                                  {"id": 0}]
    for bad in bads:
        with pytest.raises(ValueError):
            PassClaims(**{"id": 1, "site": SITE, "doors": ("*",), "valid_from": 1765000000,
                          "valid_to": 1765000001, "uses": 1, **bad})
    assert _reason(sign(SECRET, CLAIMS), secret="") == "no_secret"
