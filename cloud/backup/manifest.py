"""The archive's ``manifest.json``: what a backup holds, and the checks a restore makes on it.

A restore trusts nothing in the archive it has not checked: the format version, the schema
revision (one this code knows, so never newer), the member names (only the shapes below, so
no path leaves the target folders), and the sha256 of every member.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime

FORMAT = "courtyard-backup"
#: Bumped when an older restore could not read the archive correctly.
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PG_MEMBER = "database.pgdump"
SQLITE_MEMBER = "database.sqlite"
BLOB_PREFIX = "blobs/"
#: pg_dump / pg_restore may run this long by default (seconds): a large events table.
DEFAULT_TIMEOUT_S = 6 * 3600.0
#: ``blobs/ab/cd/abcd…``: the filesystem store's layout (docs/data-lifecycle.md §1).
BLOB_RE = re.compile(r"^blobs/([0-9a-f]{2})/([0-9a-f]{2})/(\1\2[0-9a-f]{60})$")


class BackupError(Exception):
    """A backup or restore that cannot go on; the message is for the operator (zh-CN / en)."""


@dataclass(frozen=True)
class Member:
    sha256: str
    bytes: int


@dataclass
class Manifest:
    created_at: datetime
    revision: str
    dialect: str
    #: pg_dump's and the server's versions (PostgreSQL) or SQLite's library version.
    versions: dict[str, str]
    tables: dict[str, int]
    members: dict[str, Member] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    @property
    def database_member(self) -> str:
        return PG_MEMBER if self.dialect == "postgresql" else SQLITE_MEMBER

    @property
    def blobs(self) -> tuple[int, int]:
        """(count, bytes) of the blobs held."""
        found = [m.bytes for name, m in self.members.items() if name.startswith(BLOB_PREFIX)]
        return len(found), sum(found)

    def to_json(self) -> bytes:
        count, size = self.blobs
        doc = {
            "format": FORMAT, "format_version": self.format_version,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
            "alembic_revision": self.revision,
            "database": {"dialect": self.dialect, "member": self.database_member,
                         **self.versions},
            "tables": dict(sorted(self.tables.items())),
            "blobs": {"count": count, "bytes": size},
            "members": {name: {"sha256": m.sha256, "bytes": m.bytes}
                        for name, m in sorted(self.members.items())},
        }
        return json.dumps(doc, ensure_ascii=False, indent=1).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        """Parse and check the shape; BackupError names what is wrong."""
        try:
            doc = json.loads(raw)
            if doc.get("format") != FORMAT:
                raise BackupError("不是 Courtyard 备份文件 / not a Courtyard backup archive")
            version = int(doc["format_version"])
            if version > FORMAT_VERSION:
                raise BackupError(
                    f"备份格式版本 {version} 比本程序支持的 {FORMAT_VERSION} 新，请升级后再恢复 / "
                    f"archive format {version} is newer than this code reads "
                    f"({FORMAT_VERSION}); upgrade Courtyard first")
            db = doc["database"]
            dialect = str(db["dialect"])
            if dialect not in ("postgresql", "sqlite"):
                raise BackupError(f"未知数据库类型 / unknown database kind: {dialect}")
            created = datetime.fromisoformat(str(doc["created_at"]).replace("Z", "+00:00"))
            members = {str(k): Member(str(v["sha256"]), int(v["bytes"]))
                       for k, v in doc["members"].items()}
            manifest = cls(
                created_at=created, revision=str(doc["alembic_revision"]), dialect=dialect,
                versions={k: str(v) for k, v in db.items() if k not in ("dialect", "member")},
                tables={str(k): int(v) for k, v in doc["tables"].items()},
                members=members, format_version=version)
        except BackupError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupError(f"清单 manifest.json 无法读取 / manifest.json is unreadable: "
                              f"{exc!r}") from None
        for name in members:
            check_member_name(name, dialect)
        if manifest.database_member not in members:
            raise BackupError(f"备份中没有数据库 / the archive holds no database "
                              f"({manifest.database_member})")
        return manifest


def check_member_name(name: str, dialect: str) -> None:
    """Only the names a backup writes: anything else (``../x``, an absolute path) is refused."""
    expected = PG_MEMBER if dialect == "postgresql" else SQLITE_MEMBER
    if name != expected and not BLOB_RE.match(name):
        raise BackupError(f"备份中有意外的文件 / unexpected member in the archive: {name!r}")


def check_revision(revision: str, known: set[str], head: str) -> None:
    """Refuse a schema this code does not know: it came from newer code."""
    if revision not in known:
        raise BackupError(
            f"备份的数据库结构版本 {revision} 比本程序（{head}）新或未知，请先升级 Courtyard / "
            f"the archive's schema revision {revision} is newer than or unknown to this code "
            f"(head {head}); upgrade Courtyard first")


def blob_member(hexdigest: str) -> str:
    return f"{BLOB_PREFIX}{hexdigest[:2]}/{hexdigest[2:4]}/{hexdigest}"

