"""The README and docs/ name only files and modules that exist.

A newcomer follows the docs into the code; a path left behind by a move (``cloud/api/…``,
``contract/parking.py``) sends them nowhere. Two kinds of reference are checked:

* repository paths (``cloud/parking/handlers.py``, ``configs/tariffs/*.yaml``,
  ``configs/profiles/<id>.yaml``, ``dashboards/guard/``): the file or folder exists, and a
  pattern (``*``, or a ``<placeholder>``/``{placeholder}`` part) matches at least one;
* dotted names in backticks (``cloud.ingest.Ingestor.handle``, ``edge.outbox.AsyncOutbox``):
  the module imports and every attribute after it exists.

MQTT topics (``courtyard/v1/{site}/up/events``) and site-file keys (``cloud.http_url``,
``edge.health_port``) look like paths and modules but are neither; they are told apart by the
contract's topic prefix and the site file's schema.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from contract.topics import PREFIX as TOPIC_PREFIX
from edge.config.schema import Record, Spec
from edge.config.site_schema import SITE

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md")])
#: Top-level folders that are not the project's source (run-time data, build output).
NOT_SOURCE = {"var", "build", "dist", "node_modules", "__pycache__"}
ROOTS = sorted(p.name for p in REPO.iterdir()
               if p.is_dir() and not p.name.startswith(".") and p.name not in NOT_SOURCE
               and not p.name.endswith(".egg-info"))
#: Python packages among them: dotted names starting with one of these are checked.
PACKAGES = sorted(r for r in ROOTS if (REPO / r / "__init__.py").is_file())

_ROOT_ALT = "|".join(re.escape(r) for r in ROOTS)
PATH_RE = re.compile(rf"(?<![\w./~$-])((?:{_ROOT_ALT})/[\w./*<>{{}}-]*)")
_PKG_ALT = "|".join(re.escape(p) for p in PACKAGES)
DOTTED_RE = re.compile(rf"`((?:{_PKG_ALT})(?:\.[A-Za-z_]\w*)+)")
PLACEHOLDER_RE = re.compile(r"<[^/>]*>|\{[^/}]*\}")


def _paths(text: str) -> set[str]:
    found = set()
    for match in PATH_RE.finditer(text):
        path = match.group(1).rstrip(".,:;")
        if path.split("/", 1)[1] and not path.startswith(f"{TOPIC_PREFIX}/"):
            found.add(path)
    return found


def _site_key(dotted: str) -> bool:
    """``cloud.http_url``: a key of the site file (sections ``cloud:``, ``edge:``)."""
    spec: Spec = SITE
    for part in dotted.split("."):
        if not isinstance(spec, Record) or part not in spec.fields:
            return False
        spec = spec.fields[part].spec
    return True


def _exists(ref: str) -> bool:
    pattern = PLACEHOLDER_RE.sub("*", ref.rstrip("/"))
    if "*" in pattern:
        return any(REPO.glob(pattern))
    path = REPO / pattern
    return path.is_dir() if ref.endswith("/") else path.exists()


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def test_the_checker_sees_what_it_should() -> None:
    """The patterns themselves: a moved path and a renamed module are caught, URLs are not."""
    text = ("see `cloud/api/parking.py`, configs/tariffs/*.yaml, `configs/profiles/<id>.yaml`, "
            "http://127.0.0.1:8080/guard, /tmp/edge/x, `cloud.nowhere.thing`, "
            "courtyard/v1/{site}/down/sync, `edge.health_port`.")
    assert _paths(text) == {"cloud/api/parking.py", "configs/tariffs/*.yaml",
                            "configs/profiles/<id>.yaml"}
    assert not _exists("cloud/api/parking.py")
    assert _exists("configs/tariffs/*.yaml") and _exists("configs/profiles/<id>.yaml")
    assert DOTTED_RE.findall(text) == ["cloud.nowhere.thing", "edge.health_port"]
    assert _site_key("edge.health_port") and not _site_key("cloud.nowhere.thing")
    assert not _resolves("cloud.nowhere.thing")
    assert _resolves("cloud.ingest.Ingestor.handle")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_doc_names_only_paths_that_exist(doc: Path) -> None:
    missing = sorted(p for p in _paths(doc.read_text(encoding="utf-8")) if not _exists(p))
    assert not missing, f"{doc.relative_to(REPO)} names paths that do not exist: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_doc_names_only_modules_that_exist(doc: Path) -> None:
    names = {n for n in DOTTED_RE.findall(doc.read_text(encoding="utf-8")) if not _site_key(n)}
    missing = sorted(n for n in names if not _resolves(n))
    assert not missing, f"{doc.relative_to(REPO)} names modules or attributes that do not " \
                        f"exist: {missing}"


OUTSIDE_RE = re.compile(r"\.\./|https?://(?!127\.0\.0\.1|localhost|EDGE\b|<)")


@pytest.mark.parametrize("name", ["architecture.md", "protocols.md"])
def test_design_docs_cite_nothing_outside_the_repository(name: str) -> None:
    """The architecture and the protocol facts stand on their own: sources are named by title
    and clause, never linked outside the repository."""
    doc = REPO / "docs" / name
    if not doc.exists():
        pytest.fail(f"docs/{name} is missing")
    outside = OUTSIDE_RE.findall(doc.read_text(encoding="utf-8"))
    assert not outside, f"docs/{name} points outside the repository: {outside}"
