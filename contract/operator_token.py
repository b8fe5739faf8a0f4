"""The edge operator token: a staff credential the console signs and the edge checks offline.

The booth, the guard room and the linkage reset act on gates and fire linkage at the edge,
which must keep working with the cloud unreachable, so the edge cannot ask the console who is
asking. Instead the console signs a short-lived token for one staff member and one site with a
key derived from that site's secret (the site's MQTT password, which both sides already hold):

    cy1.<b64url(JSON {site, sub, name, role, iat, exp})>.<b64url(HMAC-SHA256(key, "cy1." + body))>

``key = HMAC-SHA256(site secret, "courtyard edge operator v1")``: a token never reveals the
site secret and cannot be replayed as one. ``iat`` and ``exp`` are Unix seconds (UTC).
What each role may do at the edge is ``EDGE_ACTIONS``, read by both sides (the console issues
tokens only to roles that may do something there; the edge refuses an action the role lacks).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

PREFIX: Final = "cy1"
KEY_LABEL: Final = b"courtyard edge operator v1"
#: One guard's shift: long enough to last it, short enough that a lost token soon expires.
DEFAULT_LIFETIME: Final = timedelta(hours=12)
MAX_LIFETIME: Final = timedelta(hours=24)
MAX_TOKEN_CHARS: Final = 2048
#: Clock skew between console and edge tolerated on ``iat``.
SKEW: Final = timedelta(minutes=5)

#: Edge action → roles that may do it. ``read_lanes``: the booth's view of its lanes;
#: ``open_gate``: a manual barrier opening; ``take_payment``: a payment taken at the booth
#: (it opens the exit and reaches the cloud as money); ``reset_linkage``: end a fire linkage;
#: ``open_door``: open a door for a visitor pass checked at the booth (the roles the console
#: lets send ``door.open``, i.e. hold ``alarms.act``).
EDGE_ACTIONS: Final[dict[str, frozenset[str]]] = {
    "read_lanes": frozenset({"admin", "guard", "operations_lead", "customer_service"}),
    "open_gate": frozenset({"admin", "guard", "operations_lead"}),
    "take_payment": frozenset({"admin", "guard", "operations_lead"}),
    "reset_linkage": frozenset({"admin", "guard", "operations_lead"}),
    "open_door": frozenset({"admin", "guard", "operations_lead"}),
}


class OperatorTokenError(ValueError):
    """The token is refused; ``reason`` is a stable code, the message zh / en."""

    def __init__(self, reason: str, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class OperatorToken:
    """Who the token names: ``sub`` is the console's actor ref (``user:12``), ``name`` the
    display name, ``role`` the staff role (``cloud.auth.roles``)."""

    site: str
    sub: str
    name: str
    role: str
    iat: datetime
    exp: datetime

    def may(self, action: str) -> bool:
        """Whether this token's role may do ``action`` (a key of ``EDGE_ACTIONS``)."""
        return self.role in EDGE_ACTIONS.get(action, frozenset())

    def who(self) -> dict[str, str]:
        """The operator as events and answers name it."""
        return {"sub": self.sub, "name": self.name, "role": self.role}


def roles_with_any_action() -> frozenset[str]:
    return frozenset().union(*EDGE_ACTIONS.values())


def signing_key(site_secret: str) -> bytes:
    return hmac.new(site_secret.encode("utf-8"), KEY_LABEL, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _epoch(when: datetime) -> int:
    if when.tzinfo is None:
        raise ValueError("times must be timezone-aware (UTC)")
    return int(when.timestamp())


def issue(site_secret: str, *, site: str, sub: str, name: str, role: str, now: datetime,
          lifetime: timedelta = DEFAULT_LIFETIME) -> str:
    """A signed token for ``sub`` at ``site`` valid from ``now`` for ``lifetime``."""
    if not site_secret:
        raise ValueError("a site secret is needed to sign an operator token")
    if not timedelta(0) < lifetime <= MAX_LIFETIME:
        raise ValueError(f"lifetime must be > 0 and ≤ {MAX_LIFETIME}")
    claims = {"site": site, "sub": sub, "name": name, "role": role, "iat": _epoch(now),
              "exp": _epoch(now + lifetime)}
    body = _b64(json.dumps(claims, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    signed = f"{PREFIX}.{body}"
    mac = hmac.new(signing_key(site_secret), signed.encode("ascii"), hashlib.sha256).digest()
    return f"{signed}.{_b64(mac)}"


def _bad(reason: str = "malformed") -> OperatorTokenError:
    return OperatorTokenError(reason, "操作令牌无效", "the operator token is not valid")


def _claim(claims: dict[str, Any], key: str, kind: type) -> Any:
    value = claims.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) or value in ("", None):
        raise _bad()
    return value


def verify(token: str, site_secret: str, *, site: str, now: datetime) -> OperatorToken:
    """The token's claims when its signature, site and lifetime hold; else OperatorTokenError
    (``malformed``, ``signature``, ``site``, ``expired``, ``not_yet_valid``)."""
    if not site_secret:
        raise OperatorTokenError("no_secret", "边缘未配置站点密钥，无法校验操作令牌",
                                 "the edge has no site secret to check operator tokens with")
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not token.isascii():
        raise _bad()
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise _bad()
    try:
        mac = _unb64(parts[2])
    except ValueError:
        raise _bad() from None
    want = hmac.new(signing_key(site_secret), f"{parts[0]}.{parts[1]}".encode("ascii"),
                    hashlib.sha256).digest()
    if not hmac.compare_digest(mac, want):
        raise _bad("signature")
    try:
        claims = json.loads(_unb64(parts[1]))
    except ValueError:
        raise _bad() from None
    if not isinstance(claims, dict):
        raise _bad()
    if _claim(claims, "site", str) != site:
        raise OperatorTokenError("site", "操作令牌属于其他站点",
                                 "the operator token is for another site")
    iat = datetime.fromtimestamp(_claim(claims, "iat", int), UTC)
    exp = datetime.fromtimestamp(_claim(claims, "exp", int), UTC)
    if now >= exp:
        raise OperatorTokenError("expired", "操作令牌已过期，请在管理台重新获取",
                                 "the operator token has expired: get a new one from the "
                                 "console")
    if iat - SKEW > now or exp - iat > MAX_LIFETIME:
        raise OperatorTokenError("not_yet_valid", "操作令牌时间无效", "the operator token's "
                                 "times are not valid")
    return OperatorToken(site=site, sub=_claim(claims, "sub", str),
                         name=_claim(claims, "name", str), role=_claim(claims, "role", str),
                         iat=iat, exp=exp)
