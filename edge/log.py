"""structlog setup for the edge: readable on a terminal, JSON lines under a service manager.

Installers read the console during commissioning; log shippers read JSON. The level comes
from ``COURTYARD_LOG_LEVEL`` so a site can be turned to ``debug`` without a code change;
``COURTYARD_LOG_JSON=1``/``0`` overrides the terminal check.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import structlog


def configure_logging(level: str | None = None, json: bool | None = None) -> None:
    name = (level or os.environ.get("COURTYARD_LOG_LEVEL") or "info").upper()
    numeric = logging.getLevelName(name)
    if not isinstance(numeric, int):
        raise ValueError(f"COURTYARD_LOG_LEVEL: unknown level {name!r} "
                         "(debug, info, warning, error)")
    if json is None:
        env = os.environ.get("COURTYARD_LOG_JSON", "").lower()
        json = env in ("1", "true", "yes") if env else not sys.stderr.isatty()
    as_json = json
    renderer: Any = (structlog.processors.JSONRenderer(ensure_ascii=False) if as_json
                     else structlog.dev.ConsoleRenderer())
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    if as_json:
        processors.append(structlog.processors.format_exc_info)
    processors.append(renderer)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=numeric, stream=sys.stderr,
                        format="%(levelname)s %(name)s %(message)s")
