"""Run benchmarks: `python -m benchmarks [NAME ...] [--quick]` (default: all; see BENCHES)."""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import time

BENCHES = {
    "outbox": "benchmarks.bench_outbox",
    "e2e": "benchmarks.bench_e2e",
    "poll": "benchmarks.bench_poll",
    "memory": "benchmarks.bench_edge_memory",
    "parking": "benchmarks.bench_parking",
    "fire": "benchmarks.bench_fire",
    "api": "benchmarks.bench_api",
    "billing": "benchmarks.bench_billing",
    "access": "benchmarks.access_decide",
    "access_sync": "benchmarks.bench_access_sync",
    "patrol": "benchmarks.bench_patrol",
    "cockpit_rollups": "benchmarks.cockpit_rollups",
    "cockpit": "benchmarks.cockpit",
    "scale": "benchmarks.bench_scale",
}


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks")
    p.add_argument("names", nargs="*", help=f"any of: {', '.join(BENCHES)} (default: all)")
    p.add_argument("--quick", action="store_true", help="smaller runs, for a smoke check")
    args, extra = p.parse_known_args()
    names = args.names or list(BENCHES)
    if extra and (len(names) != 1 or not hasattr(importlib.import_module(BENCHES.get(
            names[0], "benchmarks.common")), "run_args")):
        p.error(f"unrecognized arguments: {' '.join(extra)} (options are for one benchmark "
                "that takes them, e.g. `python -m benchmarks cockpit --sites 2`)")
    from edge.log import configure_logging

    configure_logging(level="warning")
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        p.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHES)}")
    print(f"Courtyard benchmarks — {platform.python_implementation()} {platform.python_version()}"
          f", {os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M')}")
    for name in names:
        mod = importlib.import_module(BENCHES[name])
        if extra:
            mod.run_args(extra)
        else:
            mod.run(quick=args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
