"""`courtyard sim site`: simulate every device a site file declares, where it declares it.

A Modbus TCP bus becomes a server on its host:port; a Modbus RTU bus becomes a socat pty pair
whose one end is the path the site file names (the edge opens it) and whose other end the
simulator serves. So the edge runs unchanged against the simulated site.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from simulators.modbus.meter import SimMeter
from simulators.modbus.server import MeterBusSimulator
from simulators.pty import PtyError, pty_pair
from simulators.siteconfig import BusSpec, SiteError, SiteSpec, load_site

log = logging.getLogger(__name__)


def default_profiles_dir(site_yaml: Path) -> Path:
    """configs/profiles next to the site file's configs/sites, else ./configs/profiles."""
    beside = site_yaml.resolve().parent.parent / "profiles"
    return beside if beside.is_dir() else Path("configs/profiles")


class SiteSimulator:
    """Async context manager running all simulated buses of one site file."""

    def __init__(self, site_yaml: Path, profiles_dir: Path | None = None, *,
                 speedup: float = 1.0, clock: Callable[[], float] = time.time) -> None:
        self.site_yaml = Path(site_yaml)
        self.profiles_dir = profiles_dir or default_profiles_dir(self.site_yaml)
        self.speedup = speedup
        self.clock = clock
        self.spec: SiteSpec = load_site(self.site_yaml)
        self.buses: dict[str, MeterBusSimulator] = {}
        self._stack = contextlib.AsyncExitStack()

    def _meters(self, bus: BusSpec) -> list[SimMeter]:
        meters = []
        for dev in bus.devices:
            path = self.profiles_dir / f"{dev.profile}.yaml"
            if not path.is_file():
                raise SiteError(f"设备 {dev.id} 的型号文件不存在 / device {dev.id}: "
                                f"profile file {path} not found")
            try:
                meters.append(SimMeter(dev.address, path, fault=dev.fault, slow_ms=dev.slow_ms,
                                       exception_code=dev.exception_code, seed=dev.seed,
                                       clock=self.clock, speedup=self.speedup,
                                       timezone=self.spec.timezone))
            except (ValueError, KeyError) as exc:
                raise SiteError(f"设备 {dev.id} 无法模拟 / device {dev.id}: {exc}") from exc
        return meters

    async def _start_bus(self, bus: BusSpec, workdir: Path) -> MeterBusSimulator:
        meters = self._meters(bus)
        if bus.type == "modbus_tcp":
            sim = MeterBusSimulator(meters, tcp=(bus.host, bus.port))
        else:
            sim_end = workdir / f"{bus.id}-sim"
            await self._stack.enter_async_context(pty_pair(bus.path, sim_end))
            sim = MeterBusSimulator(meters, serial_port=str(sim_end), baudrate=bus.baudrate)
        await sim.start()
        self._stack.push_async_callback(sim.stop)
        return sim

    async def __aenter__(self) -> SiteSimulator:
        try:
            workdir = Path(self._stack.enter_context(
                tempfile.TemporaryDirectory(prefix="courtyard-sim-")))
            for bus in self.spec.buses:
                try:
                    self.buses[bus.id] = await self._start_bus(bus, workdir)
                except (OSError, RuntimeError) as exc:
                    raise SiteError(f"总线 {bus.id} 无法启动 / bus {bus.id} failed to start: "
                                    f"{exc}") from exc
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self._stack.aclose()

    def summary(self) -> list[str]:
        """One bilingual line per bus: where it listens and which unit ids it answers."""
        lines = []
        for spec in self.spec.buses:
            sim = self.buses.get(spec.id)
            if sim is None:
                continue
            where = (f"Modbus TCP {spec.host}:{spec.port}" if spec.type == "modbus_tcp"
                     else f"Modbus RTU {spec.path}")
            units = ", ".join(
                f"{d.address}={d.profile}" + ("" if d.fault == "none" else f"({d.fault})")
                for d in spec.devices)
            n = len(spec.devices)
            lines.append(f"总线 {spec.id}：{where}，模拟 {n} 台设备 [{units}] / "
                         f"bus {spec.id}: {where}, simulating {n} devices")
        for bid in self.spec.skipped_buses:
            lines.append(f"总线 {bid}：非 Modbus，未模拟 / bus {bid}: not Modbus, not simulated")
        return lines


async def run_site(site_yaml: Path, profiles_dir: Path | None = None, speedup: float = 1.0,
                   *, ready: asyncio.Event | None = None) -> None:
    """Serve the site's simulated devices until cancelled (``ready`` is set once serving)."""
    async with SiteSimulator(site_yaml, profiles_dir, speedup=speedup) as sim:
        for line in sim.summary():
            print(line, flush=True)
        if speedup != 1.0:
            print(f"模拟时间倍速 {speedup:g} / simulated time runs {speedup:g}× faster",
                  flush=True)
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()


async def _serve_until_signal(site: Path, profiles: Path | None, speedup: float) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with asyncio.TaskGroup() as tg:
            runner = tg.create_task(run_site(site, profiles, speedup))
            stopper = tg.create_task(stop.wait())
            await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
            runner.cancel()
            stopper.cancel()
    except ExceptionGroup as eg:
        known, rest = eg.split((SiteError, PtyError))
        if rest is not None:
            raise rest from None
        for exc in known.exceptions if known is not None else ():
            print(f"错误 / error: {exc}", flush=True)
        return 2
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    print("模拟器已停止 / simulators stopped", flush=True)
    return 0


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="courtyard sim site",
                                description="模拟站点文件中的全部设备 / simulate a site's devices")
    p.add_argument("site", type=Path)
    p.add_argument("--profiles", type=Path, default=None,
                   help="设备型号目录 / device profile folder")
    p.add_argument("--speedup", type=float, default=1.0,
                   help="模拟时间倍速 / simulated time runs this many times faster")
    args = p.parse_args(argv)
    if args.speedup <= 0:
        print("错误 / error: --speedup 必须大于 0 / must be > 0")
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("pymodbus").setLevel(logging.WARNING)
    try:
        return asyncio.run(_serve_until_signal(args.site, args.profiles, args.speedup))
    except SiteError as exc:
        print(f"错误 / error: {exc}")
        return 2
