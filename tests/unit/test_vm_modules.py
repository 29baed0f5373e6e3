"""Module load order for the guest's initramfs."""

from __future__ import annotations

import gzip
import lzma
from pathlib import Path

import pytest

from tcmu_scst.vm.modules import ModuleResolutionError, ModuleTree, module_name, read_module_binary

MODULES_DEP = """\
kernel/drivers/target/target_core_user.ko: kernel/drivers/uio/uio.ko kernel/drivers/target/target_core_mod.ko kernel/fs/configfs/configfs.ko
kernel/drivers/target/target_core_mod.ko: kernel/fs/configfs/configfs.ko kernel/lib/crc-t10dif.ko.xz
kernel/drivers/uio/uio.ko:
kernel/fs/configfs/configfs.ko:
kernel/lib/crc-t10dif.ko.xz:
kernel/drivers/target/loopback/tcm_loop.ko: kernel/drivers/scsi/scsi_mod.ko kernel/drivers/target/target_core_mod.ko
kernel/drivers/scsi/scsi_mod.ko:
kernel/a.ko: kernel/b.ko
kernel/b.ko: kernel/a.ko
"""
BUILTIN = "kernel/fs/overlayfs/overlay.ko\n"


@pytest.fixture
def tree() -> ModuleTree:
    return ModuleTree.parse(MODULES_DEP, BUILTIN)


def test_module_names_drop_directory_suffix_and_dashes() -> None:
    assert module_name("kernel/lib/crc-t10dif.ko.xz") == "crc_t10dif"
    assert module_name("kernel/fs/9p/9p.ko") == "9p"


def test_dependencies_come_before_their_users(tree: ModuleTree) -> None:
    order = tree.load_order(["target_core_user", "tcm_loop"])
    assert order == ["uio", "configfs", "crc_t10dif", "target_core_mod", "target_core_user",
                     "scsi_mod", "tcm_loop"]
    for position, name in enumerate(order):
        for dependency in tree.dependencies[name]:
            assert order.index(dependency) < position


def test_each_module_is_loaded_once(tree: ModuleTree) -> None:
    order = tree.load_order(["tcm_loop", "target_core_mod", "tcm_loop"])
    assert len(order) == len(set(order))


def test_builtin_modules_are_skipped(tree: ModuleTree) -> None:
    assert tree.load_order(["overlay", "uio"]) == ["uio"]


def test_unknown_module_is_an_error_naming_it(tree: ModuleTree) -> None:
    with pytest.raises(ModuleResolutionError, match="no_such_module"):
        tree.load_order(["no_such_module"])


def test_dependency_cycle_is_reported(tree: ModuleTree) -> None:
    with pytest.raises(ModuleResolutionError, match="cycle: a -> b -> a"):
        tree.load_order(["a"])


def test_compressed_modules_are_unpacked(tmp_path: Path) -> None:
    elf = b"\x7fELF module bytes"
    (tmp_path / "x.ko.xz").write_bytes(lzma.compress(elf))
    (tmp_path / "y.ko.gz").write_bytes(gzip.compress(elf))
    (tmp_path / "z.ko").write_bytes(elf)
    for name in ("x.ko.xz", "y.ko.gz", "z.ko"):
        assert read_module_binary(tmp_path, name) == elf
    (tmp_path / "w.ko.zst").write_bytes(b"")
    with pytest.raises(ModuleResolutionError, match="zstd"):
        read_module_binary(tmp_path, "w.ko.zst")
