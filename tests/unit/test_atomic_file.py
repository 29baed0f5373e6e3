"""The one atomic file replacement: a failure at any step leaves the old file and no debris."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest

from tcmu_scst.config import atomic_file
from tcmu_scst.config.atomic_file import PRIVATE, SHARED, write_atomically

OLD = "HANDLER vdisk_nullio {\n\tDEVICE old\n}\n"
NEW = "HANDLER vdisk_nullio {\n\tDEVICE new\n}\n" * 1000


def _directory_listing(path: Path) -> list[str]:
    return sorted(entry.name for entry in path.parent.iterdir())


def test_replaces_the_file_with_the_mode_asked_for(tmp_path: Path) -> None:
    target = tmp_path / "scst.conf"
    target.write_text(OLD)
    os.chmod(target, 0o644)
    old_umask = os.umask(0o077)  # the mode is the one asked for, whatever the umask says
    try:
        write_atomically(str(target), NEW, SHARED)
    finally:
        os.umask(old_umask)
    assert target.read_text() == NEW
    assert target.stat().st_mode & 0o777 == 0o644
    write_atomically(str(target), "secret\n", PRIVATE)
    assert target.stat().st_mode & 0o777 == 0o600
    assert _directory_listing(target) == ["scst.conf"]


class _DiskFullHalfway(io.TextIOWrapper):
    """A file whose write puts the first half of the text on disk, then fails (ENOSPC)."""

    def write(self, text: str) -> int:
        super().write(text[:len(text) // 2])
        super().flush()
        raise OSError(28, "No space left on device")


def test_a_crash_in_the_middle_of_the_write_leaves_the_old_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "scst.conf"
    target.write_text(OLD)
    written: list[str] = []
    real_fdopen = os.fdopen

    def fdopen(fd: int, *args: Any, **kwargs: Any) -> io.TextIOWrapper:
        binary = real_fdopen(fd, "wb")
        written.append(os.readlink(f"/proc/self/fd/{fd}"))
        return _DiskFullHalfway(binary, encoding="utf-8")

    monkeypatch.setattr(atomic_file.os, "fdopen", fdopen)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(str(target), NEW, PRIVATE)
    # the half-written temporary file was in the same directory, and is gone
    assert written and Path(written[0]).parent == tmp_path
    assert not Path(written[0]).exists()
    assert target.read_text() == OLD
    assert _directory_listing(target) == ["scst.conf"]


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_a_failure_before_the_rename_leaves_the_old_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str) -> None:
    target = tmp_path / "scst.conf"
    target.write_text(OLD)

    def fail(*args: Any) -> None:
        raise OSError(5, f"{failing} failed")

    monkeypatch.setattr(atomic_file.os, failing, fail)
    with pytest.raises(OSError, match=f"{failing} failed"):
        write_atomically(str(target), NEW, SHARED)
    assert target.read_text() == OLD
    assert _directory_listing(target) == ["scst.conf"]


def test_an_interrupt_is_cleaned_up_too(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while saving is not an OSError; it must not leave a temporary file either."""
    target = tmp_path / "scst.conf"

    def interrupted(*args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic_file.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(str(target), NEW, SHARED)
    assert list(tmp_path.iterdir()) == []  # no file was there, none is now


def test_a_missing_directory_is_an_error_not_created(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomically(str(tmp_path / "absent" / "scst.conf"), NEW, SHARED)
    assert list(tmp_path.iterdir()) == []
