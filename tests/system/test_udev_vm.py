"""udev hotplug on the real kernel, with systemd-udevd running in the guest.

One guest run, judged by the tests below:

* Following: a ``scsi_debug`` disk is exported through ``tcmu-scstd`` as ``vdisk_blockio``
  (named by its ``/dev/disk/by-id/wwn-...`` link) to a local initiator (``scst_local``, i.e.
  tcm_loop), which writes 1 MiB.  The disk is deleted from the SCSI layer: the tree shows the
  device offline and the initiator's TEST UNIT READY, REQUEST SENSE and READ CAPACITY say
  NOT READY (04/03).  Another scsi_debug host then takes the freed node name and the first
  disk is rescanned, so it returns under a new node: the device is online again, the
  initiator gets NOT READY TO READY CHANGE (28/00) once, and reads back what it wrote.  The
  disk grows (scsi_debug ``virtual_gb``, SCSI rescan): CAPACITY DATA HAS CHANGED (2A/09),
  and READ CAPACITY serves the new size.
* Auto-export: the daemon again, with a rule for every SCSI disk (``ID_BUS=scsi``, which
  our own tcm_loop exports match too): a new scsi_debug disk becomes a device and a LUN, the
  initiator-side disk of that very export is left alone, and removing the scsi_debug host
  removes the device and the LUN.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tcmu_scst.vm import Vm, guest_library
from tcmu_scst.vm.pytest_plugin import GuestRunner

pytestmark = pytest.mark.vm
RULES = Path(__file__).resolve().parents[2] / "udev" / "99-tcmu-scst.rules"

SCRIPT = r"""
set +e  # every outcome below is printed and judged by the tests; setup steps exit on failure
S=/run/scst_tgt
SDEBUG=/sys/bus/pseudo/drivers/scsi_debug
say() { printf '\n== %s\n' "$*"; }
tree() { cat "$S/$1" | head -1; }

# each daemon run starts from an empty tree: no saved configuration is restored or written
# (where the daemon offers that)
if "$TCMU_VM_PYTHON" -m tcmu_scst.daemon.main --help | grep -q -- --no-config; then
    NO_CONFIG=--no-config
else
    NO_CONFIG=
