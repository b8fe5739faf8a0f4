"""``courtyard cloud purge [--site S] [--dry-run]``: purge now, printing each class's count.

The scheduler runs the same ``purge_site`` (``cloud.jobs``); this is for an operator who wants
it now, or wants to see what a purge would take (``--dry-run`` changes nothing).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cloud.auth.audit import SYSTEM
from cloud.blobs import BlobStore, blob_store_from_settings
from cloud.db.site_selection import sites_named
from cloud.retention.purge import PurgeReport, Sessions, purge_site


def report_lines(slug: str, report: PurgeReport) -> list[str]:
    """One line per class: ``<site> <class> <rows> rows <blobs> blobs (cutoff …)``."""
    verb = "would purge / 将清理" if report.dry_run else "purged / 已清理"
    return [f"{slug}\t{c.data_class}\t{verb} {c.rows} rows, {c.blobs} blobs\t"
            f"(cutoff {c.cutoff.isoformat()}, {c.days} d)" for c in report.classes]


async def purge(sessions: Sessions, *, site: str | None, dry_run: bool, now: datetime,
                blobs: BlobStore | None) -> list[str]:
    """Purge ``site`` (or every site) and return the printed lines; LookupError: no such site."""
    lines: list[str] = []
    for s in await sites_named(sessions, site):
        report = await purge_site(sessions, site_id=s.id, now=now, actor=SYSTEM,
                                  blobs=blobs, dry_run=dry_run)
        lines += report_lines(s.slug, report)
    return lines


def main(site: str | None, dry_run: bool) -> int:
    """The CLI: migrate, purge, print; exit status 2 for an unknown site."""
    from cloud.cli_task import run_on_console_db, say

    async def work(sessions: Sessions, settings: Any) -> None:
        for line in await purge(sessions, site=site, dry_run=dry_run, now=datetime.now(UTC),
                                blobs=blob_store_from_settings(settings)):
            say(line)

    return run_on_console_db(work, site=site)
