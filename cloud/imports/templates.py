"""The import templates staff download: one header row (Chinese, then the column key), a
notes row and an example row, both commented out with ``#`` so a template imported as it is
changes nothing."""

from __future__ import annotations

from cloud.records.kinds import KINDS, Kind
from cloud.web.tabular import Format, write_table

#: A row whose first cell starts with this is a comment: skipped by the import.
COMMENT = "#"


def template_rows(kind: Kind) -> tuple[list[str], list[list[str]]]:
    headers = [f.header for f in kind.fields]
    notes = [("必填" if f.required else "选填") + (f"；{f.note}" if f.note else "")
             for f in kind.fields]
    notes[0] = f"{COMMENT} 说明 notes: {notes[0]}"
    example = [f.example for f in kind.fields]
    example[0] = f"{COMMENT} 示例 example: {example[0]}"
    return headers, [notes, example]


def template(kind_name: str, fmt: Format) -> bytes:
    """The template of an import kind as CSV (UTF-8 with BOM) or .xlsx bytes."""
    headers, rows = template_rows(KINDS[kind_name])
    return write_table(headers, rows, fmt, sheet=kind_name)
