"""What a device found on its disk, shown by the tree and kept by the config tools, on the
real kernel.

A ``scsi_debug`` disk that is non-rotational, can discard (``lbpu=1``) and has 4 KiB
physical blocks behind 512-byte logical ones (``physblk_exp=3``) is exported through
``tcmu-scstd`` as ``vdisk_blockio`` without saying ``rotational`` or ``thin_provisioned``:
the tree must show what the worker found (``rotational 0``, ``thin_provisioned 1``), not
the declared defaults, the initiator must see the same (READ CAPACITY(16): LBPME and the
physical block exponent; the disk's queue), ``-write_config`` and the saveconfig.json
export must keep them (the export as ``is_nonrot``), and the device made again from the
written file must show them again.  SCST's ``lb_per_pb_exp`` is checked on the way: on by
default, written to 0 at run time (the initiator's READ CAPACITY(16) then reports one
logical block per physical block), a ``[key]`` that ``-write_config`` saves and ``-config``
restores.
"""

from __future__ import annotations

import json
import re

import pytest

from tcmu_scst.vm import guest_library
from tcmu_scst.vm.pytest_plugin import GuestRunner

from .test_udev_vm import section, value

pytestmark = pytest.mark.vm
HELPERS = guest_library()

SCRIPT = r"""
set +e  # every outcome below is printed and judged by the test
S=/run/scst_tgt
SDEBUG=/sys/bus/pseudo/drivers/scsi_debug
admin() { "$TCMU_VM_PYTHON" -m tcmu_scst.config.cli "$@" --root $S; }
NO_CONFIG=
"$TCMU_VM_PYTHON" -m tcmu_scst.daemon.main --help | grep -q -- --no-config && NO_CONFIG=--no-config
start_daemon() {
    "$TCMU_VM_PYTHON" -m tcmu_scst.daemon.main --mountpoint "$S" $NO_CONFIG > "$1" 2>&1 &
    DAEMON=$!
    wait_for test -e "$S/version" || { cat "$1"; exit 1; }
}
ours_disk() {  # ours_disk MODEL: the initiator-side node whose INQUIRY product is MODEL
    local d
    for d in /sys/block/sd*; do
        [ "$(tr -d ' ' < $d/device/model 2>/dev/null)" = "$1" ] && \
            [ "$(tr -d ' ' < $d/device/vendor 2>/dev/null)" = SCST_BIO ] && \
            { echo "/dev/$(basename $d)"; return 0; }
    done
    return 1
}

# scsi_debug again, now as a thin-provisioned SSD with 4 KiB physical blocks
rmmod scsi_debug || exit 1
module=$(find /lib/modules/$(uname -r) -name 'scsi_debug.ko*' | head -1)
echo "module=$module"
modprobe scsi_debug add_host=1 dev_size_mb=64 lbpu=1 physblk_exp=3 || \
    insmod "$module" add_host=1 dev_size_mb=64 lbpu=1 physblk_exp=3 || exit 1
wait_for compgen -G "$SDEBUG/adapter*/host*/target*/*:*/block/*" > /dev/null || exit 1
backing=/dev/$(ls $(compgen -G "$SDEBUG/adapter*/host*/target*/*:*/block" | head -1))
wait_for test -b "$backing" || exit 1
queue=/sys/block/${backing#/dev/}/queue
echo "backing-queue=rotational $(cat $queue/rotational) discard $(cat $queue/discard_max_bytes) physical $(cat $queue/physical_block_size)"

start_daemon /tmp/daemon1.log
echo "add_device bio1 filename=$backing" > $S/handlers/vdisk_blockio/mgmt
echo "add-status=$?"
for name in rotational thin_provisioned lb_per_pb_exp; do
    echo "tree-$name=$(tr '\n' ' ' < $S/devices/bio1/$name)"
done
echo "add_target local1 session_name=s1" > $S/targets/scst_local/mgmt
echo "add bio1 0" > $S/targets/scst_local/local1/luns/mgmt
wait_for ours_disk bio1 || exit 1
disk=$(ours_disk bio1)
echo "readcap-on=$(sg_readcap --long $disk | grep -Eo '(lbpme|physical block exponent)=[0-9]+' | tr '\n' ' ')"
echo "initiator-queue=rotational $(cat /sys/block/${disk#/dev/}/queue/rotational) physical $(cat /sys/block/${disk#/dev/}/queue/physical_block_size)"
echo 0 > $S/devices/bio1/lb_per_pb_exp
echo "write-status=$?"
echo "tree-lb_per_pb_exp-written=$(tr '\n' ' ' < $S/devices/bio1/lb_per_pb_exp)"
echo "readcap-off=$(sg_readcap --long $disk | grep -Eo '(lbpme|physical block exponent)=[0-9]+' | tr '\n' ' ')"

admin -write_config /tmp/written.conf > /tmp/admin.log 2>&1
echo "write_config-status=$?"
echo "-- scst.conf"; cat /tmp/written.conf; echo "-- end of scst.conf"
"$TCMU_VM_PYTHON" -m tcmu_scst.config.saveconfig export --root $S /tmp/saveconfig.json
echo "export-status=$?"
echo "-- saveconfig.json"; cat /tmp/saveconfig.json; echo "-- end of saveconfig.json"

# the device made again from the written file: cleared, then applied
admin -clear_config -force -noprompt >> /tmp/admin.log 2>&1
echo "clear-status=$? devices=$(ls $S/handlers/vdisk_blockio | grep -c bio1)"
admin -config /tmp/written.conf >> /tmp/admin.log 2>&1
echo "config-status=$?"
for name in rotational thin_provisioned lb_per_pb_exp; do
    echo "again-$name=$(tr '\n' ' ' < $S/devices/bio1/$name)"
done
admin -config /tmp/written.conf >> /tmp/admin.log 2>&1
echo "reapply-status=$? $(grep -c 'needs -force' /tmp/admin.log)"
kill -TERM $DAEMON; wait $DAEMON
echo "daemon-exit=$?"
tail -20 /tmp/admin.log
"""


