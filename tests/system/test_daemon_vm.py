"""tcmu-scstd on the real kernel: the SCST announcement's example, as ``./demo`` runs it.

The daemon mounts the tree with FUSE; the example's ``echo`` commands create the device and
the iSCSI target; libiscsi sees a 4096-byte-block disk; the kernel initiator logs in, makes
ext4, writes, logs out and in again and reads the data back; the tree shows the session while
logged in; SIGTERM leaves LIO configfs clean.
"""

from __future__ import annotations

from tcmu_scst.vm import guest_library
from tcmu_scst.vm.initramfs import guest_script
from tcmu_scst.vm.pytest_plugin import GuestRunner

IQN = "iqn.2006-10.net.vlnb:tgt"


def test_announcement_example_end_to_end(vm: GuestRunner) -> None:
    result = vm.check(guest_library() + guest_script("announcement.sh"), timeout=900)
    output = result.output
    assert "LOGICAL BLOCK LENGTH IN BYTES:4096" in output
    assert "Vendor:SCST_FIO" in output and "Product:disk1" in output
    assert "payload read back identical after logout and login" in output
    for path in ("./handlers/vdisk_fileio/disk1", "./devices/disk1/exported/export0",
                 f"./targets/iscsi/{IQN}/luns/0/device", "./devices/disk1/handler",
                 f"./targets/iscsi/{IQN}/sessions/"):
        assert path in output, path
    session = [line for line in output.splitlines()
               if f"./targets/iscsi/{IQN}/sessions/" in line and line.endswith("/127.0.0.1/ip")]
    assert session, "the logged-in initiator's session with its address"
    assert "last_sysfs_mgmt_res: 0" in output
    assert output.rstrip().endswith("demo: OK")
