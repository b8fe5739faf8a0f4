"""The parking dataset document: one shape (``contract.datasets``) that the console writes and
the edge reads, with the version and ETag rules both follow."""

from __future__ import annotations

import typing
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cloud.parking import dataset as cloud_dataset
from cloud.parking.records import RESOURCES
from cloud.parking.tables import PARKING_DATASET
from contract import ContractError, datasets
from edge.parking.datasets import DatasetError, parse_dataset
from parkingrules.tariff_yaml import load_tariff

REPO = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")
ENTRY_TYPES: dict[str, type] = {"vehicles": datasets.VehicleEntry,
                                "spaces": datasets.SpaceEntry,
                                "passes": datasets.PassEntry,
                                "visitors": datasets.VisitorEntry,
                                "blacklist": datasets.BarredEntry}
ROW = SimpleNamespace(
    plate="京A12345", holder="王伟", unit_ref="1-1-101", role="owner", lots=["P1"],
    lot="P1", code="B1-001", kind="private", valid_from=date(2026, 11, 1),
    valid_to=date(2026, 11, 30), grace_days=3, remind_days=7, host_unit="2-1-302",
    start_at=datetime(2026, 11, 23, 1, tzinfo=UTC), end_at=datetime(2026, 11, 23, 5, tzinfo=UTC),
    reason="逃费 / unpaid")


def test_etag_and_dataset_name_are_the_contracts() -> None:
    assert PARKING_DATASET == datasets.PARKING == "parking"
    assert cloud_dataset.etag(7) == datasets.etag("parking", 7) == '"parking-7"'


def test_the_console_writes_every_list_the_contract_names_in_its_shape() -> None:
    doc_keys = typing.get_type_hints(datasets.ParkingDocument)
    assert set(doc_keys) == {"version", "tariffs"} | {r.doc_key for r in RESOURCES.values()}
    for res in RESOURCES.values():
        entry = res.entry(ROW)
        assert set(entry) == set(typing.get_type_hints(ENTRY_TYPES[res.doc_key])), res.doc_key


def test_the_edge_reads_a_document_the_console_writes() -> None:
    tariff = load_tariff(REPO / "configs" / "tariffs" / "residential_standard.yaml")
    doc: dict[str, Any] = {"version": 5, "tariffs": {"P1": tariff.to_dict()},
                           **{res.doc_key: [res.entry(ROW)] for res in RESOURCES.values()}}
    data = parse_dataset(doc, TZ)
    assert data.skipped == []
    assert data.counts() == {"vehicles": 1, "passes": 1, "visitors": 1, "blacklist": 1,
                             "tariffs": 1, "skipped": 0}
    assert data.version == datasets.document_version(doc) == 5


@pytest.mark.parametrize(("doc", "field"), [
    ([], "dataset"), ({}, "dataset.version"), ({"version": -1}, "dataset.version"),
    ({"version": True}, "dataset.version"), ({"version": "3"}, "dataset.version"),
])
def test_a_document_without_a_usable_version_is_refused_on_both_sides(doc: object,
                                                                     field: str) -> None:
    with pytest.raises(ContractError) as err:
        datasets.document_version(doc)
    assert err.value.field == field
    with pytest.raises(DatasetError):
        parse_dataset(doc, TZ)