fi
start_daemon() {  # start_daemon LOG [OPTIONS...]
    local log=$1; shift
    "$TCMU_VM_PYTHON" -m tcmu_scst.daemon.main --mountpoint "$S" --log-level DEBUG \
        $NO_CONFIG "$@" > "$log" 2>&1 &
    DAEMON=$!
    wait_for test -e "$S/version" || { cat "$log"; exit 1; }
}
stop_daemon() {
    kill -TERM "$DAEMON"; wait "$DAEMON" || true
}
# scsi_debug_disks: the node names of the scsi_debug disks now present
scsi_debug_disks() {
    local block
    for block in $SDEBUG/adapter*/host*/target*/*:*/block/*; do
        [ -e "$block" ] && basename "$block"
    done
    return 0
}
# local_disk MODEL: the initiator-side node of our export whose INQUIRY product is MODEL
local_disk() {
    local d
    for d in /sys/block/sd*; do
        if [ "$(cat $d/device/vendor 2>/dev/null | tr -d ' ')" = SCST_BIO ] && \
           [ "$(cat $d/device/model 2>/dev/null | tr -d ' ')" = "$1" ]; then
            echo "/dev/$(basename $d)"; return 0
        fi
    done
    return 1
}
tree_is() { [ "$(tree "$1")" = "$2" ]; }
sdebug_count_at_least() { [ "$(scsi_debug_disks | wc -l)" -ge "$1" ]; }
# held_by_workers NODE: how many descriptors the data-plane workers hold on NODE
held_by_workers() {
    local pid count=0
    for pid in $(pgrep -f tcmu_scst.dataplane.worker); do
        count=$((count + $(ls -l /proc/$pid/fd 2>/dev/null | grep -c " $1\( (deleted)\)\?$")))
    done
    echo $count
}

say "udev"
mkdir -p /etc/udev/rules.d
cp "$RULES" /etc/udev/rules.d/99-tcmu-scst.rules
/lib/systemd/systemd-udevd --daemon
udevadm trigger --action=add --subsystem-match=block
udevadm settle
echo "udevd-running=$(pgrep -c systemd-udevd || true)"

say "a scsi_debug disk behind vdisk_blockio, exported to a local initiator"
echo 1 > $SDEBUG/add_host
wait_for sdebug_count_at_least 1 || exit 1
backing=$(scsi_debug_disks | head -1)
udevadm settle
host=$(ls -d $SDEBUG/adapter*/host* | head -1); host=${host##*/host}
link=$(for l in /dev/disk/by-id/wwn-*; do
    [ "$(readlink -f $l)" = /dev/$backing ] && echo $l; done | head -1)
echo "backing=/dev/$backing"
echo "host=$host"
echo "link=$link"
start_daemon /tmp/daemon1.log
echo "add_device bio1 filename=$link" > $S/handlers/vdisk_blockio/mgmt
echo "add_target local1 session_name=s1" > $S/targets/scst_local/mgmt
echo "add bio1 0" > $S/targets/scst_local/local1/luns/mgmt
wait_for local_disk bio1 || exit 1
ini=$(local_disk bio1)
udevadm settle
echo "initiator=$ini"
echo "initiator-udev=$(udevadm info -q property -n $ini | grep -E '^(ID_VENDOR|TCMU_SCST_OWN)=' | tr '\n' ' ')"
echo "backing-udev=$(udevadm info -q property -n /dev/$backing | grep -E '^(ID_VENDOR|TCMU_SCST_OWN|TAGS)=' | tr '\n' ' ')"
head -c 1M /dev/urandom > /tmp/payload
dd if=/tmp/payload of=$ini bs=1M oflag=direct conv=fsync status=none
echo "offline-before=$(tree devices/bio1/offline)"
echo "held-before=$(held_by_workers /dev/$backing)"

say "the disk is removed"
echo 1 > /sys/block/$backing/device/delete
wait_for tree_is devices/bio1/offline 1 || { cat /tmp/daemon1.log; exit 1; }
echo "offline-after-remove=$(tree devices/bio1/offline)"
echo "held-after-remove=$(held_by_workers /dev/$backing)"
echo "--- sg_turs"; sg_turs -v $ini 2>&1; echo "sg_turs-exit=$?"
echo "--- sg_requests"; sg_requests $ini 2>&1; echo "sg_requests-exit=$?"
echo "--- sg_readcap"; sg_readcap -v $ini 2>&1; echo "sg_readcap-exit=$?"
echo "--- end removed"

say "it comes back under another node"
echo 1 > $SDEBUG/add_host        # another scsi_debug disk takes the free node name
wait_for sdebug_count_at_least 1 || exit 1
udevadm settle
echo "other-disk=/dev/$(scsi_debug_disks | head -1)"
echo "- - -" > /sys/class/scsi_host/host$host/scan
wait_for tree_is devices/bio1/offline 0 || { cat /tmp/daemon1.log; exit 1; }
udevadm settle
back=$(readlink -f $link)
echo "node-before=/dev/$backing"
echo "node-after=$back"
echo "offline-after-return=$(tree devices/bio1/offline)"
echo "filename-after-return=$(tree devices/bio1/filename)"
echo "--- sg_turs first"; sg_turs -v $ini 2>&1; echo "sg_turs-first-exit=$?"
echo "--- sg_turs second"; sg_turs $ini 2>&1; echo "sg_turs-second-exit=$?"
echo "--- end returned"
dd if=$ini bs=1M count=1 iflag=direct status=none | cmp - /tmp/payload \
    && echo "payload-after-return=identical" || echo "payload-after-return=DIFFERENT"

say "it grows"
echo "size-before=$(tree devices/bio1/size)"
echo 1 > $SDEBUG/virtual_gb
echo 1 > /sys/block/${back#/dev/}/device/rescan
wait_for tree_is devices/bio1/size 1073741824
echo "size-after=$(tree devices/bio1/size)"
echo "--- sg_turs grown"; sg_turs -v $ini 2>&1; echo "sg_turs-grown-exit=$?"
echo "--- sg_readcap grown"; sg_readcap $ini 2>&1; echo "sg_readcap-grown-exit=$?"
echo "--- end grown"
dd if=$ini bs=1M count=1 iflag=direct status=none | cmp - /tmp/payload \
    && echo "payload-after-grow=identical" || echo "payload-after-grow=DIFFERENT"
echo 1 > /sys/block/${ini#/dev/}/device/rescan   # the initiator takes the new size
echo "initiator-size=$(blockdev --getsize64 $ini)"
head -c 1M /dev/urandom > /tmp/tail
dd if=/tmp/tail of=$ini bs=1M seek=1001 oflag=direct conv=fsync status=none
dd if=$ini bs=1M skip=1001 count=1 iflag=direct status=none | cmp - /tmp/tail \
    && echo "beyond-old-end=identical" || echo "beyond-old-end=DIFFERENT"
stop_daemon
echo "--- daemon 1 log"; grep -E "udev|offline|online|size|own export|following" /tmp/daemon1.log || true
echo 0 > $SDEBUG/virtual_gb
echo -2 > $SDEBUG/add_host
no_sdebug() { test -z "$(scsi_debug_disks)"; }
wait_for no_sdebug
udevadm settle

say "auto-export"
cat > /tmp/hotplug.toml <<'TOML'
debounce_seconds = 0.3
[[auto_export]]
match = { ID_BUS = "scsi" }
driver = "scst_local"
target = "auto"
name = "hp_{ID_SERIAL}"
TOML
start_daemon /tmp/daemon2.log --hotplug-config /tmp/hotplug.toml
echo "add_target auto session_name=s2" > $S/targets/scst_local/mgmt
echo 1 > $SDEBUG/add_host
has_device() { test -n "$(ls $S/devices)"; }
wait_for has_device
dev=$(ls $S/devices)
wait_for local_disk "$(cat $S/devices/$dev/prod_id | head -1)"
exported=$(local_disk "$(cat $S/devices/$dev/prod_id | head -1)")
udevadm settle
sleep 2   # the export's own udev events have settled and been judged by now
echo "auto-devices=$(ls $S/devices | tr '\n' ' ')"
echo "auto-filename=$(tree devices/$dev/filename)"
echo "auto-luns=$(ls $S/targets/scst_local/auto/luns | tr '\n' ' ')"
echo "auto-initiator=$exported vendor=$(cat /sys/block/${exported#/dev/}/device/vendor)"
echo -1 > $SDEBUG/add_host
no_device() { test -z "$(ls $S/devices)"; }
wait_for no_device
echo "auto-devices-after-remove=$(ls $S/devices | tr '\n' ' ')"
echo "auto-luns-after-remove=$(ls $S/targets/scst_local/auto/luns | tr '\n' ' ')"
wait_for test ! -e "$exported"
echo "auto-initiator-gone=yes"
stop_daemon
echo "--- daemon 2 log"; grep -E "auto-export|own export|removed" /tmp/daemon2.log || true
echo "configfs-after=$(ls /sys/kernel/config/target/core | tr '\n' ' ')"
"""


@pytest.fixture(scope="module")
def output(vm_image: Vm, tmp_path_factory: pytest.TempPathFactory) -> str:
    runner = GuestRunner(vm_image, tmp_path_factory.mktemp("udev"))
    result = runner.check(guest_library() + f"RULES={RULES}\n" + SCRIPT, timeout=900)
    print(result.output)
    return result.output


def value(output: str, key: str) -> str:
    match = re.search(rf"^{re.escape(key)}=(.*)$", output, re.MULTILINE)
    assert match, f"no {key}= in:\n{output}"
    return match.group(1).strip()


def section(output: str, start: str, end: str) -> str:
    return output.split(start, 1)[1].split(end, 1)[0]



def test_udevd_runs_and_our_rules_mark_our_own_export(output: str) -> None:
    assert int(value(output, "udevd-running")) >= 1, output
    assert value(output, "link").startswith("/dev/disk/by-id/wwn-"), output
    initiator = value(output, "initiator-udev")
    assert "ID_VENDOR=SCST_BIO" in initiator and "TCMU_SCST_OWN=1" in initiator, output
    backing = value(output, "backing-udev")
    assert "TCMU_SCST_OWN" not in backing and ":tcmu_scst:" in backing, output


def test_removal_makes_the_device_offline_and_not_ready(output: str) -> None:
    assert value(output, "offline-before") == "0"
    assert value(output, "offline-after-remove") == "1"
    # the worker let go of the vanished device (its descriptor closed), so the kernel can
    # free the disk and its name
    assert int(value(output, "held-before")) >= 1, output
    assert value(output, "held-after-remove") == "0", output
    removed = section(output, "--- sg_turs", "--- end removed").lower()
    assert "not ready" in removed, removed
    assert removed.count("manual intervention required") >= 3, removed  # TUR, REQUEST SENSE, READ CAPACITY
    assert "sg_turs-exit=2" in removed, removed  # sg3_utils: NOT READY
    assert "sg_readcap-exit=2" in removed, removed


def test_the_disk_returns_under_another_node_with_a_unit_attention_and_its_data(
        output: str) -> None:
    before, after = value(output, "node-before"), value(output, "node-after")
    assert after.startswith("/dev/sd") and after != before, output
    assert value(output, "offline-after-return") == "0", output
    assert value(output, "filename-after-return") == value(output, "link")  # stable name kept
    first = section(output, "--- sg_turs first", "--- sg_turs second").lower()
    assert "unit attention" in first and "not ready to ready change" in first, first
    assert "sg_turs-first-exit=6" in first, first  # sg3_utils: UNIT ATTENTION
    assert "sg_turs-second-exit=0" in output
    assert value(output, "payload-after-return") == "identical"


def test_growth_serves_the_new_capacity_after_capacity_data_has_changed(
        output: str) -> None:
    assert int(value(output, "size-before")) < 1 << 30
    assert value(output, "size-after") == "1073741824"
    grown = section(output, "--- sg_turs grown", "--- end grown").lower()
    assert "capacity data has changed" in grown, grown
    assert "sg_turs-grown-exit=6" in grown, grown
    assert "last lba=2097151" in grown and "sg_readcap-grown-exit=0" in grown, grown
    assert value(output, "payload-after-grow") == "identical"
    # I/O past the old end goes through (LIO does not hold our backstore to its old size)
    assert value(output, "initiator-size") == "1073741824"
    assert value(output, "beyond-old-end") == "identical"


def test_auto_export_follows_disks_and_leaves_our_own_exports_alone(output: str) -> None:
    devices = value(output, "auto-devices").split()
    assert len(devices) == 1 and devices[0].startswith("hp_"), output  # not its own export
    assert value(output, "auto-filename").startswith("/dev/disk/by-id/"), output
    assert value(output, "auto-luns").split() == ["0", "mgmt"], output
    assert "vendor=SCST_BIO" in value(output, "auto-initiator")
    assert value(output, "auto-devices-after-remove") == ""
    assert value(output, "auto-luns-after-remove").split() == ["mgmt"]
    assert value(output, "auto-initiator-gone") == "yes"
    assert not [entry for entry in value(output, "configfs-after").split()
                if entry.startswith("user_")], output
