"""Declaring what a handler needs: ``@requires("billing.read")``.

The permission sits on the handler, next to the code it protects, so a module that adds
routes adds their permissions in the same place; the request guard reads it from the matched
handler. An ``/api`` handler without a declaration is refused to everyone but admins (and a
test lists such routes), so forgetting one fails closed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from cloud.auth.roles import PERMISSIONS

H = TypeVar("H", bound=Callable[..., Any])

_ATTR = "__courtyard_permission__"
#: Handlers anyone may call without logging in (health, the login page, the OpenAPI document).
PUBLIC = "public"
#: Handlers any logged-in actor may call (their own account, the page shell).
SIGNED_IN = "signed_in"


def requires(permission: str) -> Callable[[H], H]:
    """Mark a handler as needing ``permission`` (or ``PUBLIC`` / ``SIGNED_IN``)."""
    if permission not in PERMISSIONS and permission not in (PUBLIC, SIGNED_IN):
        raise KeyError(f"unknown permission {permission!r}")

    def mark(handler: H) -> H:
        setattr(handler, _ATTR, permission)
        return handler

    return mark


def permission_of(handler: Callable[..., Any]) -> str | None:
    """What ``handler`` was marked with, or None."""
    return getattr(handler, _ATTR, None)
