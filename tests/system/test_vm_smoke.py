"""Smoke tests of the VM harness against the real kernel target stack.

They prove that the guest really runs Debian's kernel with LIO, TCMU, tcm_loop and the iSCSI
target, and that real clients (the sd driver, sg3_utils, libiscsi) reach it.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from tcmu_scst.vm import VmTimeout, guest_library
from tcmu_scst.vm.pytest_plugin import GuestRunner

LIO_HELPERS = guest_library()
DISK_BYTES = 64 << 20


def guest_script(body: str) -> str:
    return LIO_HELPERS + "\n" + body


def test_fileio_over_tcm_loop_is_a_local_disk(vm: GuestRunner) -> None:
    result = vm.check(guest_script(f"""
        so=$(lio_fileio smoke /tmp/smoke.img {DISK_BYTES})
        disk=$(loop_export naa.5001405000000001 "$so")
        echo "disk=$disk"
        sg_inq "$disk"
        head -c $((4 << 20)) /dev/urandom > /tmp/pattern
        dd if=/tmp/pattern of="$disk" bs=1M oflag=direct status=none
        dd if="$disk" of=/tmp/readback bs=1M count=4 iflag=direct status=none
        cmp /tmp/pattern /tmp/readback && echo "readback: identical"
        cmp -n $((4 << 20)) /tmp/pattern /tmp/smoke.img && echo "backing file: identical"
    """))
    assert "disk=/dev/sd" in result.output
    assert "Vendor identification: LIO-ORG" in result.output
    assert "readback: identical" in result.output
    assert "backing file: identical" in result.output


def test_fileio_over_iscsi_answers_libiscsi(vm: GuestRunner) -> None:
    iqn = "iqn.2003-01.org.tcmu-scst:smoke"
    result = vm.check(guest_script(f"""
        so=$(lio_fileio smoke /tmp/smoke.img {DISK_BYTES})
        iscsi_export {iqn} "$so"
        iscsi-inq iscsi://127.0.0.1/{iqn}/0
        iscsi-readcapacity16 iscsi://127.0.0.1/{iqn}/0
    """))
    assert re.search(r"^Vendor:\s*LIO-ORG\s*$", result.output, re.MULTILINE), result.output
    assert re.search(rf"^Total size:\s*{DISK_BYTES}$", result.output, re.MULTILINE), result.output


def test_tcmu_user_backstore_creates_a_mappable_uio_device(vm: GuestRunner) -> None:
    result = vm.check(guest_script(f"""
        so=$CFG/core/user_7/smoke
        mkdir -p "$so"
        echo "dev_config=vdisk_nullio/smoke,dev_size={DISK_BYTES},hw_max_sectors=1024,nl_reply_supported=-1" > "$so/control"
        echo 1 > "$so/enable"
        echo "== devices"
        "$TCMU_VM_PYTHON" -m tcmu_scst.uio --json > "$TCMU_VM_SHARE/uio.json"
        cat "$TCMU_VM_SHARE/uio.json"
        "$TCMU_VM_PYTHON" - <<'PY'
import errno
from tcmu_scst.uio.device import OpenUioDevice
from tcmu_scst.uio.discovery import find_tcmu_device
device = find_tcmu_device(7, "smoke")
with OpenUioDevice(device) as first:
    try:
        OpenUioDevice(device)
    except OSError as error:
        print("second open:", errno.errorcode[error.errno])
    first.map[64:68] = first.map[12:16]  # publish cmd_tail = cmd_head, as a worker would
    first.notify()
    print("notify accepted")
PY
    """))
    assert "second open: EBUSY" in result.output  # one process per device, as the kernel says
    assert "notify accepted" in result.output
    devices = json.loads((result.share / "uio.json").read_text())
    assert len(devices) == 1, result.output
    device = devices[0]
    assert device["name"].startswith("tcm-user/7/smoke/vdisk_nullio/smoke")
    assert (device["hba"], device["object_name"], device["subtype"]) == (7, "smoke", "vdisk_nullio")
    mailbox = device["mailbox"]
    assert mailbox["version"] == 2
    assert mailbox["cmdr_size"] > 0
    assert mailbox["cmdr_off"] == 128
    assert mailbox["cmd_head"] == mailbox["cmd_tail"] == 0  # no LUN, so no command yet
    assert device["map_size"] > mailbox["cmdr_off"] + mailbox["cmdr_size"]


def test_hung_guest_is_killed_and_reported_with_its_console(vm: GuestRunner) -> None:
    started = time.monotonic()
    with pytest.raises(VmTimeout) as failure:
        vm.run("echo about to hang; sleep 3600", timeout=45)
    elapsed = time.monotonic() - started
    message = str(failure.value)
    assert "did not finish within 45 s" in message
    assert "tcmu-scst-vm: running job" in message  # the guest console is in the report
    assert "about to hang" in message  # and so is what the job printed before it hung
    assert elapsed < 45 + 15, f"the hung guest was not killed in time ({elapsed:.0f} s)"


def test_guest_sees_host_paths_read_only_under_an_overlay(vm: GuestRunner, tmp_path: Path) -> None:
    host_file = tmp_path / "from-host.txt"
    host_file.write_text("written on the host\n")
    result = vm.check(f"""
        set -e
        cat {host_file}
        echo "changed in the guest" > {host_file}
        cat {host_file}
        touch {tmp_path}/guest-only
    """)
    assert result.output == "written on the host\nchanged in the guest\n"
    assert host_file.read_text() == "written on the host\n"  # the overlay kept the host intact
    assert not (tmp_path / "guest-only").exists()
