"""HTTP credentials a camera sends with its pushes: Basic, or Digest (RFC 7616, MD5, qop=auth).

Hikvision's HTTP listening ("alarm host") can be given a user name and password and then
answers our ``401`` challenge with Digest (``httpAuthenticationMethod: MD5digest``) or sends
Basic; Vzenith's push sends none, so its cameras are admitted by address only. The source
address check runs first either way: credentials add to it, they never replace it.

Digest nonces are stateless (HMAC of their issue time with a per-process key) and live
``NONCE_TTL_S``; a (nonce, cnonce, nc) seen once is refused again, so a header sniffed off
the lane network cannot be replayed with another body. Basic travels in clear text: prefer
Digest where the camera offers it, and a separate camera VLAN either way.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

REALM = "courtyard-lpr"
NONCE_TTL_S = 300.0
_SEEN_MAX = 4096


@dataclass(frozen=True, slots=True)
class HttpCredential:
    username: str
    password: str = field(repr=False)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def _split_params(text: str) -> dict[str, str]:
    """``a="x, y", b=z`` → ``{"a": "x, y", "b": "z"}`` (quoted values may hold commas)."""
    out: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " ,\t":
            i += 1
        eq = text.find("=", i)
        if eq < 0:
            break
        key = text[i:eq].strip().lower()
        i = eq + 1
        if i < n and text[i] == '"':
            end = i + 1
            value = []
            while end < n and text[end] != '"':
                if text[end] == "\\" and end + 1 < n:
                    end += 1
                value.append(text[end])
                end += 1
            out[key] = "".join(value)
            i = end + 1
        else:
            end = text.find(",", i)
            end = n if end < 0 else end
            out[key] = text[i:end].strip()
            i = end
    return out


class CameraAuth:
    """Checks the ``Authorization`` header of a push against a camera's credential."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._key = os.urandom(32)
        self._now = monotonic
        self._seen: OrderedDict[tuple[str, str, str], float] = OrderedDict()

    def challenges(self) -> list[str]:
        """``WWW-Authenticate`` values for a 401: Digest first (preferred), then Basic."""
        return [f'Digest realm="{REALM}", qop="auth", algorithm=MD5, nonce="{self._nonce()}"',
                f'Basic realm="{REALM}", charset="UTF-8"']

    def check(self, header: str | None, method: str, cred: HttpCredential) -> bool:
        """Whether ``header`` proves ``cred`` for this request."""
        if not header:
            return False
        scheme, _, rest = header.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            return self._basic(rest.strip(), cred)
        if scheme == "digest":
            return self._digest(_split_params(rest), method, cred)
        return False

    def _basic(self, token: str, cred: HttpCredential) -> bool:
        try:
            user, sep, password = base64.b64decode(token, validate=True).decode(
                "utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        ok_user = hmac.compare_digest(user.encode(), cred.username.encode())
        ok_password = hmac.compare_digest(password.encode(), cred.password.encode())
        return bool(sep) and ok_user and ok_password

    def _nonce(self) -> str:
        # Whole milliseconds, rounded down: a nonce answered within the same millisecond is
        # never "issued in the future" (rounding up made it so, and refused a good camera).
        issued = str(int(self._now() * 1000))
        mac = hmac.new(self._key, issued.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{issued}:{mac}"

    def _fresh(self, nonce: str) -> bool:
        issued, _, mac = nonce.partition(":")
        want = hmac.new(self._key, issued.encode(), hashlib.sha256).hexdigest()[:32]
        if not hmac.compare_digest(mac.encode(), want.encode()):
            return False
        try:
            age = self._now() - int(issued) / 1000
        except ValueError:
            return False
        return 0 <= age <= NONCE_TTL_S

    def _digest(self, p: dict[str, str], method: str, cred: HttpCredential) -> bool:
        need = ("username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce")
        if any(k not in p for k in need) or p["qop"] != "auth" or p["realm"] != REALM:
            return False
        if p.get("algorithm", "MD5").upper() != "MD5" or not self._fresh(p["nonce"]):
            return False
        if not hmac.compare_digest(p["username"].encode(), cred.username.encode()):
            return False
        ha1 = _md5(f"{cred.username}:{REALM}:{cred.password}")
        ha2 = _md5(f"{method}:{p['uri']}")
        want = _md5(f"{ha1}:{p['nonce']}:{p['nc']}:{p['cnonce']}:auth:{ha2}")
        if not hmac.compare_digest(p["response"].lower().encode(), want.encode()):
            return False
        key = (p["nonce"], p["cnonce"], p["nc"])
        if key in self._seen:
            return False  # a replayed header
        self._seen[key] = self._now()
        while len(self._seen) > _SEEN_MAX:
            self._seen.popitem(last=False)
        return True
