"""udev hotplug end to end in one process: fake udev events through pyudev's real
``MonitorObserver`` thread, the debouncer, the follower, the SCST tree and the device's own
control-request code, judged by the SCSI answers the device gives and by the tree.

The block devices are regular files behind fake device nodes (``udev_fakes.FakeDisks``):
unplugging removes the node (the data stays in the file, as on a pulled disk), plugging
makes it appear at a node of the test's choice, growing is ``truncate``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.handlers import block_hotplug, vdisk_blockio
from tcmu_scst.udev.events import DiskEvent, capture
from tcmu_scst.udev.policy import AutoExportRule, HotplugConfig
from tcmu_scst.udev.watcher import HotplugWatcher
from tests.unit.scsi_harness import Harness, sense_of
from tests.unit.udev_fakes import (
    FakeDisks,
    FakeMonitor,
    FakeUdevDevice,
    InProcessWorkers,
    file_disk_class,
    wait_until,
)

SIZE = 1 << 20
WWN = "0x5000c500a1b2c3d4"
TUR = bytes(6)
REQUEST_SENSE = bytes([0x03, 0, 0, 0, 18, 0])
READ_CAPACITY_10 = bytes([0x25]) + bytes(9)
NOT_READY, UNIT_ATTENTION = 0x2, 0x6


def read_10(lba: int, blocks: int) -> bytes:
    return bytes([0x28, 0]) + lba.to_bytes(4, "big") + bytes([0]) + \
        blocks.to_bytes(2, "big") + bytes([0])


def write_10(lba: int, blocks: int) -> bytes:
    return bytes([0x2A, 0]) + lba.to_bytes(4, "big") + bytes([0]) + \
        blocks.to_bytes(2, "big") + bytes([0])


class Rig:
    """The daemon's hotplug side over fake udev and fake disks."""

    def __init__(self, tmp_path: Path, config: HotplugConfig):
        self.disks = FakeDisks(tmp_path)
        self.workers = InProcessWorkers()
        self.system = ScstSystem(self.workers)
        self.monitor = FakeMonitor()
        self.watcher = HotplugWatcher(self.system, config, monitor=self.monitor)
        self.watcher.resolve = self.resolve  # type: ignore[method-assign]
        self.watcher.follower.resolve = self.resolve
        self.emitted = 0
        self.tmp_path = tmp_path

    def resolve(self, path: str) -> DiskEvent | None:
        """The udev database: the disk at ``path`` now."""
        data = self.disks.paths.get(path)
        if data is None:
            return None
        node = next(node for node, where in self.disks.paths.items()
                    if where == data and not node.startswith("/dev/disk/"))
        return capture(self.disks.event("add", node.removeprefix("/dev/"), data))

    def emit(self, *devices: FakeUdevDevice) -> None:
        for device in devices:
            self.monitor.emit(device)
            self.emitted += device.device_type == "disk"  # the watcher skips partitions

    def settle(self) -> None:
        wait_until(lambda: self.monitor.pending == 0 and
                   self.watcher.events_seen >= self.emitted)
        assert self.watcher.debouncer.settle()

    def tree(self, path: str) -> str:
        return self.system.tree.read(path).split("\n")[0]

    def mgmt(self, path: str, text: str) -> None:
        self.system.tree.write(path, text)

    def harness(self, name: str) -> Harness:
        return Harness(self.workers.served[name])


@pytest.fixture
def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    rig = Rig(tmp_path, HotplugConfig(quiet=0.05, patience=1.0))
    backend = file_disk_class(rig.disks)
    monkeypatch.setattr(vdisk_blockio, "BlockBackend", backend)
    monkeypatch.setattr(block_hotplug, "BlockBackend", backend)
    rig.watcher.start()
    yield rig
    rig.watcher.stop()
    rig.monitor.close()


def new_disk(rig: Rig, name: str = "disk-a.img", size: int = SIZE) -> Path:
    data = rig.tmp_path / name
    data.write_bytes(os.urandom(size))
    return data


