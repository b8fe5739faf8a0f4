"""`courtyard edge validate SITE.yaml`: the installer's check before provisioning a box.

Problems go to stderr one per line (FILE:LINE:COL, so editors and terminals can jump to them),
then one summary line; exit code 2 tells scripts the file must not be deployed.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from edge.config.loader import load_site
from edge.config.problems import ConfigError


def validate_main(path: str, profiles_dir: str | None = None) -> int:
    """Check a site file; print every problem and return 2, or an OK summary and return 0."""
    site_path = Path(path)
    if not site_path.is_file():
        print(f"{path}: 找不到站点文件 / site file not found — 检查路径 / check the path",
              file=sys.stderr)
        return 2
    try:
        config = load_site(site_path, Path(profiles_dir) if profiles_dir else None)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        n = len(exc.problems)
        print(f"{n} 个错误 / {n} error{'s' if n != 1 else ''} in {site_path.name}",
              file=sys.stderr)
        return 2
    by_profile = Counter(d.profile.id for d in config.devices)
    listed = ", ".join(f"{pid} ×{n}" for pid, n in sorted(by_profile.items())) or "—"
    print(f"OK {site_path.name}: 站点 / site {config.site.id} ({config.site.name}), "
          f"{len(config.buses)} 条总线 / buses, {len(config.devices)} 台设备 / devices")
    print(f"  {listed}")
    return 0
