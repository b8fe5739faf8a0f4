"""MQTT topic names of the contract (DESIGN §2). MQTT 3.1.1 only: nothing from MQTT 5."""

from __future__ import annotations

import re

PREFIX = "courtyard/v1"
SITE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
INGEST_FILTER = f"{PREFIX}/+/up/#"
INGEST_SHARED_FILTER = f"$share/ingest/{INGEST_FILTER}"


def up_events(site: str) -> str:
    return f"{PREFIX}/{site}/up/events"


def up_status(site: str) -> str:
    return f"{PREFIX}/{site}/up/status"


def up_health(site: str) -> str:
    """The edge's health report (``contract.health``): QoS 1, not retained."""
    return f"{PREFIX}/{site}/up/health"


def up_cmd_reply(site: str) -> str:
    return f"{PREFIX}/{site}/up/cmd-reply"


def down_ack(site: str) -> str:
    return f"{PREFIX}/{site}/down/ack"


def down_sync(site: str) -> str:
    return f"{PREFIX}/{site}/down/sync"


def down_cmd(site: str) -> str:
    return f"{PREFIX}/{site}/down/cmd"


def down_filter(site: str) -> str:
    return f"{PREFIX}/{site}/down/#"


def parse(topic: str) -> tuple[str, str, str] | None:
    """Split ``courtyard/v1/{site}/{up|down}/{name}``; None when it is not ours."""
    parts = topic.split("/")
    if len(parts) != 5 or f"{parts[0]}/{parts[1]}" != PREFIX or parts[3] not in ("up", "down"):
        return None
    if not SITE_RE.match(parts[2]):
        return None
    return parts[2], parts[3], parts[4]
