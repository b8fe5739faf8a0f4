"""Acceptance: Courtyard installed as a package (a wheel, not an editable checkout) into a fresh
virtual environment runs `courtyard demo` from a directory with no checkout in sight: the
console serves its pages, the edge and simulators find the shipped site file and profiles, and
Ctrl-C stops it cleanly.

The project's dependencies come from the development environment through a ``.pth`` file (the
fresh environment must not need the package index to install them); the repository itself is
never on the path, so a file that does not ship as package data is a failure here.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.support import services
from tests.support.procs import REPO, DemoRun, base_env

pytestmark = pytest.mark.slow

#: Fixed in configs/sites/demo.yaml.
DEMO_PORTS = (9001, 15020, 15021, 15022, 18088, 18830, 19100, 19180)
#: Folders whose every file the installed console, edge or simulators read at run time.
DATA_DIRS = ("configs", "dashboards", "cloud/migrations")
#: Not part of the package: the build copies the source tree without these.
NOT_SOURCE = (".venv", ".git", "var", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
              ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis", "node_modules",
              "tests", "benchmarks")


def _run(args: list[str | Path], cwd: Path, env: dict[str, str], timeout: float,
         ) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


def _clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without anything that would put the checkout or the
    development environment on the path."""
    env = base_env(**extra)
    for key in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"):
        env.pop(key, None)
    return env


def _build_wheel(tmp: Path, env: dict[str, str]) -> Path:
    """A wheel built from a copy of the working tree (building in place would write build/ and
    an egg-info into a checkout others work in)."""
    src = tmp / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(*NOT_SOURCE), symlinks=True)
    wheels = tmp / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", wheels, src],
         cwd=tmp, env=env, timeout=240)
    (wheel,) = wheels.glob("courtyard-*.whl")
    return wheel


def _shipped(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


def _source_data_files() -> list[str]:
    out = []
    for folder in DATA_DIRS:
        for path in (REPO / folder).rglob("*"):
            if (path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
                    and "node_modules" not in path.parts):  # npm's, installed by bootstrap
                out.append(path.relative_to(REPO).as_posix())
    return sorted(out)


def _install(tmp: Path, wheel: Path, env: dict[str, str]) -> Path:
    """A fresh venv with the wheel installed (not editable) and the dependencies visible."""
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp, env=env, timeout=60)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
          "--quiet", wheel], cwd=tmp, env=env, timeout=120)
    deps = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    assert not any(Path(d).resolve() == REPO.resolve() for d in deps)
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                   cwd=tmp, env=env, timeout=30).stdout.strip()
    (Path(purelib) / "courtyard-test-deps.pth").write_text(
        "".join(f"{d}\n" for d in sorted(deps)), encoding="utf-8")
    return venv


def _fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, b""


def test_installed_package_runs_the_demo_from_another_directory(tmp_path: Path) -> None:
    busy = [p for p in DEMO_PORTS if services.port_open("127.0.0.1", p)]
    services.need(not busy, f"demo ports free (busy: {busy})")
    services.need(shutil.which("socat") is not None, "socat installed (the demo's RS-485 line)")
    env = _clean_env()

    wheel = _build_wheel(tmp_path, env)
    missing = [f for f in _source_data_files() if f not in _shipped(wheel)]
    assert not missing, f"files the installed package needs are not in the wheel: {missing}"

    venv = _install(tmp_path, wheel, env)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    courtyard = venv / "bin" / "courtyard"

    where = _run([venv / "bin" / "python", "-c",
                  "import cloud, configs, dashboards, edge, simulators\n"
                  "for m in (cloud, configs, dashboards, edge, simulators): print(m.__file__)"],
                 cwd=elsewhere, env=env, timeout=60).stdout.split()
    assert where and all(Path(f).is_relative_to(venv) for f in where), where

    helped = _run([courtyard, "--help"], cwd=elsewhere, env=env, timeout=60).stdout
    assert "demo" in helped and "edge" in helped and "cloud" in helped

    http_port = services.free_port()
    demo_env = _clean_env(COURTYARD_DEMO_DIR=str(tmp_path / "demo"))
    demo = DemoRun([str(courtyard), "demo", "--port", str(http_port)], elsewhere, demo_env)
    try:
        demo.wait_ready(90)
        lines = demo.lines

        base = f"http://127.0.0.1:{http_port}"
        status, page = _fetch(f"{base}/login")
        assert status == 200 and b"<html" in page.lower(), (status, page[:200])
        status, script = _fetch(f"{base}/login/static/login.js")
        assert status == 200 and script, status

        assert demo.ctrl_c() == 0, demo.tail(40)
        assert any("已停止 / stopped" in line for line in lines)
        assert not any("Traceback" in line for line in lines), demo.tail(80)
    finally:
        demo.kill()
