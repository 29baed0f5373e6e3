"""An initiator group's directory has SCST's files (scst_sysfs.md 2.6 and 5.6): besides
``initiators/`` and ``luns/``, the group copies of ``addr_method``, ``io_grouping_type``,
``black_hole`` and ``cpu_mask`` and, for iSCSI, ``per_sess_dedicated_tgt_threads``, so that
scstadmin's ``-list_grp_attr`` finds the group.  They are writable as on SCST; LIO has no
counterpart for any of them, so each takes only its default value (a no-op) and refuses
any other with EINVAL, and none is ever a key."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.testing.recording_realizer import RecordingRealizer

IQN = "iqn.2024-06.org.example:groups"
GROUP = f"/targets/iscsi/{IQN}/ini_groups/hosts"
ALL_CPUS = os.cpu_count() or 1


def cpu_mask(cpus: int) -> str:
    """A kernel bitmap's text (``%*pb``): hex in comma-separated 32-bit chunks."""
    digits = f"{(1 << cpus) - 1:x}"
    chunks = []
    while digits:
        chunks.insert(0, digits[-8:])
        digits = digits[:-8]
    return ",".join(chunks)


@pytest.fixture
def scst() -> ScstSystem:
    system = ScstSystem(RecordingRealizer())
    system.tree.write("/targets/iscsi/mgmt", f"add_target {IQN}")
    system.tree.write(f"/targets/iscsi/{IQN}/ini_groups/mgmt", "create hosts")
    return system


def test_the_group_directory_has_scsts_files(scst: ScstSystem) -> None:
    assert scst.tree.listdir(GROUP) == [
        "addr_method", "black_hole", "cpu_mask", "initiators", "io_grouping_type", "luns",
        "per_sess_dedicated_tgt_threads"]
    for name, shown in [("addr_method", "PERIPHERAL"), ("io_grouping_type", "auto"),
                        ("black_hole", "0"), ("cpu_mask", cpu_mask(ALL_CPUS)),
                        ("per_sess_dedicated_tgt_threads", "0")]:
        assert stat.S_IMODE(scst.tree.lookup(f"{GROUP}/{name}").mode) == 0o644, name
        assert scst.tree.read(f"{GROUP}/{name}") == f"{shown}\n", name


def test_only_the_default_is_accepted(scst: ScstSystem) -> None:
    for name, default, other in [("addr_method", "peripheral\n", "FLAT"),
                                 ("io_grouping_type", "auto\n", "never"),
                                 ("black_hole", "0\n", "1"),
                                 ("cpu_mask", cpu_mask(ALL_CPUS) + "\n", "1" + "0" * 9),
                                 ("per_sess_dedicated_tgt_threads", "0\n", "1")]:
        scst.tree.write(f"{GROUP}/{name}", default)
        assert scst.tree.read("/last_sysfs_mgmt_res") == "0\n"
        with pytest.raises(OSError) as caught:
            scst.tree.write(f"{GROUP}/{name}", other)
        assert caught.value.errno == errno.EINVAL, name
        assert "[key]" not in scst.tree.read(f"{GROUP}/{name}")


def test_other_drivers_groups_have_no_iscsi_file(scst: ScstSystem) -> None:
    scst.tree.write("/targets/scst_local/mgmt", "add_target local1")
    scst.tree.write("/targets/scst_local/local1/ini_groups/mgmt", "create g")
    assert scst.tree.listdir("/targets/scst_local/local1/ini_groups/g") == [
        "addr_method", "black_hole", "cpu_mask", "initiators", "io_grouping_type", "luns"]
