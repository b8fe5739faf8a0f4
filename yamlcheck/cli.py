"""The "check a file" commands' common end: every problem as FILE:LINE:COL, then a verdict.

Site files, rule files and tariffs are each checked by their own loader, but an installer
should meet one behaviour: every problem on stderr, one per line (editors and terminals jump
to FILE:LINE:COL), a count, and exit code 2 so a script never deploys the file; otherwise a
short zh/en summary of what was understood on stdout and exit code 0.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import TypeVar

from yamlcheck.problems import ConfigError

T = TypeVar("T")

#: Exit code when a file must not be used.
REFUSED = 2


def count_line(n: int, zh_tail: str = "", en_tail: str = "") -> str:
    """``3 个错误 / 3 errors`` plus what the count refers to, in both languages."""
    return f"{n} 个错误{zh_tail} / {n} error{'s' if n != 1 else ''}{en_tail}"


def load_or_report(load: Callable[[], T], *, zh_tail: str = "", en_tail: str = "") -> T | None:
    """What ``load`` returns, or None after printing its problems and a count to stderr.

    ``zh_tail`` / ``en_tail`` finish the count line (``" in site.yaml"``, ``", rules
    refused"``) so each command can say what a refusal means for its file.
    """
    try:
        return load()
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(count_line(len(exc.problems), zh_tail, en_tail), file=sys.stderr)
        return None


def run_check(load: Callable[[], T], summary: Callable[[T], Iterable[str]], *,
              zh_tail: str = "", en_tail: str = "") -> int:
    """Run ``load``; print its problems and a count and return 2, or ``summary`` and 0."""
    value = load_or_report(load, zh_tail=zh_tail, en_tail=en_tail)
    if value is None:
        return REFUSED
    for line in summary(value):
        print(line)
    return 0
