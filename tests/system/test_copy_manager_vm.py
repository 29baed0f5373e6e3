"""SCST's copy manager on the real kernel: with the daemon running, copy_manager_tgt/luns
lists every device; sg_xcopy between two of our devices exported through iSCSI (the kernel
initiator) copies the data without it passing through the initiator, although each device
has a worker process of its own; taking a device's copy manager LUN away takes it out of
reach; ``tcmu-scst-admin -write_config`` writes the copy manager's block."""

from __future__ import annotations

import pytest

from tcmu_scst.vm import Vm, guest_library
from tcmu_scst.vm.pytest_plugin import GuestRunner

pytestmark = pytest.mark.vm

SCRIPT = r"""
S=/run/scst_tgt
T=iqn.2024-01.test:xcopy
CM=$S/targets/copy_manager/copy_manager_tgt
"$TCMU_VM_PYTHON" -m tcmu_scst.daemon.main --mountpoint $S --no-config > /tmp/daemon.log 2>&1 &
daemon=$!
trap 'iscsiadm -m node --logoutall=all >/dev/null 2>&1 || true; kill $daemon 2>/dev/null;
      wait $daemon || true; echo "--- daemon log"; tail -40 /tmp/daemon.log' EXIT
wait_for test -e $S/version
truncate -s 16M /tmp/src /tmp/dst
head -c 1M /dev/urandom > /tmp/pattern
dd if=/tmp/pattern of=/tmp/src conv=notrunc status=none
echo "add_device src filename=/tmp/src" > $S/handlers/vdisk_fileio/mgmt
echo "add_device dst filename=/tmp/dst" > $S/handlers/vdisk_fileio/mgmt
echo "add_target $T" > $S/targets/iscsi/mgmt
echo "add src 0" > $S/targets/iscsi/$T/luns/mgmt
echo "add dst 1" > $S/targets/iscsi/$T/luns/mgmt
echo 1 > $S/targets/iscsi/$T/enabled
echo 1 > $S/targets/iscsi/enabled

set +e  # every outcome below is printed and judged by the tests
for lun in $(ls $CM/luns | grep -v mgmt); do
    echo "cm-lun $lun $(basename $(readlink $CM/luns/$lun/device))"
done
echo "workers: $(pgrep -f tcmu_scst.dataplane.worker | wc -l)"
mkdir -p /etc/iscsi /var/lib/iscsi /run/lock/iscsi
echo "InitiatorName=iqn.2024-01.init:xcopy" > /etc/iscsi/initiatorname.iscsi
iscsid
iscsiadm -m discovery -t sendtargets -p 127.0.0.1 > /dev/null
iscsiadm -m node -T $T -p 127.0.0.1 --login > /dev/null && echo "login: ok"
k_disk() {
    ls -d /sys/class/iscsi_session/session*/device/target*/*:*:*:$1/block/* 2>/dev/null \
        | head -1 | xargs -r basename
}
for i in $(seq 100); do [ -n "$(k_disk 1)" ] && break; sleep 0.2; done
A=$(ls /sys/block/$(k_disk 0)/device/scsi_generic)
B=$(ls /sys/block/$(k_disk 1)/device/scsi_generic)
echo "sg: $A $B"
sg_xcopy if=/dev/$A of=/dev/$B bs=512 count=2048 > /tmp/xcopy1.txt 2>&1
echo "xcopy-rc: $?"
cmp -n 1048576 /tmp/pattern /tmp/dst && echo "copied: same" || echo "copied: differ"

echo "== out of reach"
echo "del 1" > $CM/luns/mgmt
truncate -s 0 /tmp/dst; truncate -s 16M /tmp/dst
sg_xcopy if=/dev/$A of=/dev/$B bs=512 count=2048 2>&1 | grep -i -m1 "copy aborted"
echo "xcopy-without-lun-rc: ${PIPESTATUS[0]}"
cmp -s -n 1048576 /tmp/pattern /tmp/dst && echo "after-del: copied" || echo "after-del: not copied"
echo "add dst 1" > $CM/luns/mgmt
sg_xcopy if=/dev/$A of=/dev/$B bs=512 count=2048 > /dev/null 2>&1
echo "xcopy-lun-back-rc: $?"
cmp -s -n 1048576 /tmp/pattern /tmp/dst && echo "lun-back: copied" || echo "lun-back: differ"

echo "== write_config"
"$TCMU_VM_PYTHON" -m tcmu_scst.config.cli -write_config /tmp/saved.conf --root $S
sed -n '/^TARGET_DRIVER copy_manager/,/^}/p' /tmp/saved.conf
echo "== end"
"""


@pytest.fixture(scope="module")
def output(vm_image: Vm, tmp_path_factory: pytest.TempPathFactory) -> str:
    """One guest run of the whole scenario, judged by the tests below."""
    runner = GuestRunner(vm_image, tmp_path_factory.mktemp("copy-manager"))
    return runner.check(guest_library() + SCRIPT, timeout=900).output


def test_copy_manager_luns_list_every_device(output: str) -> None:
    assert "cm-lun 0 src" in output and "cm-lun 1 dst" in output
    assert "workers: 2" in output  # one worker per device: the copy crosses processes


def test_extended_copy_between_two_devices_over_iscsi(output: str) -> None:
    assert "login: ok" in output
    assert "xcopy-rc: 0" in output
    assert "copied: same" in output


def test_a_device_without_a_copy_manager_lun_is_out_of_reach(output: str) -> None:
    part = output.split("== out of reach")[1].split("== write_config", maxsplit=1)[0]
    assert "copy aborted" in part.lower()
    assert "xcopy-without-lun-rc: 0" not in part
    assert "after-del: not copied" in part
    assert "xcopy-lun-back-rc: 0" in part and "lun-back: copied" in part


def test_write_config_has_the_copy_manager_block(output: str) -> None:
    saved = output.split("== write_config")[1].split("== end", maxsplit=1)[0]
    assert "TARGET_DRIVER copy_manager {\n\tTARGET copy_manager_tgt {\n" in saved
    assert "\t\tLUN 0 src\n" in saved and "\t\tLUN 1 dst\n" in saved
