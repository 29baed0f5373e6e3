"""The example handler plugin (examples/handler-plugin) on the real kernel.

On the host, pip installs this checkout into a temporary venv (tests/plugin_venv.py); in the
guest, pip installs the plugin into that venv, and the venv's tcmu-scstd then offers
``handlers/vdisk_ramdisk``.  A RAM disk made with ``echo`` through the tree is exported over
iSCSI: the kernel initiator reads its pattern where nothing was written and sees a
non-rotating 4 KiB-block disk, fio writes and verifies it (crc32c); libiscsi's
iscsi-test-cu runs its READ/WRITE suites against a second one (512-byte blocks); the daemon
is restarted (SIGTERM), the saved configuration brings both back (empty again: they are
memory) and the first serves a second fio verification.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from tcmu_scst.vm import guest_library
from tcmu_scst.vm.pytest_plugin import GuestRunner
from tests.conformance.results import parse_results
from tests.plugin_venv import PluginVenv, make_venv, missing_build_tool

pytestmark = pytest.mark.vm

IQN = "iqn.2024-05.org.example:ramdisk"
# libiscsi runs against a second RAM disk with 512-byte blocks: with 4096-byte blocks all
# 1000 writes of Write10.Async are answered CHECK CONDITION, none taking the fast lane (which
# leaves to Python a buffer of another size than the CDB names), and vdisk_fileio does the
# same; not this handler's matter
IQN2 = "iqn.2024-05.org.example:ramdisk2"
PATTERN = "deadbeef"
LIBISCSI_TESTS = ("SCSI.Read10,SCSI.Write10,SCSI.Read16,SCSI.Write16,SCSI.ReadCapacity16,"
                  "SCSI.CompareAndWrite,SCSI.WriteVerify10")
FIO = ("fio --name=verify --filename=$dev --rw=randwrite --bs=4k --size={size} --iodepth=16 "
       "--ioengine=libaio --direct=1 --verify=crc32c --do_verify=1 --verify_fatal=1 "
       "--output=/tmp/fio.out")

SCRIPT = r"""
set -euo pipefail
cd /  # nothing from the checkout: the venv's own installed tcmu_scst
S=/run/scst_tgt
CONF=/var/lib/tcmu-scst-test/scst.conf
IQN=__IQN__
IQN2=__IQN2__
LOG=/tmp/daemon.log
daemon=
handlers() { "$VENV/bin/python" -c 'from tcmu_scst.handlers.registry import handler_names; print(*handler_names())'; }
mounted() { test -e $S/version; }
start_daemon() {  # a start under TCG on a busy host may take longer than wait_for's 30 s
    "$VENV/bin/tcmu-scstd" --mountpoint $S --config $CONF --no-dbus >> $LOG 2>&1 &
    daemon=$!
    wait_for mounted || wait_for mounted || wait_for mounted
}
stop_daemon() { kill -TERM $daemon; wait $daemon || true; daemon=; }
finish() {
    iscsiadm -m node -T $IQN -p 127.0.0.1 --logout > /dev/null 2>&1 || true
    if [ -n "$daemon" ] && kill -0 $daemon 2>/dev/null; then stop_daemon; fi
    echo "--- daemon log"; cat $LOG
}
trap finish EXIT
login() {
    pgrep -x iscsid > /dev/null || iscsid
    iscsiadm -m discovery -t sendtargets -p 127.0.0.1 > /dev/null
    iscsiadm -m node -T $IQN -p 127.0.0.1 --login > /dev/null
    wait_for disk_present
    dev=/dev/$(find_disk)
}
logout() { iscsiadm -m node -T $IQN -p 127.0.0.1 --logout > /dev/null; }
find_disk() {
    local session
    for session in /sys/class/iscsi_session/session*; do
        [ "$(cat "$session/targetname" 2>/dev/null)" = "$IQN" ] || continue
        ls -d "$session"/device/target*/*:0:0:0/block/* 2>/dev/null | head -1 | xargs -r basename
    done
}
disk_present() { test -n "$(find_disk)"; }
block_at() {  # the first 16 bytes of 4 KiB block N, in hex
    dd if=$dev bs=4096 skip=$1 count=1 iflag=direct status=none | head -c 16 | od -An -tx1 | tr -d ' \n'
}
fio_run() {  # LABEL SIZE
    __FIO__ || echo "fio exited with $?"
    echo "=== fio $1 ==="; cat /tmp/fio.out; echo "=== end ==="
}

echo "handlers-before-pip: $(handlers)"
"$VENV/bin/python" -m pip install --no-index --no-build-isolation "$PLUGIN" > /tmp/pip.log 2>&1 \
    || { cat /tmp/pip.log; exit 1; }
echo "pip: $(tail -1 /tmp/pip.log)"
echo "handlers-after-pip: $(handlers)"

start_daemon
echo "tree-handlers: $(ls $S/handlers | tr '\n' ' ')"
echo "mgmt-parameters: $(grep 'parameters available' $S/handlers/vdisk_ramdisk/mgmt)"
if echo "add_device bad1 size_mb=8; pattern=0xabc" > $S/handlers/vdisk_ramdisk/mgmt 2>/tmp/bad.err; then
    echo "bad-pattern: accepted"
else
    echo "bad-pattern: refused ($(cat /tmp/bad.err))"
fi
echo "add_device ram1 size_mb=128; pattern=0x__PATTERN__; blocksize=4096" > $S/handlers/vdisk_ramdisk/mgmt
echo "add_target $IQN" > $S/targets/iscsi/mgmt
echo "add ram1 0" > $S/targets/iscsi/$IQN/luns/mgmt
echo 1 > $S/targets/iscsi/$IQN/enabled
echo "add_device ram2 size_mb=64; pattern=0xa5" > $S/handlers/vdisk_ramdisk/mgmt
echo "add_target $IQN2" > $S/targets/iscsi/mgmt
echo "add ram2 0" > $S/targets/iscsi/$IQN2/luns/mgmt
echo 1 > $S/targets/iscsi/$IQN2/enabled
echo 1 > $S/targets/iscsi/enabled
saved() { grep -q "LUN 0 ram2" $CONF 2>/dev/null && grep -q "LUN 0 ram1" $CONF; }
wait_for saved
echo "== saved configuration"; cat $CONF; echo "== end"
echo "user-backstore: $(cat /sys/kernel/config/target/core/user_*/ram1/attrib/dev_config)"

