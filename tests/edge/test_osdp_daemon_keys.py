"""Reader key files: a new reader's key is created pending (0600) and kept across restarts
until the reader took it, then it becomes the key file; a damaged file is refused naming it,
and a key file others can read is warned about (without the key)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import structlog

from edge.access import keys


def test_a_new_key_is_pending_until_the_reader_takes_it(tmp_path: Path) -> None:
    path = tmp_path / "osdp-keys" / "r-1.scbk"
    first = keys.load_or_create(path)
    pending = keys.pending_path(path)
    assert not first.enrolled and pending.exists() and not path.exists()
    assert stat.S_IMODE(pending.stat().st_mode) == 0o600
    assert first.key.hex() not in repr(first)
    again = keys.load_or_create(path)  # an edge restarted before the enrolment finished
    assert (again.key, again.enrolled) == (first.key, False)
    keys.confirm(path)
    enrolled = keys.load_or_create(path)
    assert (enrolled.key, enrolled.enrolled) == (first.key, True) and not pending.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_damaged_key_file_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "r-1.scbk"
    path.write_text("00ff\n")
    path.chmod(0o600)
    with pytest.raises(keys.KeyFileError, match=r"r-1\.scbk"):
        keys.load_or_create(path)


def test_a_key_file_others_can_read_is_warned_about_without_the_key(tmp_path: Path) -> None:
    path = tmp_path / "r-1.scbk"
    key = bytes(range(16))
    path.write_text(key.hex())
    path.chmod(0o644)
    with structlog.testing.capture_logs() as logs:
        assert keys.load_or_create(path).key == key
    [warning] = logs
    assert warning["mode"] == "0o644" and key.hex() not in str(warning)
