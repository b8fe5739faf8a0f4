"""Licence plates shown in full only to roles holding ``plates.read`` (issue 16 §3).

A plate names a household's car: a list of them with their units is a map of who lives where
and drives what. Roles that register vehicles, sell monthly passes or answer residents hold
``plates.read``; others (a guard at the lane, a technician) see ``沪A·***23``: enough to match
a read to the car in front of them, not enough to collect residents' plates. The masking is a
response filter on the handlers that show plates, so a handler cannot forget a field.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from cloud.auth.audit import Actor, actor_of
from cloud.web.respond import dumps

PLATES_READ = "plates.read"
#: The JSON keys that hold a plate.
PLATE_KEYS = frozenset({"plate", "plate_raw"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def mask_plate(plate: Any) -> Any:
    """``沪A12345`` → ``沪A·***45``: the province and city letter, then the last two
    characters. Short or odd text is starred whole."""
    if not isinstance(plate, str) or not plate:
        return plate
    text = plate.replace("·", "").replace(" ", "")
    if len(text) <= 4:
        return "*" * len(text)
    return f"{text[:2]}·***{text[-2:]}"


def shows_plates(actor: Actor) -> bool:
    return actor.can(PLATES_READ)


def mask_plates(value: Any) -> Any:
    """A copy of a JSON value with every plate key's value masked, at any depth."""
    if isinstance(value, dict):
        return {k: mask_plate(v) if k in PLATE_KEYS else mask_plates(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [mask_plates(v) for v in value]
    return value


def plates_masked(handler: Handler) -> Handler:
    """``handler`` whose JSON answers have their plates masked for actors without
    ``plates.read`` (images and other bodies pass unchanged)."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        resp = await handler(request)
        if (shows_plates(actor_of(request)) or not isinstance(resp, web.Response)
                or resp.content_type != "application/json" or not resp.body):
            return resp
        body = resp.body
        raw = body if isinstance(body, bytes | bytearray) else None
        if raw is None:
            return resp
        resp.body = dumps(mask_plates(json.loads(raw))).encode()
        return resp

    return wrapped
