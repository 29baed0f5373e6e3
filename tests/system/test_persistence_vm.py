"""tcmu-scstd restarts on the real kernel while the kernel initiator is logged in.

The configuration made with echo through the tree is saved by the daemon; the daemon is
stopped with SIGTERM (it removes its LIO objects) and later SIGKILLed (its LIO objects and
workers stay); each time a new daemon restores the saved file (after clearing what the
killed one left), the initiator's session recovers on the same /dev/sdX, the data written
before the restart reads back intact, new writes work, and the device keeps its identity.
"""

from __future__ import annotations

import pytest

from tcmu_scst.vm import guest_library
from tcmu_scst.vm.pytest_plugin import GuestRunner

pytestmark = pytest.mark.vm

IQN = "iqn.2024-03.org.example:persist"

SCRIPT = r"""
set -euo pipefail
S=/run/scst_tgt
CONF=/var/lib/tcmu-scst-test/scst.conf
IQN=iqn.2024-03.org.example:persist
DISK=/tmp/persist-disk1
LOG=/tmp/daemon.log
daemon=
start_daemon() {
    "$TCMU_VM_PYTHON" -m tcmu_scst.daemon.main --mountpoint $S --config $CONF >> $LOG 2>&1 &
    daemon=$!
    wait_for test -e $S/version
}
finish() {
    iscsiadm -m node -T $IQN -p 127.0.0.1 --logout > /dev/null 2>&1 || true
    if [ -n "$daemon" ] && kill -0 $daemon 2>/dev/null; then kill -TERM $daemon; wait $daemon || true; fi
    echo "--- daemon log"; cat $LOG
}
trap finish EXIT
truncate -s 64M $DISK
start_daemon
echo "add_device disk1 filename=$DISK; blocksize=4096" > $S/handlers/vdisk_fileio/mgmt
echo "persist-dev-id" > $S/devices/disk1/t10_dev_id
echo "add_target $IQN" > $S/targets/iscsi/mgmt
echo "add disk1 0" > $S/targets/iscsi/$IQN/luns/mgmt
echo 1 > $S/targets/iscsi/$IQN/enabled
echo 1 > $S/targets/iscsi/enabled
saved() { grep -q "enabled 1" $CONF 2>/dev/null && grep -q "LUN 0 disk1" $CONF; }
wait_for saved
echo "== saved configuration"; cat $CONF; echo "mode: $(stat -c %a $CONF)"

pgrep -x iscsid > /dev/null || iscsid
iscsiadm -m discovery -t sendtargets -p 127.0.0.1 > /dev/null
iscsiadm -m node -T $IQN -p 127.0.0.1 --login > /dev/null
find_disk() {
    local session
    for session in /sys/class/iscsi_session/session*; do
        [ "$(cat "$session/targetname")" = "$IQN" ] || continue
        ls -d "$session"/device/target*/*:0:0:0/block/* 2>/dev/null | head -1 | xargs -r basename
    done
}
disk_present() { test -n "$(find_disk)"; }
wait_for disk_present
dev=/dev/$(find_disk)
echo "iSCSI disk: $dev"
identity() { sg_vpd -p di $dev 2>/dev/null | tr -s ' ' | tr '\n' '|'; }
echo "identity-before: $(identity)"
head -c 4M /dev/urandom > /tmp/first
dd if=/tmp/first of=$dev bs=1M oflag=direct status=none
check() {  # FILE OFFSET_MB LABEL: read back through the initiator and compare
    timeout 240 dd if=$dev of=/tmp/back bs=1M skip=$2 count=4 iflag=direct status=none || {
        echo "$3: READ FAILED"; return 0; }
    cmp -s $1 /tmp/back && echo "$3: data intact" || echo "$3: DATA DIFFERS"
}

echo "== restart after SIGTERM"
kill -TERM $daemon; wait $daemon || true
echo "after-sigterm-lio: $(ls /sys/kernel/config/target/iscsi | grep -c $IQN || true) target(s)"
start_daemon
check /tmp/first 0 after-sigterm
head -c 4M /dev/urandom > /tmp/second
timeout 240 dd if=/tmp/second of=$dev bs=1M seek=4 oflag=direct status=none && echo "after-sigterm: write ok"
echo "disk-after-sigterm: /dev/$(find_disk)"
echo "identity-after-sigterm: $(identity)"

echo "== restart after SIGKILL"
kill -KILL $daemon; wait $daemon || true
echo "after-sigkill-lio: $(ls /sys/kernel/config/target/iscsi | grep -c $IQN || true) target(s)"
echo "after-sigkill-workers: $(pgrep -f tcmu_scst.dataplane.worker | wc -l)"
start_daemon
check /tmp/first 0 after-sigkill-first
check /tmp/second 4 after-sigkill-second
echo "disk-after-sigkill: /dev/$(find_disk)"
echo "identity-after-sigkill: $(identity)"
echo "workers-now: $(pgrep -f tcmu_scst.dataplane.worker | wc -l)"
echo "user-backstores: $(ls -d /sys/kernel/config/target/core/user_*/disk1 | wc -l)"
echo "tree-t10_dev_id: $(head -1 $S/devices/disk1/t10_dev_id)"
echo "tree-enabled: $(head -1 $S/targets/iscsi/$IQN/enabled)"

iscsiadm -m node -T $IQN -p 127.0.0.1 --logout > /dev/null
kill -TERM $daemon; wait $daemon || true
daemon=
echo "final-lio-targets: $(ls /sys/kernel/config/target/iscsi | grep -c iqn || true)"
echo "final-user-hbas: $(ls /sys/kernel/config/target/core | grep -c user_ || true)"
echo "persistence: DONE"
"""


