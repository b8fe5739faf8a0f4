"""Writing, checking and unpacking the archive (blocking file work: callers run it in a thread).

The manifest is the last member, so a backup reads every file once: each member is hashed as
it goes into the tar. A restore reads the archive twice: first only to hash every member and
compare with the manifest (nothing is written), then to unpack, hashing again, so a file
changed between the two reads is refused too.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from cloud.backup.manifest import (
    BLOB_RE,
    MANIFEST,
    BackupError,
    Manifest,
    Member,
    blob_member,
)

Say = Callable[[str], None]
CHUNK = 1 << 20
#: A manifest larger than this is not one we wrote (about 10 million blobs).
MANIFEST_MAX = 2 << 30


class _Hashing:
    """A file object that hashes what is read through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.hash = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.hash.update(data)
        self.size += len(data)
        return data


def is_gzip(path: Path) -> bool:
    return path.name.endswith((".gz", ".tgz"))


def _add(tar: tarfile.TarFile, name: str, source: Path) -> Member:
    with source.open("rb") as f:
        info = tar.gettarinfo(fileobj=f, arcname=name)
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mode = 0o600
        reader = _Hashing(f)
        tar.addfile(info, reader)  # type: ignore[arg-type]  # reads exactly info.size bytes
    return Member(reader.hash.hexdigest(), reader.size)


def _add_blob(tar: tarfile.TarFile, blob: Path, say: Say) -> Member | None:
    """One blob (an image: small, read whole so a corrupt one is left out, not archived)."""
    try:
        mtime = int(blob.stat().st_mtime)
        data = blob.read_bytes()
    except FileNotFoundError:
        return None  # purged while we walked: no event of the snapshot needs it
    digest = hashlib.sha256(data).hexdigest()
    if digest != blob.name:
        say(f"警告：跳过已损坏的图片 / warning: skipped a corrupt blob (content differs from "
            f"its name): {blob}")
        return None
    info = tarfile.TarInfo(blob_member(digest))
    info.size, info.mode, info.mtime = len(data), 0o600, mtime
    tar.addfile(info, io.BytesIO(data))
    return Member(digest, len(data))


def store_blobs(blob_dir: Path) -> Iterator[Path]:
    """The store's blob files (``ab/cd/abcd…``), in name order; temp files are skipped."""
    if not blob_dir.is_dir():
        return
    for first in sorted(blob_dir.iterdir()):
        if not first.is_dir() or len(first.name) != 2:
            continue
        for second in sorted(first.iterdir()):
            if not second.is_dir() or len(second.name) != 2:
                continue
            for f in sorted(second.iterdir()):
                if BLOB_RE.match(f"blobs/{first.name}/{second.name}/{f.name}") and f.is_file():
                    yield f


def write_archive(path: Path, manifest: Manifest, database: Path, blob_dir: Path,
                  say: Say) -> Manifest:
    """The archive at ``path`` (written beside it, then renamed: a failed backup leaves no
    archive that looks whole), readable by its owner only (it holds personal data)."""
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            with tarfile.open(fileobj=out, mode="w:gz" if is_gzip(path) else "w",
                              format=tarfile.PAX_FORMAT) as tar:
                manifest.members[manifest.database_member] = _add(
                    tar, manifest.database_member, database)
                count = size = 0
                for blob in store_blobs(blob_dir):
                    member = _add_blob(tar, blob, say)
                    if member is None:
                        continue
                    manifest.members[blob_member(blob.name)] = member
                    count, size = count + 1, size + member.bytes
                    if count % 1000 == 0:
                        say(f"图片 blobs: {count:,} 个 files, {size:,} 字节 bytes")
                say(f"图片 blobs: {count:,} 个 files, {size:,} 字节 bytes")
                raw = manifest.to_json()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mode, info.mtime = len(raw), 0o600, int(
                    manifest.created_at.timestamp())
                tar.addfile(info, io.BytesIO(raw))
            out.flush()
            os.fsync(out.fileno())
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return manifest


def _hash_stream(f: IO[bytes]) -> Member:
    h, size = hashlib.sha256(), 0
    while chunk := f.read(CHUNK):
        h.update(chunk)
        size += len(chunk)
    return Member(h.hexdigest(), size)