def test_removal_answers_not_ready_and_the_tree_shows_offline(rig: Rig) -> None:
    data = new_disk(rig)
    rig.emit(rig.disks.plug("sdb", data, WWN))
    rig.settle()
    rig.mgmt("/handlers/vdisk_blockio/mgmt",
             f"add_device bio1 filename=/dev/disk/by-id/wwn-{WWN}")
    scsi = rig.harness("bio1")
    assert scsi(TUR).status == 0
    assert rig.tree("/devices/bio1/offline") == "0"

    rig.emit(rig.disks.unplug("sdb"))
    rig.settle()

    assert rig.tree("/devices/bio1/offline") == "1"
    assert ("bio1", "backing", "") in rig.workers.attribute_calls()
    # LOGICAL UNIT NOT READY, MANUAL INTERVENTION REQUIRED for the medium's commands
    assert sense_of(scsi(TUR)) == (NOT_READY, 0x04, 0x03)
    assert sense_of(scsi(read_10(0, 1), data_in_length=512)) == (NOT_READY, 0x04, 0x03)
    assert sense_of(scsi(write_10(0, 1), data_out=bytes(512))) == (NOT_READY, 0x04, 0x03)
    assert sense_of(scsi(READ_CAPACITY_10, data_in_length=8)) == (NOT_READY, 0x04, 0x03)
    sense = scsi(REQUEST_SENSE, data_in_length=18)
    assert sense.status == 0 and (sense.data_in[2], sense.data_in[12], sense.data_in[13]) == \
        (NOT_READY, 0x04, 0x03)
    # INQUIRY still answers: the LUN is there, its medium is not
    assert scsi(bytes([0x12, 0, 0, 0, 36, 0]), data_in_length=36).status == 0


def test_removable_disk_reports_medium_not_present(rig: Rig) -> None:
    data = new_disk(rig)
    rig.emit(rig.disks.plug("sdb", data, WWN))
    rig.settle()
    rig.mgmt("/handlers/vdisk_blockio/mgmt",
             f"add_device rm1 filename=/dev/disk/by-id/wwn-{WWN}; removable=1")
    rig.emit(rig.disks.unplug("sdb"))
    rig.settle()
    assert sense_of(rig.harness("rm1")(TUR)) == (NOT_READY, 0x3A, 0x00)


def test_the_same_disk_under_another_node_is_reopened_with_a_unit_attention(
        rig: Rig) -> None:
    data = new_disk(rig)
    rig.emit(rig.disks.plug("sdb", data, WWN))
    rig.settle()
    filename = f"/dev/disk/by-id/wwn-{WWN}"
    rig.mgmt("/handlers/vdisk_blockio/mgmt", f"add_device bio1 filename={filename}")
    scsi = rig.harness("bio1")
    written = os.urandom(4096)
    assert scsi(write_10(8, 8), data_out=written).status == 0

    rig.emit(rig.disks.unplug("sdb"))
    rig.settle()
    assert rig.tree("/devices/bio1/offline") == "1"
    # another disk comes and goes meanwhile: not ours to follow
    other = new_disk(rig, "other.img")
    rig.emit(rig.disks.plug("sdb", other, "0x5000c500ffffffff"))
    rig.settle()
    assert rig.tree("/devices/bio1/offline") == "1"

    rig.emit(rig.disks.plug("sdd", data, WWN))  # same WWN, new node
    rig.settle()

    assert rig.tree("/devices/bio1/offline") == "0"
    assert ("bio1", "backing", filename) in rig.workers.attribute_calls()
    assert rig.tree("/devices/bio1/filename") == filename  # the stable name stays
    # the first command learns that the medium may have changed, once
    assert sense_of(scsi(TUR)) == (UNIT_ATTENTION, 0x28, 0x00)
    assert scsi(TUR).status == 0
    read = scsi(read_10(8, 8), data_in_length=4096)
    assert read.status == 0 and read.data_in == written


def test_a_node_named_device_follows_its_disk_to_the_new_node(rig: Rig) -> None:
    data = new_disk(rig)
    rig.emit(rig.disks.plug("sdb", data, WWN))
    rig.settle()
    rig.mgmt("/handlers/vdisk_blockio/mgmt", "add_device bio1 filename=/dev/sdb")
    scsi = rig.harness("bio1")
    # pulled and pushed back within one debounce window: one reopen, no offline phase
    rig.emit(rig.disks.unplug("sdb"), rig.disks.plug("sdc", data, WWN))
    rig.settle()
    assert rig.tree("/devices/bio1/filename") == "/dev/sdc"
    assert ("bio1", "backing", "/dev/sdc") in rig.workers.attribute_calls()
    assert [call for call in rig.workers.attribute_calls() if call[1] == "backing"] == \
        [("bio1", "backing", "/dev/sdc")]
    assert sense_of(scsi(TUR)) == (UNIT_ATTENTION, 0x28, 0x00)
    assert scsi(read_10(0, 1), data_in_length=512).data_in == data.read_bytes()[:512]


