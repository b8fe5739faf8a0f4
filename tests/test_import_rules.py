"""The house rules hold, and they catch a break: ``lint-imports`` passes on the tree as it is and
fails, naming the contract, when a forbidden import is added to a copy of it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("cloud", "contract", "edge", "drivers", "simulators", "courtyard", "parkingrules",
            "yamlcheck", "brokerurl", "configs", "dashboards")


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([str(LINT), "--no-cache"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the product packages and pyproject.toml, to break without touching the repo."""
    dest = tmp_path_factory.mktemp("house")
    for name in PACKAGES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, dest / name,
                            ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_the_tree_keeps_every_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("module", "line", "contract"), [
    # A feature reaching into another feature's HTTP adapter.
    ("cloud/billing/fee_items.py", "import cloud.parking.routes",
     "cloud.parking: its HTTP and ingest adapters are its own"),
    # A lower feature importing a higher one (billing must not know payments).
    ("cloud/billing/money.py", "import cloud.payments.balances",
     "composition root over features over the kit"),
    # The wire contract depending on one side.
    ("contract/kinds.py", "import edge.outbox", "contract/ is the wire only"),
    # A simulator sharing the driver's codec would hide a symmetric bug.
    ("simulators/fire/wire.py", "import drivers.fire.codec",
     "Simulators speak the wire only"),
])
def test_a_forbidden_import_breaks_the_build(tree: Path, module: str, line: str,
                                             contract: str) -> None:
    path = tree / module
    original = path.read_text(encoding="utf-8")
    try:
        path.write_text(f"{original}\n{line}  # noqa\n", encoding="utf-8")
        result = _lint(tree)
    finally:
        path.write_text(original, encoding="utf-8")
    assert result.returncode != 0, result.stdout
    assert contract in " ".join(result.stdout.split()), result.stdout
