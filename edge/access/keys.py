"""Each OSDP reader's secure channel base key (SCBK), one file per reader, mode 0600.

A reader the edge has no key for is enrolled: a fresh random key is written to
``<key_file>.pending`` and the reader runs in install mode (it still holds the default key
SCBK-D; libosdp hands it ours). When the channel runs on our key the driver reports the
enrolment and the pending file becomes the key file, from then on enforced. A restart before
that finds the pending key and enrols again with the same one, so a reader never ends up
holding a key the edge lost. The key is never logged: only the file's path is.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

KEY_BYTES = 16
PENDING = ".pending"


class KeyFileError(ValueError):
    """A key file that does not hold a 16-byte key in hex."""


@dataclass(frozen=True, slots=True)
class ReaderKey:
    key: bytes
    #: True when the reader took this key (the key file exists, not just the pending one).
    enrolled: bool
    path: Path

    def __repr__(self) -> str:  # never the key itself
        return f"ReaderKey(path={str(self.path)!r}, enrolled={self.enrolled})"


def pending_path(path: Path) -> Path:
    return path.with_name(path.name + PENDING)


def load_or_create(path: Path) -> ReaderKey:
    """The reader's key: enrolled from ``path``, else pending (created if missing)."""
    if path.exists():
        return ReaderKey(_read(path), True, path)
    pending = pending_path(path)
    if pending.exists():
        return ReaderKey(_read(pending), False, path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(KEY_BYTES)
    fd = os.open(pending, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key.hex() + "\n")
        f.flush()
        os.fsync(f.fileno())
    log.info("已生成读卡器密钥，等待写入读卡器 / reader key created, enrolment pending",
             file=str(pending))
    return ReaderKey(key, False, path)


def confirm(path: Path) -> None:
    """The reader took the pending key: it becomes the key file (atomic rename)."""
    pending = pending_path(path)
    if pending.exists():
        os.replace(pending, path)
        with contextlib.suppress(OSError):
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        log.info("读卡器密钥已生效 / reader key enrolled", file=str(path))


def _read(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("读卡器密钥文件权限过宽，应为 0600 / reader key file readable by others, "
                    "should be 0600", file=str(path), mode=oct(mode))
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise KeyFileError(f"{path}: 读卡器密钥应为 32 个十六进制字符 / a reader key file holds "
                           f"32 hex digits (16 bytes)")
    return key