def test_a_grown_disk_serves_its_new_capacity_after_capacity_data_has_changed(
        rig: Rig) -> None:
    data = new_disk(rig)
    rig.emit(rig.disks.plug("sdb", data, WWN))
    rig.settle()
    rig.mgmt("/handlers/vdisk_blockio/mgmt",
             f"add_device bio1 filename=/dev/disk/by-id/wwn-{WWN}")
    scsi = rig.harness("bio1")
    capacity = scsi(READ_CAPACITY_10, data_in_length=8)
    assert int.from_bytes(capacity.data_in[:4], "big") == SIZE // 512 - 1

    os.truncate(data, 4 * SIZE)
    rig.emit(rig.disks.event("change", "sdb", data))
    rig.settle()

    assert ("bio1", "resync_size", "1") in rig.workers.attribute_calls()
    assert rig.tree("/devices/bio1/size") == str(4 * SIZE)
    assert sense_of(scsi(READ_CAPACITY_10, data_in_length=8)) == (UNIT_ATTENTION, 0x2A, 0x09)
    capacity = scsi(READ_CAPACITY_10, data_in_length=8)
    assert int.from_bytes(capacity.data_in[:4], "big") == 4 * SIZE // 512 - 1
    # a change event without a new size asks the worker nothing
    calls = len(rig.workers.attribute_calls())
    rig.emit(rig.disks.event("change", "sdb", data))
    rig.settle()
    assert len(rig.workers.attribute_calls()) == calls


def auto_rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Rig:
    rule = AutoExportRule({"ID_BUS": "scsi"}, "scst_local", "local", name="hp_{ID_SERIAL}")
    rig = Rig(tmp_path, HotplugConfig(quiet=0.05, patience=1.0, rules=(rule,)))
    backend = file_disk_class(rig.disks)
    monkeypatch.setattr(vdisk_blockio, "BlockBackend", backend)
    monkeypatch.setattr(block_hotplug, "BlockBackend", backend)
    rig.watcher.start()
    rig.mgmt("/targets/scst_local/mgmt", "add_target local session_name=s1")
    return rig


def test_auto_export_adds_device_and_lun_and_removes_them_with_the_disk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rig = auto_rig(tmp_path, monkeypatch)
    try:
        data = new_disk(rig)
        rig.emit(rig.disks.plug("sdb", data, WWN, serial="SERIAL1"))
        rig.settle()
        assert rig.system.tree.listdir("/devices") == ["hp_SERIAL1"]
        assert rig.tree("/devices/hp_SERIAL1/filename") == f"/dev/disk/by-id/wwn-{WWN}"
        assert rig.system.tree.listdir("/targets/scst_local/local/luns") == ["0", "mgmt"]
        link = rig.system.tree.lookup("/targets/scst_local/local/luns/0/device")
        assert link.target.endswith("/devices/hp_SERIAL1")  # type: ignore[attr-defined]
        second = new_disk(rig, "disk-b.img")
        rig.emit(rig.disks.plug("sdc", second, "0x5000c500000000b2", serial="SERIAL2"))
        rig.settle()
        assert rig.system.tree.listdir("/targets/scst_local/local/luns") == ["0", "1", "mgmt"]

        rig.emit(rig.disks.unplug("sdb"))
        rig.settle()

        assert rig.system.tree.listdir("/devices") == ["hp_SERIAL2"]
        assert rig.system.tree.listdir("/targets/scst_local/local/luns") == ["1", "mgmt"]
        operations = [operation for operation, _ in rig.workers.calls]
        assert operations.index("remove_lun") < operations.index("delete_device")
        # back again: exported again, in the free LUN
        rig.emit(rig.disks.plug("sde", data, WWN, serial="SERIAL1"))
        rig.settle()
        assert rig.system.tree.listdir("/devices") == ["hp_SERIAL1", "hp_SERIAL2"]
        assert rig.system.tree.listdir("/targets/scst_local/local/luns") == ["0", "1", "mgmt"]
    finally:
        rig.watcher.stop()
        rig.monitor.close()


