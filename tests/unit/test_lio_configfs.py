"""The configfs access layer: path handling, error translation, the real implementation."""

from __future__ import annotations

import errno
import os
from pathlib import Path, PurePosixPath

import pytest

from tcmu_scst.lio.configfs import ConfigfsError, RealConfigfs, as_configfs, cfs
from tcmu_scst.lio.rollback import Rollback
from tcmu_scst.lio.snapshot import snapshot
from tcmu_scst.testing.lio import emulated_lio


def test_paths_are_normalised_and_relative() -> None:
    assert cfs("/target//core/./user_1/") == PurePosixPath("target/core/user_1")
    assert cfs("") == PurePosixPath("")
    fs = RealConfigfs("/sys/kernel/config")
    assert fs.relative("/sys/kernel/config/target/core") == PurePosixPath("target/core")
    assert fs.relative(Path("target/iscsi")) == PurePosixPath("target/iscsi")
    assert fs.absolute("target/core") == Path("/sys/kernel/config/target/core")


def test_as_configfs_takes_a_mount_point_or_an_implementation() -> None:
    emulated = emulated_lio()
    assert as_configfs(emulated) is emulated
    real = as_configfs("/somewhere")
    assert isinstance(real, RealConfigfs) and real.root == Path("/somewhere")


def test_real_errors_name_the_operation_and_the_path(tmp_path: Path) -> None:
    fs = RealConfigfs(tmp_path)
    with pytest.raises(ConfigfsError) as failure:
        fs.write("target/nothing", "1")
    error = failure.value
    assert isinstance(error, OSError) and error.errno == errno.ENOENT
    assert str(error) == f"write '1' {tmp_path}/target/nothing: No such file or directory"
    with pytest.raises(ConfigfsError) as failure:
        fs.rmdir("missing")
    assert failure.value.operation == "rmdir" and failure.value.filename == f"{tmp_path}/missing"


def test_real_write_never_creates_a_file(tmp_path: Path) -> None:
    """configfs cannot create files: a missing attribute must fail, not appear."""
    fs = RealConfigfs(tmp_path)
    with pytest.raises(ConfigfsError):
        fs.write("attribute", "1")
    assert not (tmp_path / "attribute").exists()
    (tmp_path / "attribute").write_text("old contents")
    fs.write("attribute", "new")
    assert (tmp_path / "attribute").read_text() == "new contents"  # one write(), no O_TRUNC


def test_real_operations_on_a_plain_directory(tmp_path: Path) -> None:
    fs = RealConfigfs(tmp_path)
    fs.mkdir("target")
    fs.mkdir("target/core")
    (tmp_path / "target" / "core" / "info").write_text("hello\n")
    fs.symlink("target/core", "target/link")
    assert fs.listdir("target") == ["core", "link"]
    assert fs.subdirs("target") == ["core"]
    assert fs.links("target") == ["link"]
    assert fs.is_link("target/link") and not fs.is_dir("target/link")
    assert fs.readlink("target/link") == PurePosixPath("target/core")
    assert fs.read("target/link/info") == "hello\n"
    os.symlink("../target/core", tmp_path / "target" / "relative")
    assert fs.readlink("target/relative") == PurePosixPath("target/core")
    fs.unlink("target/link")
    assert not fs.exists("target/link")


def test_snapshot_lists_groups_links_and_values_with_skips_and_masks(tmp_path: Path) -> None:
    fs = RealConfigfs(tmp_path)
    fs.mkdir("t")
    fs.mkdir("t/a")
    fs.mkdir("t/a/statistics")
    (tmp_path / "t" / "a" / "statistics" / "count").write_text("7\n")
    (tmp_path / "t" / "a" / "version").write_text("v1\n")
    fs.symlink("t/a", "t/b")
    assert snapshot(fs, "t", skip=("*statistics/*",), mask=("*version",)) == {
        "a": "/", "a/statistics": "/", "a/version": "?", "b": "-> t/a"}


def test_rollback_undoes_newest_first_and_keeps_the_original_error() -> None:
    done: list[str] = []

    def fail_undo() -> None:
        done.append("failing undo")
        raise OSError(errno.EIO, "undo broke")

    with pytest.raises(KeyError), Rollback() as undo:
        undo.add(done.append, "first")
        undo.add(fail_undo)
        undo.add(done.append, "third")
        raise KeyError("the step that failed")
    assert done == ["third", "failing undo", "first"]


def test_rollback_does_nothing_on_success() -> None:
    done: list[str] = []
    with Rollback() as undo:
        undo.add(done.append, "never")
    assert done == []
