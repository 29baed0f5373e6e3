"""Our vcdrom on the real kernel: a CD-ROM behind tcm_loop, seen by Linux's ``sr`` driver.

Two ISO 9660 images are made with ``xorriso``; the standalone exporter serves the first, the
guest mounts it and compares a file byte for byte; the disc is then swapped at run time
through the exporter's control FIFO (the supervisor's ``set_attribute``), which the drive
refuses while the mounted file system keeps the door locked and accepts after unmount; the
new disc's file reads back identical after the unit attention, and again after the worker
is SIGKILLed and restarted; finally the disc is ejected and the drive reports MEDIUM NOT
PRESENT to ``sg_turs`` and ``sg_requests``.
"""

from __future__ import annotations

import re

from tcmu_scst.vm import guest_library
from tcmu_scst.vm.pytest_plugin import GuestRunner

HELPERS = guest_library()
SCRIPT = """
set +e  # some commands below are expected to fail; every outcome is echoed and checked
make_disc() {  # make_disc NAME BYTES: /tmp/NAME/file.bin of random bytes in /tmp/NAME.iso
    mkdir -p /tmp/$1
    head -c $2 /dev/urandom > /tmp/$1/file.bin
    echo "this is disc $1" > /tmp/$1/label.txt
    xorriso -as mkisofs -quiet -V "DISC_$1" -o /tmp/$1.iso /tmp/$1
}
control() {  # control ATTRIBUTE=VALUE: apply it through the exporter's FIFO, print the answer
    rm -f /tmp/cd1.ctl.reply
    echo "$1" > /tmp/cd1.ctl
    wait_for test -s /tmp/cd1.ctl.reply
    echo "control $1 -> $(cat /tmp/cd1.ctl.reply)"
}
check_file() {  # check_file DISC TAG: mount the CD, compare DISC's file, unmount
    echo 3 > /proc/sys/vm/drop_caches
    if mount -t iso9660 -o ro "$cd" /mnt/cd; then
        cmp /mnt/cd/file.bin /tmp/$1/file.bin && echo "$2-identical"
        cat /mnt/cd/label.txt
        umount /mnt/cd
    else
        echo "$2-mount-failed"
    fi
}

make_disc a 300000
make_disc b 700001
ls -l /tmp/a.iso /tmp/b.iso
"$TCMU_VM_PYTHON" -m tcmu_scst.dataplane.standalone --name cd1 --handler vcdrom \\
    --param filename=/tmp/a.iso --ready-file /tmp/cd1.ready --control-fifo /tmp/cd1.ctl \\
    > /tmp/cd1.log 2>&1 &
exporter=$!
wait_for test -s /tmp/cd1.ready || { cat /tmp/cd1.log; exit 1; }
cd=$(cut -d' ' -f1 /tmp/cd1.ready)
echo "device=$cd"
sg_inq "$cd" | grep -E "PDT=|Vendor identification|Product identification"
mkdir -p /mnt/cd

check_file a first
mount -t iso9660 -o ro "$cd" /mnt/cd && echo "mounted-a"
control filename=/tmp/b.iso
umount /mnt/cd
control filename=/tmp/b.iso
check_file b second

worker=$(pgrep -f tcmu_scst.dataplane.worker)
kill -9 $worker
wait_for grep -q "restarted as pid" /tmp/cd1.log && echo "worker-restarted"
test "$(pgrep -f tcmu_scst.dataplane.worker)" != "$worker" && echo "new-worker"
check_file b restarted

control filename=
echo "=== sg_turs ==="; sg_turs -v "$cd" 2>&1; echo "turs-exit=$?"
echo "=== sg_requests ==="; sg_requests "$cd" 2>&1; echo "requests-exit=$?"
mount -t iso9660 -o ro "$cd" /mnt/cd 2>&1; echo "empty-mount-exit=$?"

kill $exporter
wait $exporter
echo "exporter-exit=$?"
test ! -e /sys/kernel/config/target/core/user_100/cd1 && echo "torn-down"
grep -E "control|died|restarted" /tmp/cd1.log
echo "io-errors=$(dmesg | grep -c 'I/O error' || true)"
dmesg | grep -E "sr[0-9]|cdrom|ISO 9660" | tail -20
"""


def test_vcdrom_media_change_and_eject(vm: GuestRunner) -> None:
    result = vm.check(HELPERS + SCRIPT, timeout=300)
    output = result.output
    assert re.search(r"device=/dev/sr\d+", output), output
    assert "PDT=5" in output, output
    assert "Vendor identification: SCST_FIO" in output
    assert "first-identical" in output and "this is disc a" in output, output
    assert "mounted-a" in output
    busy = re.search(r"control filename=/tmp/b.iso -> (.*)", output)
    assert busy and '"errno": 16' in busy.group(1), output  # the mounted disc is locked in
    assert 'control filename=/tmp/b.iso -> {"ok": true}' in output, output
    assert "second-identical" in output and "this is disc b" in output, output
    assert "worker-restarted" in output and "new-worker" in output, output
    assert "restarted-identical" in output, output
    assert 'control filename= -> {"ok": true}' in output, output
    turs = re.search(r"=== sg_turs ===\n(.*?)turs-exit=(\d+)", output, re.DOTALL)
    assert turs and turs.group(2) != "0", output
    assert re.search(r"Not Ready.*\n?.*Medium not present", turs.group(1)), turs.group(1)
    requests = re.search(r"=== sg_requests ===\n(.*?)requests-exit=", output, re.DOTALL)
    assert requests and re.search(r"Sense key: Not Ready\s+Additional sense: Medium not present",
                                  requests.group(1)), output
    assert "io-errors=0" in output, output
    assert re.search(r"empty-mount-exit=[1-9]", output), output
    assert "exporter-exit=0" in output and "torn-down" in output, output