def _open(path: Path) -> tarfile.TarFile:
    """Read as a stream: one pass, front to back, whether gzip'd or not."""
    try:
        return tarfile.open(path, "r|*")
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"无法读取备份文件 / cannot read the archive {path}: {exc}") from None


def _members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """Each member once; the caller reads its contents before asking for the next. tarfile
    keeps a list of every member it has seen: with millions of blobs that list would be
    the largest thing in memory, so it is emptied as we go."""
    while (info := tar.next()) is not None:
        yield info
        tar.members.clear()  # type: ignore[attr-defined]  # public, missing in typeshed


def verify_archive(path: Path) -> Manifest:
    """Hash every member and compare with the manifest; nothing is written."""
    found: dict[str, Member] = {}
    raw: bytes | None = None
    try:
        with _open(path) as tar:
            for info in _members(tar):
                if not info.isreg():
                    raise BackupError(f"备份中有非普通文件 / the archive holds a member that is "
                                      f"not a plain file: {info.name!r}")
                if info.name in found or (info.name == MANIFEST and raw is not None):
                    raise BackupError(f"备份中有重复的文件 / member twice in the archive: "
                                      f"{info.name!r}")
                f = tar.extractfile(info)
                assert f is not None  # a regular file always has contents
                if info.name == MANIFEST:
                    if info.size > MANIFEST_MAX:
                        raise BackupError("清单过大 / manifest.json is too large")
                    raw = f.read()
                else:
                    found[info.name] = _hash_stream(f)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BackupError(f"备份文件不完整或已损坏 / the archive is truncated or damaged: "
                          f"{exc}") from None
    if raw is None:
        raise BackupError("备份中没有清单 manifest.json / the archive has no manifest.json")
    manifest = Manifest.from_json(raw)
    extra = sorted(set(found) - set(manifest.members))
    if extra:
        raise BackupError(f"备份中有清单未列出的文件 / member not in the manifest: {extra[0]!r}")
    for name, want in sorted(manifest.members.items()):
        got = found.get(name)
        if got is None:
            raise BackupError(f"备份缺少文件 / member missing from the archive: {name!r}")
        if got != want:
            raise BackupError(f"校验和不符，备份已被改动或损坏 / checksum mismatch, the archive "
                              f"was altered or damaged: {name!r}")
        match = BLOB_RE.match(name)
        if match and match.group(3) != got.sha256:
            raise BackupError(f"图片内容与名称不符 / blob content differs from its name: "
                              f"{name!r}")
    return manifest


def _write_checked(src: IO[bytes], target: Path, want: Member, name: str) -> None:
    """``src`` into ``target`` through a temp file beside it, renamed only if it hashes as
    the manifest says."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".restore-")
    try:
        with os.fdopen(fd, "wb") as out:
            reader = _Hashing(src)
            while chunk := reader.read(CHUNK):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if Member(reader.hash.hexdigest(), reader.size) != want:
            raise BackupError(f"备份文件在校验后被改动 / the archive changed after it was "
                              f"checked: {name!r}")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def unpack(path: Path, manifest: Manifest, database: Path, blob_dir: Path, say: Say) -> None:
    """The database member to ``database`` and every blob the store lacks into ``blob_dir``
    (blobs are named by their content: one already there is the same image)."""
    written = kept = 0
    seen: set[str] = set()
    try:
        with _open(path) as tar:
            for info in _members(tar):
                want = manifest.members.get(info.name)
                if want is None or info.name in seen:
                    continue  # the manifest itself
                seen.add(info.name)
                f = tar.extractfile(info)
                assert f is not None
                if info.name == manifest.database_member:
                    _write_checked(f, database, want, info.name)
                    continue
                target = blob_dir / info.name.removeprefix("blobs/")
                if target.is_file() and target.stat().st_size == want.bytes:
                    kept += 1
                    continue
                _write_checked(f, target, want, info.name)
                written += 1
                if written % 1000 == 0:
                    say(f"图片 blobs: 已写入 written {written:,}")
    except (tarfile.TarError, EOFError) as exc:
        raise BackupError(f"备份文件在校验后被改动 / the archive changed after it was checked: "
                          f"{exc}") from None
    if seen != set(manifest.members):
        raise BackupError("备份文件在校验后被改动 / the archive changed after it was checked "
                          "(members missing)")
    say(f"图片 blobs: 已写入 written {written:,}, 已存在 already there {kept:,}")
