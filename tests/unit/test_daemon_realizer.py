"""The SCST tree realised in (emulated) LIO configfs: what each command leaves in configfs,
and that a refused or failed command leaves configfs exactly as it was."""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.daemon.lio_realizer import LioRealizer
from tcmu_scst.dataplane.spec import DeviceSpec
from tcmu_scst.dataplane.supervisor import DeviceOpenError, OnOpened
from tcmu_scst.handlers.registry import effective_values, open_scsi_device
from tcmu_scst.lio.access_plan import GROUP_LUN_BASE
from tcmu_scst.lio.chap import Chap
from tcmu_scst.lio.iscsi import IscsiTarget
from tcmu_scst.lio.snapshot import snapshot
from tcmu_scst.testing.lio import EmulatedConfigfs, emulated_lio

IQN = "iqn.2006-10.net.vlnb:tgt"
TARGET = f"/targets/iscsi/{IQN}"
TPG = f"iscsi/{IQN}/tpgt_1"


class FakeSupervisor:
    """Records workers instead of starting processes; ``fail`` makes the next start fail."""

    def __init__(self) -> None:
        self.workers: dict[str, list[DeviceSpec]] = {}
        self.attributes: list[tuple[str, str, str]] = []
        self.fail = False

    def start(self, key: str, specs: list[DeviceSpec],
              on_opened: OnOpened | None = None) -> SimpleNamespace:
        """Opens the devices here, as the worker would, for what they report."""
        if self.fail:
            raise RuntimeError("worker exited at once")
        facts = {}
        for spec in specs:
            try:
                device = open_scsi_device(spec.handler, spec.name, spec.params)
            except OSError as error:  # what the real worker reports, FAILED
                raise DeviceOpenError(error.errno, str(error)) from error
            facts[spec.name] = effective_values(device)
            device.close()
        if on_opened is not None:
            on_opened(facts)
        self.workers[key] = specs
        return SimpleNamespace(facts=facts)

    def stop(self, key: str) -> None:
        del self.workers[key]

    def set_attribute(self, device: str, name: str, value: str) -> None:
        self.attributes.append((device, name, value))

    def stop_all(self) -> None:
        self.workers.clear()


@pytest.fixture
def fs() -> EmulatedConfigfs:
    return emulated_lio()


@pytest.fixture
def supervisor() -> FakeSupervisor:
    return FakeSupervisor()


@pytest.fixture
def scst(fs: EmulatedConfigfs, supervisor: FakeSupervisor) -> ScstSystem:
    return ScstSystem(LioRealizer(configfs=fs, supervisor=supervisor))  # type: ignore[arg-type]


@pytest.fixture
def disk(tmp_path: Path) -> Path:
    path = tmp_path / "disk1"
    path.write_bytes(bytes(8 << 20))
    return path


def example(scst: ScstSystem, disk: Path) -> None:
    scst.tree.write("/handlers/vdisk_fileio/mgmt",
                    f"add_device disk1 filename={disk}; blocksize=4096")
    scst.tree.write("/targets/iscsi/mgmt", f"add_target {IQN}")
    scst.tree.write(f"{TARGET}/luns/mgmt", "add disk1 0")
    scst.tree.write(f"{TARGET}/enabled", "1")
    scst.tree.write("/targets/iscsi/enabled", "1")


def test_announcement_example_in_configfs(scst: ScstSystem, fs: EmulatedConfigfs,
                                          supervisor: FakeSupervisor, disk: Path) -> None:
    example(scst, disk)
    state = snapshot(fs)
    assert state["core/user_100/disk1/enable"].strip() == "1"
    assert "dev_size=8388608" in fs.read("target/core/user_100/disk1/info") or \
        state["core/user_100/disk1/attrib/hw_block_size"].strip() == "4096"
    assert state[f"{TPG}/lun/lun_0"] == "/"
    assert any(key.startswith(f"{TPG}/np/0.0.0.0:3260") for key in state)
    assert state[f"{TPG}/attrib/generate_node_acls"].strip() == "1"
    assert state[f"{TPG}/attrib/demo_mode_write_protect"].strip() == "0"
    assert state[f"{TPG}/enable"].strip() == "1"
    assert state[f"{TPG}/param/InitialR2T"].strip() == "No"  # SCST's default, applied
    [spec] = supervisor.workers["disk1"]
    assert spec.handler == "vdisk_fileio" and spec.params["blocksize"] == "4096"


def unchanged(fs: EmulatedConfigfs, action: Callable[[], None], code: int) -> None:
    before = snapshot(fs)
    with pytest.raises(OSError) as caught:
        action()
    assert caught.value.errno == code, caught.value
    assert snapshot(fs) == before


