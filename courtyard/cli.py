"""The `courtyard` command: one entry point for installers, operators and CI.

Each sub-command hands over to the part that owns it; this module only parses arguments,
so `courtyard --help` stays fast and works even where a part's dependencies are broken.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _edge_validate(args: argparse.Namespace) -> int:
    from edge.config.cli import validate_main

    return validate_main(args.site, args.profiles)


def _edge_run(args: argparse.Namespace) -> int:
    import asyncio

    from edge.app import EdgeApp
    from edge.config import ConfigError, load_site
    from edge.log import configure_logging

    try:
        config = load_site(Path(args.site), Path(args.profiles) if args.profiles else None)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        print("站点文件有错误，边缘服务未启动 / site file has errors; edge not started",
              file=sys.stderr)
        return 2
    configure_logging()
    try:
        asyncio.run(EdgeApp(config).run())
    except KeyboardInterrupt:
        pass
    return 0


def _cloud_serve(args: argparse.Namespace) -> int:
    from cloud.serve import main

    argv: list[str] = []
    if args.host:
        argv += ["--host", args.host]
    if args.port:
        argv += ["--port", str(args.port)]
    if args.workers is not None:
        argv += ["--workers", str(args.workers)]
    return main(argv)


def _sim_site(args: argparse.Namespace) -> int:
    from simulators.site import main

    argv = [args.site]
    if args.profiles:
        argv += ["--profiles", args.profiles]
    if args.speedup:
        argv += ["--speedup", str(args.speedup)]
    if args.no_parking_traffic:
        argv.append("--no-parking-traffic")
    if args.parking_interval is not None:
        argv += ["--parking-interval", str(args.parking_interval)]
    if args.parking_stay is not None:
        argv += ["--parking-stay", str(args.parking_stay)]
    if args.fire_scenario:
        argv += ["--fire-scenario", args.fire_scenario]
    for elevator in args.trap or ():
        argv += ["--trap", elevator]
    if args.trap_after is not None:
        argv += ["--trap-after", str(args.trap_after)]
    if args.no_elevator_traffic:
        argv.append("--no-elevator-traffic")
    for scenario in args.patrol_scenario:
        argv += ["--patrol-scenario", scenario]
    if args.patrol_route:
        argv += ["--patrol-route", ",".join(args.patrol_route)]
    for tag in args.patrol_tag:
        argv += ["--patrol-tag", tag]
    if args.patrol_speedup != 1.0:
        argv += ["--patrol-speedup", str(args.patrol_speedup)]
    return main(argv)


def _demo(args: argparse.Namespace) -> int:
    from courtyard.demo import run_demo

    site = Path(args.site) if args.site else None
    return run_demo(site, http_port=args.port, speedup=args.speedup,
                    fire_scenario=args.fire_scenario)


def _tariff_check(args: argparse.Namespace) -> int:
    from courtyard.tariff_cli import check_main

    return check_main(args.tariff)


def _tariff_quote(args: argparse.Namespace) -> int:
    from courtyard.tariff_cli import QuoteArgs, quote_main

    return quote_main(QuoteArgs(
        tariff=args.tariff, entry=args.entry, exit=args.exit, plate=args.plate,
        vehicle_class=args.vehicle_class, new_energy=args.new_energy, paid=args.paid,
        paid_at=args.paid_at, lost_entry=args.lost_entry))


def _rules_check(args: argparse.Namespace) -> int:
    from courtyard.rules_cli import check_main

    return check_main(args.paths)


def _cockpit_rebuild(args: argparse.Namespace) -> int:
    from cloud.cockpit.rebuild import main

    return main(args.site, args.days)


def _cloud_purge(args: argparse.Namespace) -> int:
    from cloud.retention.cli import main

    return main(args.site, args.dry_run)


def _blobs_migrate(args: argparse.Namespace) -> int:
    from cloud.blobs.migrate import main

    return main(args.site, args.batch)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="courtyard",
        description="Courtyard 智慧社区边缘网关与云端控制台 / edge gateway and cloud console",
    )
    sub = p.add_subparsers(dest="part", required=True)

    edge = sub.add_parser("edge", help="边缘网关 / the edge daemon").add_subparsers(
        dest="cmd", required=True)
    v = edge.add_parser("validate", help="检查站点文件 / check a site file")
    v.add_argument("site")
    v.add_argument("--profiles", help="设备型号目录 / device profile folder")
    v.set_defaults(func=_edge_validate)
    r = edge.add_parser("run", help="运行边缘服务 / run the edge for a site file")
    r.add_argument("site")
    r.add_argument("--profiles")
    r.set_defaults(func=_edge_run)

    cloud = sub.add_parser("cloud", help="云端控制台 / the cloud console").add_subparsers(
        dest="cmd", required=True)
    s = cloud.add_parser("serve", help="启动控制台 / serve the console")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--workers", type=int,
                   help="控制台进程数（共用端口，需 PostgreSQL）/ console processes (PostgreSQL)")
    s.set_defaults(func=_cloud_serve)

    from courtyard.mosquitto_cli import add_mosquitto_command

    add_mosquitto_command(cloud)

    sim = sub.add_parser("sim", help="设备模拟器 / device simulators").add_subparsers(
        dest="cmd", required=True)
    ss = sim.add_parser("site", help="模拟站点文件中的全部设备 / simulate every device of a site")
    ss.add_argument("site")
    ss.add_argument("--profiles")
    ss.add_argument("--speedup", type=float, default=None)
    ss.add_argument("--no-parking-traffic", action="store_true",
                    help="不模拟进出车辆 / no cars through the parking lanes")
    ss.add_argument("--parking-interval", type=float, metavar="SECONDS",
                    help="平均每隔多少秒来一辆车（默认 8）/ mean seconds between cars (default 8)")
    ss.add_argument("--parking-stay", type=float, metavar="SECONDS",
                    help="车辆平均停留秒数（默认 30）/ mean seconds a car stays (default 30)")
    ss.add_argument("--fire-scenario", metavar="NAME",
                    help="传输装置连接后播放的消防场景，如 fire / fire scenario each UITD plays "
                         "once connected, e.g. fire")
    ss.add_argument("--trap", action="append", metavar="ELEVATOR_ID",
                    help="该电梯稍后困人（可重复）/ this elevator traps a passenger (repeatable)")
    ss.add_argument("--trap-after", type=float, metavar="SECONDS",
                    help="困人前的秒数（默认 20）/ seconds before the trap (default 20)")
    ss.add_argument("--no-elevator-traffic", action="store_true",
                    help="电梯停在原处不运行 / elevator cars stay where they are")
    from simulators.patrol.site_cli import add_patrol_arguments

    add_patrol_arguments(ss)  # walking guards, when the site file has ``patrol:``
    ss.set_defaults(func=_sim_site)

    tariff = sub.add_parser("tariff", help="停车收费标准 / parking tariffs").add_subparsers(
        dest="cmd", required=True)
    tc = tariff.add_parser("check", help="检查收费标准文件 / validate a tariff file")
    tc.add_argument("tariff")
    tc.set_defaults(func=_tariff_check)
    tq = tariff.add_parser("quote", help="试算一次停车的费用 / compute the fee of one stay")
    tq.add_argument("tariff")
    tq.add_argument("--entry", help="入场时间 / entry time, ISO 8601 (no offset: site time)")
    tq.add_argument("--exit", required=True, help="出场时间 / exit time, ISO 8601")
    tq.add_argument("--plate", help="车牌，决定车型和新能源 / plate: sets class and new energy")
    tq.add_argument("--vehicle-class", choices=["small", "large"],
                    help="车型 / vehicle class (default small)")
    tq.add_argument("--new-energy", action="store_true", help="新能源车 / new-energy vehicle")
    tq.add_argument("--paid", help="已付金额（元）/ amount already paid, yuan")
    tq.add_argument("--paid-at", help="缴费时间 / payment time, ISO 8601")
    tq.add_argument("--lost-entry", action="store_true",
                    help="无入场记录 / no entry record")
    tq.set_defaults(func=_tariff_quote)

    rules = sub.add_parser("rules", help="事件规则 / event rules").add_subparsers(
        dest="cmd", required=True)
    rc = rules.add_parser("check", help="检查规则文件或目录 / validate rule files or folders")
    rc.add_argument("paths", nargs="+", metavar="PATH")
    rc.set_defaults(func=_rules_check)

    from courtyard.auth_cli import add_auth_commands
    from courtyard.billing_cli import add_billing_commands
    from courtyard.records_cli import add_records_commands

    add_auth_commands(sub, cloud)
    add_records_commands(sub, cloud)
    add_billing_commands(sub, cloud)
    from cloud.backup.cli import add_backup_commands

    add_backup_commands(cloud)
    cockpit = cloud.add_parser("cockpit", help="运营驾驶舱 / the operations cockpit")
    cockpit_sub = cockpit.add_subparsers(dest="cockpit_cmd", required=True)
    cr = cockpit_sub.add_parser("rebuild", help="从事件重算小时汇总 / recompute the hourly "
                                                "rollups from the stored events")
    cr.add_argument("--site", help="站点 / site slug (default: every site)")
    cr.add_argument("--days", type=int, default=30,
                    help="重算最近几天（站点时区）/ days up to today, site time (default 30)")
    cr.set_defaults(func=_cockpit_rebuild)
    blobs = cloud.add_parser("blobs", help="图片存储 / the blob store (plate images)")
    blobs_sub = blobs.add_subparsers(dest="blobs_cmd", required=True)
    bm = blobs_sub.add_parser("migrate", help="把旧事件中的内嵌图片移入图片存储 / move images "
                                              "still inline in stored events into the store")
    bm.add_argument("--site", help="站点 / site slug (default: every site)")
    bm.add_argument("--batch", type=int, default=200,
                    help="每批事件数 / events per batch (default 200)")
    bm.set_defaults(func=_blobs_migrate)
    pg = cloud.add_parser("purge", help="按保存期限清理过期数据 / purge what is older than the "
                                        "retention windows")
    pg.add_argument("--site", help="站点 / site slug (default: every site)")
    pg.add_argument("--dry-run", action="store_true",
                    help="只统计不删除 / count what would go, change nothing")
    pg.set_defaults(func=_cloud_purge)

    d = sub.add_parser("demo", help="一键演示 / cloud + simulators + edge on this machine")
    d.add_argument("--site", default=None,
                   help="站点文件，默认为随包附带的演示小区 / site file (default: the shipped "
                        "demo site, configs/sites/demo.yaml)")
    d.add_argument("--port", type=int, default=8080, help="控制台端口 / console HTTP port")
    d.add_argument("--speedup", type=float, default=60.0,
                   help="模拟时间倍速 / simulated time runs this many times faster")
    d.add_argument("--fire-scenario", metavar="NAME", default=None,
                   help="模拟传输装置连接后播放的消防场景（如 fire）/ fire scenario the simulated "
                        "UITD plays once connected (e.g. fire)")
    d.set_defaults(func=_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
