"""Problems found in installer files, each pinned to FILE:LINE:COL with a way to fix it.

Installers fix files from the terminal, so every problem carries its position and a fix, and
loading collects all of them before failing: one run shows everything to correct.
It is a package of its own (with ``yamlcheck.positions``) because the edge's site files, the
drivers' elevator profiles, the shared tariffs and the console's rule, plan and alarm-policy
files are all checked the same way, and none of those parts may import another.
"""

from __future__ import annotations

from dataclasses import dataclass


def bi(zh: str, en: str) -> str:
    """One user-facing message: Chinese first, English second."""
    return f"{zh} / {en}"


@dataclass(frozen=True, slots=True)
class Pos:
    """1-based position in a file; line 0 means the file as a whole."""

    file: str
    line: int
    col: int


@dataclass(frozen=True, slots=True)
class Problem:
    """One mistake; ``path`` names the key (``prices.small.unit``) where a line cannot, e.g.
    in data that came as JSON, and an API answer can point a form field at it."""

    file: str
    line: int
    col: int
    what: str
    fix: str
    path: str = ""

    @classmethod
    def at(cls, pos: Pos, what: str, fix: str, path: str = "") -> Problem:
        return cls(pos.file, pos.line, pos.col, what, fix, path)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}" if self.line > 0 else self.file
        what = f"{self.path}: {self.what}" if self.path else self.what
        return f"{where}: {what} — {self.fix}" if self.fix else f"{where}: {what}"


class ConfigError(Exception):
    """Raised with every problem found, so the installer can fix them all in one go."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)