iscsi-readcapacity16 iscsi://127.0.0.1/$IQN/0 | tr -d ' ' | grep LOGICALBLOCKLENGTH | sed 's/^/readcapacity16: /'
login
echo "disk: $dev"
echo "rotational: $(cat /sys/block/$(basename $dev)/queue/rotational)"
echo "unwritten-block-1000: $(block_at 1000)"
fio_run first 64M
echo "after-fio-block-30000: $(block_at 30000)"
logout

timeout 900 iscsi-test-cu --dataloss --verbose -t __TESTS__ iscsi://127.0.0.1/$IQN2/0 \
    > /tmp/libiscsi.txt 2>&1 || echo "iscsi-test-cu exited with $?"
echo "=== libiscsi ==="; cat /tmp/libiscsi.txt; echo "=== end ==="

echo "== restart after SIGTERM"
stop_daemon
echo "after-stop-backstores: $(ls -d /sys/kernel/config/target/core/user_*/ram1 2>/dev/null | wc -l)"
start_daemon
echo "restored-pattern: $(head -1 $S/devices/ram1/pattern)"
echo "restored-ram2: $(head -1 $S/devices/ram2/pattern) $(head -1 $S/devices/ram2/size_mb)"
echo "restored-lun: $(readlink $S/targets/iscsi/$IQN/luns/0/device)"
login
echo "restored-block-1000: $(block_at 1000)"
echo "restored-block-0: $(block_at 0)"
fio_run second 16M
logout
stop_daemon
echo "final-lio-targets: $(ls /sys/kernel/config/target/iscsi | grep -c iqn || true)"
echo "plugin-vm: DONE"
"""


@dataclass(frozen=True)
class GuestRun:
    venv: PluginVenv
    output: str


@pytest.fixture(scope="module")
def run(vm_image, tmp_path_factory: pytest.TempPathFactory) -> GuestRun:  # type: ignore[no-untyped-def]
    reason = missing_build_tool()
    if reason:
        pytest.skip(reason)
    # the framework installed on the host; the plugin only copied, for pip in the guest
    venv = make_venv(tmp_path_factory.mktemp("plugin-vm"), with_plugin=False)
    script = (SCRIPT.replace("__IQN2__", IQN2).replace("__IQN__", IQN)
              .replace("__PATTERN__", PATTERN)
              .replace("__TESTS__", LIBISCSI_TESTS)
              .replace("__FIO__", FIO.format(size="$2")))
    runner = GuestRunner(vm_image, tmp_path_factory.mktemp("plugin-vm-run"))
    environment = {"VENV": str(venv.directory), "PLUGIN": str(venv.plugin_source)}
    return GuestRun(venv, runner.check(guest_library() + script, timeout=1800,
                                       env=environment).output)


@pytest.fixture(scope="module")
def output(run: GuestRun) -> str:
    return run.output


def value(output: str, label: str) -> str:
    match = re.search(rf"^{re.escape(label)}: (.*)$", output, re.MULTILINE)
    assert match, f"no {label!r} line in:\n{output}"
    return match.group(1).strip()


def fio_summary(output: str, label: str) -> str:
    match = re.search(rf"=== fio {label} ===\n(.*?)=== end ===", output, re.DOTALL)
    assert match, output
    return match.group(1)


def test_pip_in_the_guest_adds_the_handler_to_the_daemon(output: str) -> None:
    assert "vdisk_ramdisk" not in value(output, "handlers-before-pip").split()
    assert "Successfully installed tcmu-scst-ramdisk" in value(output, "pip")
    assert value(output, "handlers-after-pip").split()[-1] == "vdisk_ramdisk"
    assert "vdisk_ramdisk" in value(output, "tree-handlers").split()
    assert value(output, "mgmt-parameters") == (
        "The following parameters available: blocksize, pattern, read_only, removable, "
        "rotational, size_mb, t10_dev_id, tst")
    assert value(output, "bad-pattern").startswith("refused (")
    assert "Invalid argument" in value(output, "bad-pattern")
    assert value(output, "user-backstore").startswith("vdisk_ramdisk/")
    saved = output.split("== saved configuration")[1].split("== end", maxsplit=1)[0]
    for line in ("HANDLER vdisk_ramdisk", "DEVICE ram1", "size_mb 128", f"pattern 0x{PATTERN}",
                 "blocksize 4096", f"TARGET {IQN}", "LUN 0 ram1", "DEVICE ram2",
                 "pattern 0xa5", f"TARGET {IQN2}"):
        assert line in saved, line


def test_the_initiator_sees_a_solid_state_disk_reading_its_pattern(output: str) -> None:
    assert "readcapacity16: LOGICALBLOCKLENGTHINBYTES:4096" in output
    assert value(output, "rotational") == "0"
    assert value(output, "unwritten-block-1000") == PATTERN * 4


def assert_written_and_verified(summary: str, size: str) -> None:
    assert re.search(r"err= 0", summary), summary
    assert re.search(rf"write: IOPS=\S+ BW=.*\({size}/", summary), summary
    assert re.search(rf"read: IOPS=\S+ BW=.*\({size}/", summary), summary


def test_fio_writes_and_verifies_through_the_kernel_initiator(output: str) -> None:
    assert_written_and_verified(fio_summary(output, "first"), "64.0MiB")
    assert "fio exited" not in output
    # beyond the 64 MiB fio wrote: still the pattern
    assert value(output, "after-fio-block-30000") == PATTERN * 4


def test_libiscsi_read_and_write_suites_pass(output: str) -> None:
    text = output.split("=== libiscsi ===")[1].split("=== end ===", maxsplit=1)[0]
    results = parse_results(text)
    ran = [name for name, state in results.items() if state != "skipped"]
    failed = [name for name, state in results.items() if state == "failed"]
    assert failed == [], text
    assert len(ran) >= 20, results
    for suite in ("Read10", "Write10", "Read16", "Write16", "ReadCapacity16",
                  "CompareAndWrite", "WriteVerify10"):
        assert any(name.startswith(f"{suite}.") and results[name] == "passed"
                   for name in results), (suite, results)
    assert "iscsi-test-cu exited" not in output


def test_a_daemon_restart_restores_the_device_empty_and_serving(output: str) -> None:
    assert value(output, "after-stop-backstores") == "0"  # SIGTERM removed it from LIO
    assert value(output, "restored-pattern") == f"0x{PATTERN}"
    assert value(output, "restored-lun").endswith("ram1")
    assert value(output, "restored-ram2") == "0xa5 64"
    # memory: what fio wrote before the restart is gone, the pattern is back
    assert value(output, "restored-block-1000") == PATTERN * 4
    assert value(output, "restored-block-0") == PATTERN * 4
    assert_written_and_verified(fio_summary(output, "second"), "16.0MiB")
    assert value(output, "final-lio-targets") == "0"
    assert "plugin-vm: DONE" in output


def test_the_workers_served_the_disk_in_the_fast_lane(output: str) -> None:
    log = output.split("--- daemon log", maxsplit=1)[1]
    lanes = [int(count) for count in
             re.findall(r"ram1: served \d+ commands \((\d+) in the fast lane\)", log)]
    assert len(lanes) == 2, log  # one worker before the restart, one after
    assert all(count > 1000 for count in lanes), lanes  # fio's 4 KiB reads and writes
    libiscsi = [int(count) for count in
                re.findall(r"ram2: served \d+ commands \((\d+) in the fast lane\)", log)]
    assert len(libiscsi) == 2 and libiscsi[0] > 1000, libiscsi  # Read10/Write10.Async...
    assert "Traceback" not in log, log


def test_the_guest_install_stayed_in_the_guest(run: GuestRun, output: str) -> None:
    """pip wrote into the guest's overlay: the host's venv has the framework only."""
    assert (run.venv.site_packages / "tcmu_scst").is_dir()
    assert not list(run.venv.site_packages.glob("tcmu_scst_ramdisk*"))
