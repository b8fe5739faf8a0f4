"""Logging for the cloud process: structlog on top of stdlib logging.

Libraries we embed (aiohttp's access log, Alembic) log through stdlib; routing both into
one stream keeps a single, timestamped, greppable log per process. ``json_lines`` (the
console's ``COURTYARD_LOG_JSON``, read by ``cloud.settings``) switches to one JSON object per
line for log shippers.
"""

from __future__ import annotations

import logging
import sys

import structlog

_QUIET = {"aiohttp.access": logging.WARNING, "alembic": logging.WARNING}


def configure_logging(level: str = "INFO", json_lines: bool = False) -> None:
    """Configure structlog and stdlib logging once, at process start (values from Settings)."""
    lvl = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False) if json_lines
        else structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(lvl)
    for name, quiet in _QUIET.items():
        logging.getLogger(name).setLevel(max(quiet, lvl))
