"""A lifecycle as one table: the states, the actions between them, and who may take them.

Alarms and work orders both hold their lifecycle in a ``Lifecycle``: the service checks an
action with ``check``, the API lists ``allowed_from`` and refuses with ``TransitionRefused``,
the pages and docs render the same table (``markdown``), so none of them can disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Transition:
    """An action: the states it may be taken from, the state it leads to (``None``: the
    state stays, the action only records something), and the roles that may take it."""

    action: str
    zh: str
    sources: tuple[str, ...]
    target: str | None
    roles: tuple[str, ...] = ()
    note_required: bool = False

    @property
    def en(self) -> str:
        """The action in English words (``false_alarm`` → ``false alarm``)."""
        return self.action.replace("_", " ")

    def after(self, state: str) -> str:
        """The state an item in ``state`` is in once the action is taken."""
        return self.target or state


@dataclass(frozen=True)
class Refusal:
    """How a refusal reads (zh-CN, English). Fields: ``state``, ``state_zh``, ``action``,
    ``action_zh``, ``action_en`` and ``allowed_zh`` / ``allowed_en`` (the allowed actions,
    or 无 / none)."""

    zh: str
    en: str


class TransitionRefused(Exception):
    """The item's current state does not allow the action (HTTP 409): names the state and
    the actions allowed from it."""

    def __init__(self, action: str, state: str, allowed: list[str], zh: str, en: str) -> None:
        super().__init__(en)
        self.action = action
        self.state = state
        self.allowed = allowed
        self.zh = zh
        self.en = en


class Lifecycle:
    """States (in order, with their Chinese names) and the transitions between them.

    Everything not in the table is refused with the current state and what is allowed.
    """

    def __init__(self, states: Mapping[str, str], transitions: Iterable[Transition],
                 refusal: Refusal) -> None:
        self.state_zh: dict[str, str] = dict(states)
        self.states: tuple[str, ...] = tuple(self.state_zh)
        self.transitions: dict[str, Transition] = {t.action: t for t in transitions}
        self.refusal = refusal
        for t in self.transitions.values():
            unknown = [s for s in (*t.sources, t.target) if s is not None
                       and s not in self.state_zh]
            if unknown:
                raise ValueError(f"{t.action}: unknown state {unknown[0]!r}")

    def allowed_from(self, state: str) -> list[str]:
        """The actions that may be taken on an item in ``state``."""
        return [t.action for t in self.transitions.values() if state in t.sources]

    def refused(self, action: str, state: str) -> TransitionRefused:
        """The refusal of ``action`` in ``state``, worded by the table's ``Refusal``."""
        allowed = self.allowed_from(state)
        t = self.transitions.get(action)
        words = {"state": state, "state_zh": self.state_zh.get(state, state),
                 "action": action, "action_zh": t.zh if t else action,
                 "action_en": action.replace("_", " "),
                 "allowed_zh": ", ".join(allowed) or "无",
                 "allowed_en": ", ".join(allowed) or "none"}
        return TransitionRefused(action, state, allowed, self.refusal.zh.format(**words),
                                 self.refusal.en.format(**words))

    def check(self, action: str, state: str) -> Transition:
        """The transition of ``action`` when ``state`` allows it; else ``TransitionRefused``."""
        t = self.transitions.get(action)
        if t is None or state not in t.sources:
            raise self.refused(action, state)
        return t

    def markdown(self) -> str:
        """The transition table as Markdown (docs embed exactly this)."""
        lines = ["| action | 中文 | from | to | who | note required |",
                 "|---|---|---|---|---|---|"]
        for t in self.transitions.values():
            lines.append(f"| `{t.action}` | {t.zh} | {', '.join(t.sources)} | "
                         f"{t.target or '(unchanged)'} | {', '.join(t.roles)} | "
                         f"{'yes' if t.note_required else 'no'} |")
        return "\n".join(lines)