def test_our_own_exports_are_never_picked_up(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    rig = auto_rig(tmp_path, monkeypatch)
    try:
        data = new_disk(rig)
        rig.emit(rig.disks.plug("sdb", data, WWN, serial="REAL"))
        rig.settle()
        assert rig.system.tree.listdir("/devices") == ["hp_REAL"]
        # what the initiator side of our exports looks like to udev, all matching ID_BUS=scsi
        ours = [
            rig.disks.plug("sdc", new_disk(rig, "c.img"), "0x6001405000000001",
                           vendor="SCST_BIO", serial="OWN1"),
            rig.disks.plug("sdd", new_disk(rig, "d.img"), "0x6001405000000002",
                           vendor="LIO-ORG", serial="OWN2"),
            rig.disks.plug("sde", new_disk(rig, "e.img"), "0x6001405000000003",
                           serial="OWN3", TCMU_SCST_OWN="1"),
        ]
        loop = rig.disks.plug("sdf", new_disk(rig, "f.img"), "0x6001405000000004",
                              serial="OWN4")
        loop.sys_path = ("/sys/devices/tcm_loop_0/tcm_loop_adapter_0/host7/target7:0:1/"
                         "7:0:1:0/block/sdf")
        renamed = rig.disks.plug("sdg", new_disk(rig, "g.img"), "0x6001405000000005",
                                 vendor="MYCO", serial="OWN5")
        rig.mgmt("/devices/hp_REAL/t10_vend_id", "MYCO")  # a vendor set on our device
        rig.emit(*ours, loop, renamed)
        rig.settle()
        assert rig.system.tree.listdir("/devices") == ["hp_REAL"]
        assert rig.system.tree.listdir("/targets/scst_local/local/luns") == ["0", "mgmt"]
    finally:
        rig.watcher.stop()
        rig.monitor.close()


def test_a_storm_is_debounced_and_never_blocks_the_observer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rig = Rig(tmp_path, HotplugConfig(quiet=0.2, patience=5.0))
    backend = file_disk_class(rig.disks)
    monkeypatch.setattr(vdisk_blockio, "BlockBackend", backend)
    monkeypatch.setattr(block_hotplug, "BlockBackend", backend)
    rig.watcher.start()
    try:
        disks = {}
        for index, node in enumerate(("sdb", "sdc")):
            data = new_disk(rig, f"{node}.img")
            wwn = f"0x5000c5000000000{index}"
            rig.emit(rig.disks.plug(node, data, wwn))
            disks[node] = (data, wwn)
        rig.settle()
        for node, (_, wwn) in disks.items():
            rig.mgmt("/handlers/vdisk_blockio/mgmt",
                     f"add_device {node} filename=/dev/disk/by-id/wwn-{wwn}")
        # the handler is held up in the middle of the storm (a slow worker, say) ...
        release = threading.Event()
        original = rig.watcher.follower.handle

        def slow_handle(events: list[DiskEvent]) -> None:
            release.wait(10)
            original(events)

        rig.watcher.debouncer.handler = slow_handle
        for data, _ in disks.values():
            os.truncate(data, 2 * SIZE)
        storm = [rig.disks.event(action, node, data)
                 for _ in range(300) for node, (data, _) in disks.items()
                 for action in ("change", "change", "online")]
        storm += [FakeUdevDevice("change", "sdb1", device_type="partition")] * 200
        rig.emit(*storm)
        # ... and still the observer takes every event at once
        wait_until(lambda: rig.monitor.pending == 0, timeout=5)
        wait_until(lambda: rig.watcher.events_seen >= rig.emitted, timeout=5)
        release.set()
        rig.settle()
        resyncs = [call for call in rig.workers.attribute_calls() if call[1] == "resync_size"]
        assert sorted(resyncs) == [("sdb", "resync_size", "1"), ("sdc", "resync_size", "1")]
        # 1800 whole-disk events became one batch per disk
        assert rig.watcher.debouncer.batches_handled <= 2 + 2 + 2
        assert rig.tree("/devices/sdb/size") == str(2 * SIZE)
    finally:
        rig.watcher.stop()
        rig.monitor.close()


def test_a_device_named_as_the_rule_names_it_goes_with_its_disk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A restored configuration brings back auto-exported devices as plain ones: the rule's
    own name over the rule's disk makes them the rule's again."""
    rig = auto_rig(tmp_path, monkeypatch)
    try:
        data = new_disk(rig)
        rig.disks.plug("sdb", data, WWN, serial="SERIAL1")  # present before the daemon
        rig.mgmt("/handlers/vdisk_blockio/mgmt",
                 f"add_device hp_SERIAL1 filename=/dev/disk/by-id/wwn-{WWN}")
        rig.mgmt("/handlers/vdisk_blockio/mgmt", "add_device mine filename=/dev/sdb")
        rig.emit(rig.disks.unplug("sdb"))
        rig.settle()
        assert rig.system.tree.listdir("/devices") == ["mine"]
        assert rig.tree("/devices/mine/offline") == "1"
    finally:
        rig.watcher.stop()
        rig.monitor.close()
