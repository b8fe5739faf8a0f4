"""How a command handler ends: return a detail (``ok``), or raise one of these.

Every text is zh-CN first, then English (``"道闸已抬起 / gate opened"``): it is the reply's
``detail``, shown to the staff who sent the command.
"""

from __future__ import annotations


class CommandRefused(Exception):
    """Not run: the device is unknown or its state forbids it (reply ``refused``)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.detail = f"{zh} / {en}"


class CommandFailed(Exception):
    """Tried and did not work, or may not have (reply ``failed``)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.detail = f"{zh} / {en}"


def text(zh: str, en: str) -> str:
    """A reply detail, zh-CN first."""
    return f"{zh} / {en}"
