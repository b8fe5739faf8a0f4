"""Run `courtyard` parts as real processes, so tests can SIGKILL and restart them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


class Part:
    """One `python -m courtyard …` process with its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Part:
        log = self.log_path.open("ab")
        log.write(f"\n===== start {self.name} {time.strftime('%H:%M:%S')} =====\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "courtyard", *self.args], cwd=REPO, env=self.env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f"{self.name} did not stop within {timeout}s on SIGINT\n"
                                 + self.tail()) from None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n: int = 60) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return f"--- last {n} lines of {self.log_path} ---\n" + "\n".join(lines[-n:])


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURTYARD_")}
    env["PYTHONUNBUFFERED"] = "1"
    env["COURTYARD_LOG_LEVEL"] = env.get("COURTYARD_LOG_LEVEL", "info")
    env.update(extra)
    return env


def get_json(url: str, timeout: float = 3.0,
             headers: dict[str, str] | None = None) -> Any | None:
    """The JSON at ``url`` (None when unreachable); ``headers`` e.g. an API token's."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                    timeout=timeout) as resp:
            return json.loads(resp.read())
    except (urllib.error.URLError, TimeoutError, ConnectionError, json.JSONDecodeError):
        return None


def wait_until(pred: Callable[[], Any], timeout: float, what: str,
               parts: list[Part] | None = None, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(every)
    logs = "\n".join(p.tail() for p in parts or [])
    raise AssertionError(f"timed out after {timeout}s waiting for: {what}\n{logs}")


class DemoRun:
    """``courtyard demo`` as a person runs it in a terminal: its output read line by line,
    stopped with Ctrl-C (SIGINT to its process group), killed if it does not stop."""

    READY = "readings reached the console"

    def __init__(self, cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        self.lines: list[str] = []
        out = self.proc.stdout
        assert out is not None
        self._reader = threading.Thread(target=lambda: self.lines.extend(iter(out.readline, "")),
                                        daemon=True)
        self._reader.start()

    def tail(self, n: int = 60) -> str:
        return "".join(self.lines[-n:])

    def wait_ready(self, timeout: float) -> None:
        """Until the demo says its first readings reached the console; fails with its output
        when it exits first or takes longer than ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not any(self.READY in line for line in self.lines):
            assert self.proc.poll() is None, "demo exited early:\n" + self.tail()
            if time.monotonic() > deadline:
                raise AssertionError(f"no readings within {timeout:.0f} s:\n" + self.tail())
            time.sleep(0.5)

    def ctrl_c(self, timeout: float = 45) -> int:
        """Stop it as Ctrl-C does; its exit code, once its output is all read."""
        os.killpg(self.proc.pid, signal.SIGINT)
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        """After a failed test: the demo and the parts it started in sessions of their own,
        so a leftover console or simulator does not hold the demo's ports for the next test."""
        if self.proc.poll() is not None:
            return
        for pid in [*_descendants(self.proc.pid), self.proc.pid]:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.proc.wait(10)


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid``, from /proc (children first found, deepest last)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out

