"""docs/workorders.md shows exactly the transition table the code runs on."""

from __future__ import annotations

from pathlib import Path

from cloud.workorders.states import STATES, TRANSITIONS, table_markdown


def test_the_doc_lists_every_transition_of_the_table(repo_root: Path) -> None:
    doc = (repo_root / "docs" / "workorders.md").read_text(encoding="utf-8")
    block = doc.split("<!-- transitions:begin -->\n", 1)[1].split("\n<!-- transitions:end -->")[0]
    assert block == table_markdown()
    rows = [line for line in block.splitlines()[2:]]
    assert [row.split("`")[1] for row in rows] == list(TRANSITIONS)
    for t in TRANSITIONS.values():
        assert all(state in STATES for state in t.sources)
        assert t.target is None or t.target in STATES
    for state in STATES:
        assert f"| `{state}` |" in doc
