"""Mosquitto ACL for production: one credential per site, ingest users see every site.

A site's MQTT username must be its slug: ``%u`` in the patterns below then confines it to
publishing under ``courtyard/v1/{site}/up/#`` and reading ``courtyard/v1/{site}/down/#``
(DESIGN §2, Security). The cloud still checks that a batch's site matches its topic.
"""

from __future__ import annotations

from collections.abc import Sequence

from contract import topics


def acl_text(ingest_users: Sequence[str] = ("ingest",)) -> str:
    """The ACL file text (``acl_file`` in mosquitto.conf) for the given ingest usernames."""
    for user in ingest_users:
        if not user or any(c.isspace() for c in user):
            raise ValueError(f"invalid MQTT username {user!r}")
    lines = [
        "# Courtyard broker ACL. Site usernames are site slugs.",
        "# Each site: publish its own uplink, read its own downlink, nothing else.",
        f"pattern write {topics.PREFIX}/%u/up/#",
        f"pattern read {topics.PREFIX}/%u/down/#",
        "",
    ]
    for user in ingest_users:
        lines += [
            f"# Cloud ingest / API worker {user}: reads every uplink, writes every downlink.",
            f"user {user}",
            f"topic read {topics.PREFIX}/+/up/#",
            f"topic write {topics.PREFIX}/+/down/#",
            "",
        ]
    return "\n".join(lines)