def test_refused_commands_leave_configfs_unchanged(scst: ScstSystem, fs: EmulatedConfigfs,
                                                   supervisor: FakeSupervisor,
                                                   disk: Path) -> None:
    example(scst, disk)
    write = scst.tree.write
    unchanged(fs, lambda: write("/handlers/vdisk_fileio/mgmt",
                                f"add_device disk2 filename={disk}; blocksize=1"), errno.EINVAL)
    unchanged(fs, lambda: write("/handlers/vdisk_fileio/mgmt",
                                f"add_device disk1 filename={disk}"), errno.EEXIST)
    unchanged(fs, lambda: write("/handlers/vdisk_fileio/mgmt",
                                "add_device disk2 filename=/missing"), errno.ENOENT)
    unchanged(fs, lambda: write("/targets/iscsi/mgmt", f"add_target {IQN}"), errno.EEXIST)
    unchanged(fs, lambda: write(f"{TARGET}/luns/mgmt", "add disk1 0"), errno.EEXIST)
    unchanged(fs, lambda: write(f"{TARGET}/luns/mgmt", "add disk1 1 read_only=1"),
              errno.EINVAL)  # not expressible in demo mode: refused, not approximated
    unchanged(fs, lambda: write(f"{TARGET}/InitialR2T", "Maybe"), errno.EINVAL)
    supervisor.fail = True
    unchanged(fs, lambda: write("/handlers/vdisk_nullio/mgmt", "add_device n1"), errno.EIO)
    assert "n1" not in scst.tree.listdir("/devices")


def test_groups_become_tagged_acls(scst: ScstSystem, fs: EmulatedConfigfs, disk: Path) -> None:
    example(scst, disk)
    scst.tree.write("/handlers/vdisk_nullio/mgmt", "add_device n1 size_mb=16")
    scst.tree.write(f"{TARGET}/ini_groups/mgmt", "create hosts")
    scst.tree.write(f"{TARGET}/ini_groups/hosts/luns/mgmt", "add n1 0 read_only=1")
    initiator = "iqn.1994-05.com.redhat:host1"
    scst.tree.write(f"{TARGET}/ini_groups/hosts/initiators/mgmt", f"add {initiator}")
    acl = f"target/{TPG}/acls/{initiator}"
    assert fs.read(f"{acl}/tag").strip() == "hosts"
    assert fs.read(f"{acl}/lun_0/write_protect").strip() == "1"
    assert fs.is_link(f"{acl}/lun_0/lun_{GROUP_LUN_BASE}")  # group LUN 0 -> TPG LUN 20000
    scst.tree.write(f"{TARGET}/ini_groups/mgmt", "del hosts")
    assert not fs.exists(acl) and not fs.exists(f"target/{TPG}/lun/lun_{GROUP_LUN_BASE}")


def test_chap_and_teardown(scst: ScstSystem, fs: EmulatedConfigfs, disk: Path) -> None:
    initial = snapshot(fs)
    example(scst, disk)
    scst.tree.write("/targets/iscsi/mgmt",
                    f"add_target_attribute {IQN} IncomingUser joe secretsecret12")
    assert fs.read(f"target/{TPG}/auth/userid").strip() == "joe"
    assert fs.read(f"target/{TPG}/attrib/authentication").strip() == "1"
    scst.tree.write("/targets/iscsi/mgmt", f"del_target_attribute {IQN} IncomingUser joe")
    assert fs.read(f"target/{TPG}/attrib/authentication").strip() == "0"
    scst.tree.write("/handlers/vdisk_fileio/mgmt", "del_device disk1")  # mapped: unmapped first
    assert not fs.exists(f"target/{TPG}/lun/lun_0")
    assert not fs.exists("target/core/user_100/disk1")
    scst.tree.write("/targets/iscsi/mgmt", f"del_target {IQN}")
    left = {key for key in snapshot(fs)} - set(initial)
    assert not [key for key in left if IQN in key or "user_" in key], left


def test_target_chap_reaches_group_members_acls(scst: ScstSystem, fs: EmulatedConfigfs,
                                                disk: Path) -> None:
    """LIO checks an explicit ACL's own account, SCST the target's for everyone: members
    already in a group and members added later both get the target's account."""
    example(scst, disk)
    scst.tree.write(f"{TARGET}/ini_groups/mgmt", "create hosts")
    early, late = "iqn.1994-05.com.example:early", "iqn.1994-05.com.example:late"
    scst.tree.write(f"{TARGET}/ini_groups/hosts/initiators/mgmt", f"add {early}")
    scst.tree.write("/targets/iscsi/mgmt",
                    f"add_target_attribute {IQN} IncomingUser joe secretsecret12")
    scst.tree.write("/targets/iscsi/mgmt",
                    f"add_target_attribute {IQN} OutgoingUser tgt targetsecret12")
    scst.tree.write(f"{TARGET}/ini_groups/hosts/initiators/mgmt", f"add {late}")
    tpg = IscsiTarget(IQN, fs)
    for initiator in (early, late):
        assert tpg.acl_chap(initiator) == Chap("joe", "secretsecret12", "tgt", "targetsecret12")
    scst.tree.write("/targets/iscsi/mgmt", f"del_target_attribute {IQN} IncomingUser joe")
    assert tpg.acl_chap(early) == Chap("", "", "tgt", "targetsecret12")


def test_shutdown_removes_everything(scst: ScstSystem, fs: EmulatedConfigfs,
                                     supervisor: FakeSupervisor, disk: Path) -> None:
    example(scst, disk)
    scst.tree.write("/targets/scst_local/mgmt", "add_target local1 session_name=s1")
    scst.tree.write("/targets/scst_local/local1/luns/mgmt", "add disk1 0")
    assert any(name.startswith("naa.") for name in fs.listdir("target/loopback"))
    scst.realizer.shutdown()  # type: ignore[attr-defined]
    assert not fs.exists(f"target/iscsi/{IQN}")
    assert not [name for name in fs.listdir("target/loopback") if name.startswith("naa.")]
    assert not fs.exists("target/core/user_100/disk1")
    assert supervisor.workers == {}
