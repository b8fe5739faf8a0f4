"""``python -m simulators.fire --connect HOST:PORT [--scenario NAME]``: a UITD for a bench.

Prints ``serving`` once connected, then one line per scenario step. Without ``--scenario`` it
stays connected (heartbeats, answering the centre) until Ctrl-C. Exit code: 0 when every frame
was confirmed, 1 when the centre denied one or never confirmed it, 2 when it cannot connect.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

import structlog

from simulators.fire import wire
from simulators.fire.uitd import OUTCOME_ZH, SCENARIOS, Sent, Step, VirtualUitd


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, not {text!r}")
    return host, int(port)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m simulators.fire",
        description="模拟消防用户信息传输装置 (GB/T 26875.3) / simulated fire-panel UITD")
    p.add_argument("--connect", type=_host_port, required=True, metavar="HOST:PORT",
                   help="监控中心（边缘网关）地址 / the centre (edge) to connect to")
    p.add_argument("--scenario", choices=sorted(SCENARIOS),
                   help="要发送的场景 / scenario to send (default: only stay connected)")
    p.add_argument("--address", type=int, default=889, help="本机地址 / UITD address")
    p.add_argument("--centre-address", type=int, default=88888,
                   help="中心地址 / centre address")
    p.add_argument("--checksum", choices=wire.CHECKSUM_METHODS, default="sum")
    p.add_argument("--repeat", type=int, default=1, help="场景重复次数 / times to play it")
    p.add_argument("--speed", type=float, default=1.0,
                   help="场景加速倍数 / divide the scenario's delays by this")
    p.add_argument("--heartbeat", type=float, default=25.0,
                   help="心跳间隔秒，0 为关闭 / seconds between heartbeats, 0 = off")
    p.add_argument("--confirm-timeout", type=float, default=10.0,
                   help="等待确认秒数 / seconds to wait for a confirm")
    p.add_argument("--retries", type=int, default=3, help="重发次数 / retransmissions")
    p.add_argument("--log-level", default="warning")
    return p


def _configure_logging(level: str) -> None:
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.WARNING
    structlog.configure(
        processors=[structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    structlog.dev.ConsoleRenderer(colors=False)],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False)


def _say(n: int, total: int, step: Step, sent: Sent) -> None:
    tries = f"{sent.attempts} 次 / attempt{'s' if sent.attempts > 1 else ''}"
    print(f"[{n}/{total}] {step.say} → {OUTCOME_ZH[sent.outcome]} / {sent.outcome} "
          f"(流水号 / serial {sent.serial}, {tries})", flush=True)


async def _main(args: argparse.Namespace) -> int:
    host, port = args.connect
    uitd = VirtualUitd(host, port, source_address=args.address,
                       centre_address=args.centre_address, checksum=args.checksum,
                       heartbeat_s=args.heartbeat, confirm_timeout=args.confirm_timeout,
                       retries=args.retries)
    try:
        await uitd.connect()
    except (OSError, TimeoutError) as exc:
        print(f"无法连接 / cannot connect to {host}:{port}: {exc!r}", flush=True)
        return 2
    print(f"已连接，服务中 / serving: UITD {args.address} → {host}:{port} "
          f"(checksum {args.checksum})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    confirmed = failed = 0
    try:
        if args.scenario is None:
            waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(uitd.wait_lost())]
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for t in waiters:
                t.cancel()
            return 0 if stop.is_set() else 1
        steps = SCENARIOS[args.scenario]
        total = len(steps) * args.repeat
        done = 0
        for _ in range(args.repeat):
            def progress(i: int, step: Step, sent: Sent, base: int = done) -> None:
                _say(base + i + 1, total, step, sent)
            play = asyncio.create_task(uitd.run_steps(steps, args.speed, progress))
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({play, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if not play.done():
                play.cancel()
                await asyncio.wait({play})
                print("已中止 / interrupted", flush=True)
                return 130
            try:
                results = play.result()
            except ConnectionError as exc:
                print(f"连接断开 / connection lost: {exc}", flush=True)
                return 1
            done += len(steps)
            confirmed += sum(r.ok for r in results)
            failed += sum(not r.ok for r in results)
        print(f"完成：{confirmed} 条已确认，{failed} 条失败 / done: {confirmed} confirmed, "
              f"{failed} failed", flush=True)
        return 1 if failed else 0
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await uitd.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.speed <= 0 or args.repeat < 1 or args.retries < 0 or args.confirm_timeout <= 0:
        print("错误 / error: --speed 与 --confirm-timeout 须 > 0，--repeat ≥ 1，--retries ≥ 0 / "
              "--speed and --confirm-timeout must be > 0, --repeat ≥ 1, --retries ≥ 0")
        return 2
    _configure_logging(args.log_level)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_main(args))
    return 130


if __name__ == "__main__":
    raise SystemExit(main())
