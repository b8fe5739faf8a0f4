"""Keep a controller's own card list in step with the cards the site wants it to hold.

The controller decides swipes from its own list, so the edge must make that list equal to the
dataset's: read what it holds (card count, then each slot by index), put what is missing or
different, delete what should not be there, then read back every wanted card to verify. The
report says what drifted before the sync (cards changed on the controller behind our back,
or a sync that never finished) and what still differs after it.

Requests run ``concurrency`` at a time: each is one UDP round trip, and the controller answers
them one by one, so a few in flight hide the latency without flooding it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from drivers.access.uhppote_client import DELETED, UhppoteClient
from drivers.access.uhppote_model import CardSpec, ControllerError, ControllerSpec

T = TypeVar("T")


@dataclass
class SyncReport:
    held: int = 0
    added: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    unchanged: int = 0
    #: Cards whose put/delete failed or whose read-back differs from what was wanted.
    failed: list[int] = field(default_factory=list)
    verified: int = 0

    @property
    def drift(self) -> int:
        """Cards that differed before the sync (missing, different or extra)."""
        return len(self.added) + len(self.changed) + len(self.deleted)

    @property
    def in_step(self) -> bool:
        return not self.failed

    def summary(self) -> dict[str, int | bool]:
        return {"held": self.held, "added": len(self.added), "changed": len(self.changed),
                "deleted": len(self.deleted), "unchanged": self.unchanged,
                "failed": len(self.failed), "verified": self.verified, "drift": self.drift,
                "in_step": self.in_step}


async def _bounded(items: Iterable[T], fn: Callable[[T], Awaitable[None]],
                   concurrency: int) -> None:
    sem = asyncio.Semaphore(concurrency)

    async def one(item: T) -> None:
        async with sem:
            await fn(item)

    async with asyncio.TaskGroup() as tg:
        for item in items:
            tg.create_task(one(item))


async def held_cards(client: UhppoteClient, c: ControllerSpec,
                     concurrency: int = 16) -> dict[int, CardSpec]:
    """Every card the controller holds, read slot by slot (deleted slots skipped)."""
    count = await client.card_count(c)
    found: dict[int, CardSpec] = {}

    async def read(index: int) -> None:
        card = await client.card_at(c, index)
        if isinstance(card, CardSpec):
            found[card.number] = card

    await _bounded(range(1, count + 1), read, concurrency)
    return found


async def sync_cards(client: UhppoteClient, c: ControllerSpec, wanted: Iterable[CardSpec],
                     *, concurrency: int = 16) -> SyncReport:
    """Make the controller hold exactly ``wanted``; verify by reading every wanted card back.

    Raises ``ControllerError`` only when the controller cannot be read at all; a single
    card's failure is in the report.
    """
    want = {card.number: card for card in wanted}
    held = await held_cards(client, c, concurrency)
    report = SyncReport(held=len(held))
    puts: list[CardSpec] = []
    for number, card in want.items():
        have = held.get(number)
        if have is None:
            report.added.append(number)
            puts.append(card)
        elif have.key() != card.key():
            report.changed.append(number)
            puts.append(card)
        else:
            report.unchanged += 1
    extra = [n for n in held if n not in want]
    report.deleted.extend(extra)

    async def put(card: CardSpec) -> None:
        try:
            if not await client.put_card(c, card):
                report.failed.append(card.number)
        except ControllerError:
            report.failed.append(card.number)

    async def delete(number: int) -> None:
        try:
            if not await client.delete_card(c, number):
                report.failed.append(number)
        except ControllerError:
            report.failed.append(number)

    await _bounded(puts, put, concurrency)
    await _bounded(extra, delete, concurrency)

    failed = set(report.failed)

    async def verify(card: CardSpec) -> None:
        if card.number in failed:
            return
        try:
            got = await client.get_card(c, card.number)
        except ControllerError:
            got = None
        if got is None or got.key() != card.key():
            report.failed.append(card.number)
        else:
            report.verified += 1

    await _bounded(want.values(), verify, concurrency)
    return report


__all__ = ["DELETED", "SyncReport", "held_cards", "sync_cards"]
