"""A real VictoriaMetrics for telemetry tests: it accepts the InfluxDB v2 write API.

Started per test on a free loopback port; it can be created stopped, to test an exporter that
must wait for the server, and read back through ``/api/v1/export``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.services import free_port, need, wait_port


def binary() -> str:
    exe = shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"
    need(Path(exe).exists(), "victoria-metrics binary (Debian package victoria-metrics)")
    return exe


@dataclass
class Victoria:
    host: str
    port: int
    data_dir: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = field(default=None)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        args = [binary(), f"-httpListenAddr={self.host}:{self.port}",
                f"-storageDataPath={self.data_dir}", "-retentionPeriod=1d",
                "-search.latencyOffset=0s"]
        self.proc = subprocess.Popen(args, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        wait_port(self.host, self.port, timeout=20)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def export(self, match: str) -> list[dict[str, Any]]:
        """Series matching a selector, e.g. ``{__name__=~"meter_.*"}`` (blocking HTTP)."""
        try:
            urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=5).read()
        except OSError:
            pass  # older servers flush on their own within a second
        query = urllib.parse.urlencode({"match[]": match})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{query}", timeout=10) as resp:
            body = resp.read().decode()
        return [json.loads(line) for line in body.splitlines() if line.strip()]


@contextmanager
def own_victoria(start: bool = True) -> Iterator[Victoria]:
    """A private VictoriaMetrics; ``start=False`` reserves the port and leaves it down."""
    binary()
    d = Path(tempfile.mkdtemp(prefix="cy-vm-"))
    vm = Victoria("127.0.0.1", free_port(), d / "data", d / "vm.log")
    try:
        if start:
            vm.start()
        yield vm
    finally:
        vm.stop()
        shutil.rmtree(d, ignore_errors=True)
