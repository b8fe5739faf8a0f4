"""The shipped site files, device profiles, tariffs and rules, found the same way in a checkout
and in an installed package (they ship as package data beside this file)."""

from __future__ import annotations

from pathlib import Path

#: This folder: ``configs/`` in a checkout, ``site-packages/configs`` once installed. A real
#: directory (not an importlib.resources Traversable) because callers hand these paths to the
#: position-keeping YAML reader, to error messages and to other processes.
ROOT = Path(__file__).resolve().parent


def path(*parts: str) -> Path:
    """A shipped file or folder, e.g. ``path("rules", "default.yaml")`` or ``path("profiles")``.

    Refuses absolute parts and ``..``: this names files inside the package, nothing else.
    """
    rel = Path(*parts)
    if rel.is_absolute() or ".." in rel.parts:
        raise ValueError(f"not a path inside configs/: {rel}")
    return ROOT / rel