def device_block(conf: str, name: str) -> str:
    match = re.search(rf"DEVICE {name} \{{(.*?)\}}", conf, re.DOTALL)
    assert match, conf
    return match.group(1)


def test_blockio_shows_and_keeps_what_it_found_on_the_disk(vm: GuestRunner) -> None:
    output = vm.check(HELPERS + SCRIPT, timeout=900).output
    for key in ("backing-queue", "tree-", "readcap-", "initiator-queue", "again-",
                "reapply-status", "config-status", "write_config-status"):
        for line in output.splitlines():
            if line.startswith(key):
                print(line)
    # the disk is what scsi_debug was told to be
    assert value(output, "backing-queue").startswith("rotational 0 discard "), output
    assert not value(output, "backing-queue").startswith("rotational 0 discard 0 "), output
    assert value(output, "backing-queue").endswith("physical 4096"), output
    assert value(output, "add-status") == "0", output
    # what the worker found, shown without [key] (the same configuration finds it again)
    assert value(output, "tree-rotational") == "0", output
    assert value(output, "tree-thin_provisioned") == "1", output
    assert value(output, "tree-lb_per_pb_exp") == "1", output
    # the initiator sees the same disk
    assert value(output, "readcap-on") == "lbpme=1 physical block exponent=3", output
    assert value(output, "initiator-queue") == "rotational 0 physical 4096", output
    # lb_per_pb_exp changes at run time and becomes a key
    assert value(output, "write-status") == "0", output
    assert value(output, "tree-lb_per_pb_exp-written") == "0 [key]", output
    assert value(output, "readcap-off") == "lbpme=1 physical block exponent=0", output
    # -write_config saves what was set; the export says non-rotational
    assert value(output, "write_config-status") == "0", output
    block = device_block(section(output, "-- scst.conf\n", "-- end of scst.conf"), "bio1")
    assert re.search(r"^\s*lb_per_pb_exp 0\s*$", block, re.MULTILINE), block
    assert value(output, "export-status") == "0", output
    document = json.loads(section(output, "-- saveconfig.json\n", "-- end of saveconfig.json"))
    [storage] = [item for item in document["storage_objects"] if item["name"] == "bio1"]
    assert storage["attributes"]["is_nonrot"] == 1, storage
    # made again from the written file: the same values, and a second apply changes nothing
    assert value(output, "config-status") == "0", output
    assert value(output, "again-rotational") == "0", output
    assert value(output, "again-thin_provisioned") == "1", output
    assert value(output, "again-lb_per_pb_exp") == "0 [key]", output
    assert value(output, "reapply-status") == "0 0", output
    assert value(output, "daemon-exit") == "0", output
