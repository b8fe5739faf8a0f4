"""`courtyard edge validate SITE.yaml`: the installer's check before provisioning a box.

Problems go to stderr one per line (FILE:LINE:COL, so editors and terminals can jump to them),
then one summary line; exit code 2 tells scripts the file must not be deployed.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from edge.config.loader import load_site
from edge.config.model import SiteConfig
from yamlcheck.cli import REFUSED, run_check


def summary(config: SiteConfig) -> Iterator[str]:
    """What the box will run: buses, devices per profile, parking, fire, elevators, linkage."""
    by_profile = Counter(d.profile.id for d in config.devices)
    listed = ", ".join(f"{pid} ×{n}" for pid, n in sorted(by_profile.items())) or "—"
    yield (f"OK {config.path.name}: 站点 / site {config.site.id} ({config.site.name}), "
           f"{len(config.buses)} 条总线 / buses, {len(config.devices)} 台设备 / devices")
    yield f"  {listed}"
    if config.parking is not None:
        p = config.parking
        yield (f"  停车 / parking: {len(p.lots)} 个车场 / lots, {len(p.lanes)} 条车道 / lanes, "
               f"{len(p.cameras)} 台摄像机 / cameras, {len(p.gates)} 个道闸 / gates, "
               f"http :{p.http_port}")
    if config.fire is not None:
        f = config.fire
        yield f"  消防 / fire: {len(f.uitds)} 台用户信息传输装置 / UITDs, tcp :{f.port}"
    if config.elevators:
        buildings = sorted({e.building for e in config.elevators})
        yield (f"  电梯 / elevators: {len(config.elevators)} 部 / cars in "
               f"{len(buildings)} 栋 / buildings ({', '.join(buildings)})")
    if config.access is not None:
        a = config.access
        egress = sum(1 for d in a.doors if d.egress)
        yield (f"  门禁 / access: {len(a.controllers)} 台控制器 / controllers, "
               f"{len(a.doors)} 个门 / doors（疏散门 / egress {egress}）, udp {a.listen}")
    if config.readers is not None:
        rs = config.readers
        held = sum(1 for d in rs.doors() if d.egress)
        yield (f"  读卡器 / OSDP readers: {len(rs.readers)} 台 / readers on "
               f"{len(rs.lines())} 条线路 / lines, {len(rs.doors())} 个门 / doors"
               f"（疏散门 / egress {held}）")
    if config.patrol is not None:
        pt = config.patrol
        kinds = Counter(r.kind for r in pt.receivers)
        listed = ", ".join(f"{k} ×{n}" for k, n in sorted(kinds.items())) or "仅二维码 / QR only"
        yield (f"  巡更 / patrol: {len(pt.receivers)} 个接收器 / receivers ({listed})"
               + (f", broker {pt.broker}" if pt.broker else ""))
    op = config.operator
    if config.parking is not None or config.fire is not None or config.linkage_rules:
        yield (f"  值班操作 / operators: http {op.host}:{op.port}"
               "（须操作令牌 / staff token required）")
    for warning in config.warnings:
        where = f"{warning.file}:{warning.line}:{warning.col}"
        yield f"{where}: 警告 / warning: {warning.what} — {warning.fix}"
    rules = config.linkage_rules
    if rules is not None or config.fire is not None:
        text = (f"{len(rules)} 条规则 / rules" if rules is not None
                else "默认规则（火警 → 开门、抬杆、电梯迫降）/ default rules")
        yield f"  联动 / linkage: {text}"


def validate_main(path: str, profiles_dir: str | None = None) -> int:
    """Check a site file; print every problem and return 2, or an OK summary and return 0."""
    site_path = Path(path)
    if not site_path.is_file():
        print(f"{path}: 找不到站点文件 / site file not found — 检查路径 / check the path",
              file=sys.stderr)
        return REFUSED
    return run_check(lambda: load_site(site_path, Path(profiles_dir) if profiles_dir else None),
                     summary, en_tail=f" in {site_path.name}")
