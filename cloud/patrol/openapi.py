"""OpenAPI: patrol (``/api/sites/{site}/patrol/…``)."""

from __future__ import annotations

from cloud.web.openapi import PATHS

PATHS.update({})