@pytest.fixture(scope="module")
def output(vm_image, tmp_path_factory: pytest.TempPathFactory) -> str:  # type: ignore[no-untyped-def]
    runner = GuestRunner(vm_image, tmp_path_factory.mktemp("persistence"))
    return runner.check(guest_library() + SCRIPT, timeout=1200).output


def test_the_daemon_saves_what_was_configured(output: str) -> None:
    saved = output.split("== saved configuration")[1].split("mode:", maxsplit=1)[0]
    for line in ("DEVICE disk1", "blocksize 4096", "t10_dev_id persist-dev-id",
                 f"TARGET {IQN}", "LUN 0 disk1", "enabled 1"):
        assert line in saved, line


def test_data_survives_a_sigterm_restart_under_a_logged_in_initiator(output: str) -> None:
    assert "after-sigterm-lio: 0 target(s)" in output  # SIGTERM removed the LIO objects
    assert "after-sigterm: data intact" in output
    assert "after-sigterm: write ok" in output


def test_data_survives_a_sigkill_restart(output: str) -> None:
    assert "after-sigkill-lio: 1 target(s)" in output  # SIGKILL left them
    assert "after-sigkill-first: data intact" in output
    assert "after-sigkill-second: data intact" in output
    assert "workers-now: 1" in output  # the orphan was stopped, one new worker serves
    assert "user-backstores: 1" in output


def test_the_initiator_keeps_its_disk_and_the_device_its_identity(output: str) -> None:
    disk = output.split("iSCSI disk: ")[1].split(maxsplit=1)[0]
    assert f"disk-after-sigterm: {disk}" in output and f"disk-after-sigkill: {disk}" in output
    assert "tree-t10_dev_id: persist-dev-id" in output and "tree-enabled: 1" in output
    before = output.split("identity-before: ")[1].split("\n", maxsplit=1)[0]
    assert "persist-dev-id" in before
    assert f"identity-after-sigterm: {before}" in output
    assert f"identity-after-sigkill: {before}" in output


def test_a_clean_stop_leaves_lio_empty(output: str) -> None:
    assert "final-lio-targets: 0" in output and "final-user-hbas: 0" in output
    assert "persistence: DONE" in output
