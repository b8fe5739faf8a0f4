"""What every bench simulator's ``python -m`` entry shares: logging, and a console on stdin.

A technician types commands (``jam``, ``fault no_reply`` …) while the simulation keeps
ticking; run from a script (stdin a file or closed) the simulator just serves. Ctrl-C ends
it quietly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any


def configure_logging(level: str) -> None:
    """Our log lines at ``level``; pymodbus's own chatter (every refused request) hidden."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run a simulator until it ends or Ctrl-C."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main)


async def console(command: Callable[[str], Awaitable[bool]], tick: Callable[[], None], *,
                  help_text: str | None = None, every_s: float = 0.5) -> None:
    """Hand each stdin line to ``command`` and ``tick`` the simulation every ``every_s``.

    Ends when ``command`` returns False or stdin closes; without a usable stdin it only
    ticks, until cancelled. ``help_text`` is printed first when there is someone to read it.
    """
    lines: asyncio.Queue[str] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    try:
        loop.add_reader(sys.stdin.fileno(), lambda: lines.put_nowait(sys.stdin.readline()))
        interactive = True
    except (OSError, ValueError, NotImplementedError):
        interactive = False  # stdin is a file or closed: serve without a console
    if interactive and help_text:
        print(help_text, flush=True)
    try:
        while True:
            if not interactive:
                await asyncio.sleep(every_s)
            else:
                with contextlib.suppress(TimeoutError):
                    line = await asyncio.wait_for(lines.get(), every_s)
                    if line == "" or not await command(line):
                        break
            tick()
    finally:
        if interactive:
            loop.remove_reader(sys.stdin.fileno())
