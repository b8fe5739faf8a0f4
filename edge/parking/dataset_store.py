"""Where the edge keeps its parking dataset: the last good version on disk, swapped whole.

Sources, newest wins: a version pushed by the cloud (kept as ``datasets/parking.json`` in the
data directory, written to a temporary file and renamed, so a power cut leaves the old or the
new file, never half of one), else the local file the site YAML names (YAML or JSON, the
installer's starting point). A file that cannot be used leaves the current version in force.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from contract import jsoncodec
from edge.parking.datasets import DatasetError, ParkingData, parse_dataset
from yamlcheck.positions import plain, read_yaml
from yamlcheck.problems import ConfigError

log = structlog.get_logger("edge.parking.dataset")

CACHE_NAME = "parking.json"


def read_document(path: Path) -> Any:
    """A dataset file (YAML or JSON) with ``tariffs: {lot: {file: …}}`` references resolved
    relative to the file, so the local dataset can share the installer's tariff files."""
    doc = (jsoncodec.loads(path.read_text(encoding="utf-8")) if path.suffix == ".json"
           else plain(read_yaml(path)))
    tariffs = doc.get("tariffs") if isinstance(doc, dict) else None
    if isinstance(tariffs, dict):
        for lot, t in list(tariffs.items()):
            if isinstance(t, dict) and set(t) == {"file"}:
                ref = (path.parent / str(t["file"])).resolve()
                tariffs[lot] = plain(read_yaml(ref))
    return _plain(doc)


def _plain(value: Any) -> Any:
    """YAML dates and datetimes as ISO text, as they arrive in JSON from the cloud."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


class DatasetStore:
    def __init__(self, data_dir: Path, local: Path | None, tz: ZoneInfo) -> None:
        self.cache = Path(data_dir) / "datasets" / CACHE_NAME
        self.local = local
        self.tz = tz

    async def load(self) -> ParkingData:
        """The version to start from; an empty dataset (version 0) when there is none."""
        return await asyncio.to_thread(self._load_sync)

    def _load_sync(self) -> ParkingData:
        for source in (self.cache, self.local):
            if source is None or not source.exists():
                continue
            try:
                data = parse_dataset(read_document(source), self.tz)
            except (OSError, ValueError, ConfigError, DatasetError) as exc:
                log.error("parking.dataset_unusable", file=str(source), error=str(exc))
                continue
            self._report(data, str(source))
            return data
        log.warning("parking.no_dataset",
                    note="只有临时车规则可用 / only temporary-vehicle rules apply")
        return ParkingData(version=0)

    async def accept(self, doc: Any, current: ParkingData) -> ParkingData | None:
        """Take a pushed document when it is usable and newer; persist it before use."""
        try:
            data = parse_dataset(doc, self.tz)
        except DatasetError as exc:
            log.error("parking.dataset_refused", error=str(exc))
            return None
        if data.version <= current.version:
            log.info("parking.dataset_not_newer", version=data.version, current=current.version)
            return None
        await asyncio.to_thread(self._persist, doc)
        self._report(data, "cloud")
        return data

    def _persist(self, doc: Any) -> None:
        self.cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cache.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(jsoncodec.dumpb(doc))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.cache)

    @staticmethod
    def _report(data: ParkingData, source: str) -> None:
        log.info("parking.dataset_loaded", source=source, version=data.version, **data.counts())
        for where, why in data.skipped:
            log.warning("parking.dataset_entry_skipped", where=where, why=why)
