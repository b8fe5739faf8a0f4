"""Edge operator tokens for tests: minted with the contract codec and the site secret, as the
console's ``POST /api/sites/{site}/edge-token`` does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contract.operator_token import DEFAULT_LIFETIME, issue


def mint(secret: str, site: str, *, role: str = "guard", name: str = "值班保安 Wang",
         sub: str = "user:7", now: datetime | None = None,
         lifetime: timedelta = DEFAULT_LIFETIME) -> str:
    return issue(secret, site=site, sub=sub, name=name, role=role,
                 now=now or datetime.now(UTC), lifetime=lifetime)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def guard_headers(secret: str, site: str, **kw: object) -> dict[str, str]:
    """``Authorization`` for a guard of ``site`` (extra keywords as for ``mint``)."""
    return bearer(mint(secret, site, **kw))  # type: ignore[arg-type]
