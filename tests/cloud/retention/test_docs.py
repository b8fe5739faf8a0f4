"""docs/data-lifecycle.md §2 shows exactly the class table the purge runs on."""

from __future__ import annotations

from pathlib import Path

from cloud.retention.classes import CLASSES, table_markdown


def test_the_doc_shows_the_class_table(repo_root: Path) -> None:
    doc = (repo_root / "docs" / "data-lifecycle.md").read_text(encoding="utf-8")
    block = doc.split("<!-- retention-classes:begin -->\n", 1)[1].split(
        "\n<!-- retention-classes:end -->")[0]
    assert block == table_markdown()
    for c in CLASSES:
        assert c.min_days <= c.default_days
        assert f"- `{c.name}`:" in doc  # what it selects is described
