"""The visitor pass: a signed token the console issues and the edge checks offline.

A resident's visitor (or a courier) is given a QR code; the reader at the door hands its text
to the edge, which must decide with the cloud unreachable. The console signs the pass with a
key derived from the site's secret (the site's MQTT password, which both sides already hold),
with its own label so that a pass can never be taken for an operator token or the reverse::

    cyp1.<b64url(canonical JSON claims)>.<b64url(HMAC-SHA256(key, "cyp1." + body))>

``key = HMAC-SHA256(site secret, "courtyard visitor pass v1")``. The claims are what the door
needs and nothing about the person (the code is printed and photographed: PIPL)::

    {"doors": ["b1-lobby"], "from": 1765000000, "id": 12, "site": "demo",
     "to": 1765086400, "uses": 2}

Canonical JSON: keys sorted, no spaces, ASCII only; ``from`` / ``to`` Unix seconds (UTC),
``to`` after ``from``; ``doors`` sorted, ``["*"]`` is every door; ``uses`` ≥ 1. The same claims
always give the same token, so the console keeps the claims and signs again when asked for
the QR image instead of storing the token. The window and the uses left are the edge's to
enforce (uses are counted there); the revoked list reaches it with the access dataset.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Final

PREFIX: Final = "cyp1"
KEY_LABEL: Final = b"courtyard visitor pass v1"
#: What the console issues: a QR code this long (version 11 at level M, 61 modules) is read
#: from a phone screen at arm's length. A pass for two doors of a short-named site is ~170.
MAX_TOKEN_CHARS: Final = 240
#: What the edge looks at (a longer string is refused before any decoding).
MAX_READ_CHARS: Final = 512
#: The numeric form: a QR reader set to Wiegand output sends this many digits as a number.
CODE_DIGITS: Final = 9
ALL_DOORS: Final = "*"


class PassRefused(ValueError):
    """The pass is refused; ``reason`` is a stable code (``malformed``, ``bad_signature``,
    ``other_site``, ``not_yet_valid``, ``expired``), the message zh / en."""

    def __init__(self, reason: str, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.reason, self.zh, self.en = reason, zh, en


@dataclass(frozen=True, slots=True)
class PassClaims:
    """What one pass allows: ``valid_from`` / ``valid_to`` are Unix seconds (UTC)."""

    id: int
    site: str
    doors: tuple[str, ...]
    valid_from: int
    valid_to: int
    uses: int

    def __post_init__(self) -> None:
        if not _whole(self.id) or self.id <= 0:
            raise ValueError("id must be a whole number > 0")
        if not isinstance(self.site, str) or not self.site or not self.site.isascii():
            raise ValueError("site must be a non-empty ASCII slug")
        if (not self.doors or not all(isinstance(d, str) and d and d.isascii()
                                      for d in self.doors)):
            raise ValueError("doors must be a non-empty list of ASCII door keys")
        if not (_whole(self.valid_from) and _whole(self.valid_to)
                and self.valid_to > self.valid_from):
            raise ValueError("valid_to must be after valid_from (Unix seconds)")
        if not _whole(self.uses) or self.uses < 1:
            raise ValueError("uses must be ≥ 1")

    def opens(self, door: str) -> bool:
        return ALL_DOORS in self.doors or door in self.doors

    def as_json(self) -> dict[str, Any]:
        """The claims as signed (keys are the wire names)."""
        return {"doors": sorted(set(self.doors)), "from": self.valid_from, "id": self.id,
                "site": self.site, "to": self.valid_to, "uses": self.uses}


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def signing_key(site_secret: str) -> bytes:
    return hmac.new(site_secret.encode("utf-8"), KEY_LABEL, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or "=" in text:
        raise ValueError("not unpadded base64url")
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def canonical(claims: PassClaims) -> bytes:
    return json.dumps(claims.as_json(), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True).encode("ascii")


def sign(site_secret: str, claims: PassClaims) -> str:
    """The token for ``claims``; ValueError without a secret or when it would be too long
    for a QR code (too many or too long door keys)."""
    if not site_secret:
        raise ValueError("a site secret is needed to sign a visitor pass")
    signed = f"{PREFIX}.{_b64(canonical(claims))}"
    mac = hmac.new(signing_key(site_secret), signed.encode("ascii"), hashlib.sha256).digest()
    token = f"{signed}.{_b64(mac)}"
    if len(token) > MAX_TOKEN_CHARS:
        raise ValueError(f"the pass would be {len(token)} characters, over {MAX_TOKEN_CHARS}:"
                         " name fewer doors")
    return token


def looks_like_pass(text: str) -> bool:
    """Whether a reader's text is meant as a pass (as opposed to some other QR code)."""
    return text.startswith(f"{PREFIX}.")


def _malformed() -> PassRefused:
    return PassRefused("malformed", "通行证无法识别", "the pass cannot be read")


def verify(site_secret: str, token: str, site: str, now: int) -> PassClaims:
    """The claims of a genuine pass for ``site`` whose window holds at ``now`` (Unix
    seconds); else PassRefused. Uses left and revocation are the caller's to check."""
    if not site_secret:
        raise PassRefused("no_secret", "未配置站点密钥，无法校验通行证",
                          "no site secret to check visitor passes with")
    if not isinstance(token, str) or len(token) > MAX_READ_CHARS or not token.isascii():
        raise _malformed()
    parts = token.strip().split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise _malformed()
    try:
        mac, body = _unb64(parts[2]), _unb64(parts[1])
    except (ValueError, binascii.Error):
        raise _malformed() from None
    want = hmac.new(signing_key(site_secret), f"{parts[0]}.{parts[1]}".encode("ascii"),
                    hashlib.sha256).digest()
    if not hmac.compare_digest(mac, want):
        raise PassRefused("bad_signature", "通行证签名无效（伪造或被改动）",
                          "the pass signature is not valid (forged or altered)")
    claims = _claims(body)
    if claims.site != site:
        raise PassRefused("other_site", "通行证属于其他小区", "the pass is for another site")
    if now < claims.valid_from:
        raise PassRefused("not_yet_valid", "通行证尚未生效", "the pass is not valid yet")
    if now >= claims.valid_to:
        raise PassRefused("expired", "通行证已过期", "the pass has expired")
    return claims


def _claims(body: bytes) -> PassClaims:
    try:
        raw = json.loads(body)
    except ValueError:
        raise _malformed() from None
    if not isinstance(raw, dict) or set(raw) != {"doors", "from", "id", "site", "to", "uses"}:
        raise _malformed()
    doors = raw["doors"]
    if not isinstance(doors, list):
        raise _malformed()
    try:
        return PassClaims(id=raw["id"], site=raw["site"], doors=tuple(doors),
                          valid_from=raw["from"], valid_to=raw["to"], uses=raw["uses"])
    except (ValueError, TypeError):
        raise _malformed() from None
