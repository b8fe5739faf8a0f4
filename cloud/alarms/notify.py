"""Tell live feeds that alarms changed, but only once the change is committed.

Whoever changes an alarm (the ingest worker, a guard's request, the escalation loop) calls
``announce`` inside its transaction with the alarm ids. Delivery is ``cloud.db.notify``'s:
``pg_notify`` on PostgreSQL (every listening process hears exactly the committed changes),
the in-process channel after the commit on SQLite (the embedded single-process mode).

The payload is ids only; a listener loads the rows, so a message is never staler than the
database and never larger than PostgreSQL's 8000-byte NOTIFY limit allows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from cloud.db.notify import Channel, database_key

__all__ = ["CHANNEL", "IDS_PER_NOTIFY", "LOCAL", "announce", "database_key", "parse_ids"]

CHANNEL = "courtyard_alarms"
#: Ids per NOTIFY payload (well under the 8000-byte limit).
IDS_PER_NOTIFY = 500

ALARMS_CHANNEL = Channel(CHANNEL)

IdsListener = Callable[[list[int]], None]


class _LocalIds:
    """The in-process side, as alarm ids: ``listen(key, listener)`` calls ``listener(ids)``
    (sorted, each once) after each commit that announced some."""

    def listen(self, key: str, listener: IdsListener) -> Callable[[], None]:
        def on_payloads(payloads: list[str]) -> None:
            ids = sorted({i for p in payloads for i in parse_ids(p)})
            if ids:
                listener(ids)

        return ALARMS_CHANNEL.listen_local(key, on_payloads)


LOCAL = _LocalIds()


async def announce(session: AsyncSession, ids: Iterable[int]) -> None:
    """Announce changed alarms on commit of ``session``'s current transaction."""
    wanted = sorted({int(i) for i in ids})
    for start in range(0, len(wanted), IDS_PER_NOTIFY):
        chunk = ",".join(str(i) for i in wanted[start:start + IDS_PER_NOTIFY])
        await ALARMS_CHANNEL.send(session, chunk)


def parse_ids(payload: str) -> list[int]:
    """Alarm ids of a NOTIFY payload; anything else on the channel is ignored."""
    out = []
    for part in payload.split(","):
        part = part.strip()
        if part.isascii() and part.isdigit():
            out.append(int(part))
    return out
