#!/usr/bin/env bash
# Install what Courtyard needs on a fresh Debian machine (Python ≥ 3.11 already there).
#   scripts/bootstrap.sh          → Python deps + socat (enough for `make demo`)
#   scripts/bootstrap.sh --test   → also Mosquitto, PostgreSQL, VictoriaMetrics, Chromium and
#                                   Playwright (for `make test`; the guard board's browser test)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
apt_updated=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "==> 安装系统软件包 / installing Debian packages: ${missing[*]}"
  if [ $apt_updated = 0 ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
  echo "需要 Python 3.11 或更高版本 / Python 3.11+ is required (found $(python3 --version))" >&2; exit 1; }

pkgs=(socat)
python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null || pkgs+=(python3-venv)
if [ $want_test = 1 ]; then
  pkgs+=(mosquitto mosquitto-clients postgresql postgresql-client victoria-metrics)
  # Debian's own Chromium, driven by pip Playwright: `playwright install` downloads a browser
  # build of its own, which these machines cannot fetch, so it is never run.
  pkgs+=(chromium)
  # Chinese glyphs for the pages' screenshots (COURTYARD_SCREENSHOTS=1): without them every
  # label is a box.
  pkgs+=(fonts-noto-cjk)
fi
# The cockpit's charts (Apache ECharts) come from the npm registry: node and npm to fetch them.
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
apt_install "${pkgs[@]}"

if [ ! -x .venv/bin/python ]; then
  echo "==> 创建虚拟环境 / creating .venv"
  python3 -m venv .venv
fi
extras=dev
stamp=.venv/.courtyard-installed
if [ $want_test = 1 ]; then extras=dev,browser; stamp=.venv/.courtyard-installed-test; fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "==> 安装 Python 依赖 / installing Python dependencies ($extras)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[$extras]"
  touch "$stamp"
fi

# ECharts for the cockpit, pinned by dashboards/cockpit/package-lock.json and served by the
# console itself (no CDN): installed again when the lock is newer than node_modules.
cockpit=dashboards/cockpit
if [ ! -d "$cockpit/node_modules" ] || [ "$cockpit/package-lock.json" -nt "$cockpit/node_modules" ]; then
  echo "==> 安装驾驶舱图表库 / installing the cockpit's charts (npm ci)"
  (cd "$cockpit" && npm ci --no-audit --no-fund)
  touch "$cockpit/node_modules"
fi
# The one file the console serves, where the package data (and a wheel) carries it.
mkdir -p "$cockpit/vendor"
if [ ! -f "$cockpit/vendor/echarts.min.js" ] \
    || [ "$cockpit/node_modules/echarts/dist/echarts.min.js" -nt "$cockpit/vendor/echarts.min.js" ]; then
  cp "$cockpit/node_modules/echarts/dist/echarts.min.js" "$cockpit/vendor/echarts.min.js"
fi
