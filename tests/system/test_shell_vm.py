"""The SCST announcement's example done entirely from tcmu-scst-shell, on the real kernel.

In one guest: tcmu-scstd runs the example the ``echo`` way and the tree is dumped (every
path, every link target, every ``[key]`` value and every ``enabled`` switch); the daemon is
stopped (LIO left clean) and started again, and a shell script file does the same example;
the two dumps must be identical.  The LUN made by the shell then answers libiscsi with
4096-byte blocks and carries data through the kernel initiator, and the shell's ``ls`` shows
the initiator's session.
"""

from __future__ import annotations

from tcmu_scst.vm import guest_library
from tcmu_scst.vm.pytest_plugin import GuestRunner

IQN = "iqn.2006-10.net.vlnb:tgt"

GUEST_JOB = r"""
set -euo pipefail
S=/run/scst_tgt
IQN=iqn.2006-10.net.vlnb:tgt
URL=iscsi://127.0.0.1/$IQN/0
DISK=/var/lib/tcmu-scst-shell/disk1
mkdir -p "$(dirname "$DISK")"
truncate -s 64M "$DISK"
shell() { "$TCMU_VM_PYTHON" -m tcmu_scst.shell.cli --root "$S" --prefs-dir '' "$@"; }

# each run starts from an empty tree: no configuration carried over by the daemon itself
fresh=()
if "$TCMU_VM_PYTHON" -m tcmu_scst.daemon.main --help | grep -q -- --no-config; then
    fresh=(--no-config)
fi
daemon=
start_daemon() {
    "$TCMU_VM_PYTHON" -m tcmu_scst.daemon.main --mountpoint "$S" "${fresh[@]}" \
        >> /tmp/tcmu-scstd.log 2>&1 &
    daemon=$!
    wait_for test -e "$S/version"
}
stop_daemon() {
    if [ -n "$daemon" ] && kill -0 "$daemon" 2>/dev/null; then
        kill -TERM "$daemon"
        wait "$daemon" || true
    fi
    daemon=
}
trap 'stop_daemon; echo "--- daemon log"; cat /tmp/tcmu-scstd.log' EXIT

# The tree's shape: paths with link targets, [key] values, enabled switches.
dump_tree() {
    (cd "$S" && find . -printf '%y %p %l\n' | sort)
    (cd "$S" && find . -type f | sort | while read -r f; do
        [ -r "$f" ] || continue
        text=$(cat "$f" 2>/dev/null) || continue
        case "$f" in
            */enabled) echo "value $f=$text" ;;
            *) [ "$(printf '%s\n' "$text" | tail -n 1)" = "[key]" ] &&
                echo "key $f=$(printf '%s\n' "$text" | head -n 1)" || true ;;
        esac
    done)
}

echo "=== the echo version"
start_daemon
echo "add_device disk1 filename=$DISK; blocksize=4096" > $S/handlers/vdisk_fileio/mgmt
echo "add_target $IQN" > $S/targets/iscsi/mgmt
echo "add disk1 0" > $S/targets/iscsi/$IQN/luns/mgmt
echo 1 > $S/targets/iscsi/$IQN/enabled
echo 1 > $S/targets/iscsi/enabled
dump_tree > /tmp/tree-echo.txt
stop_daemon
if ls /sys/kernel/config/target/iscsi | grep -q "$IQN"; then echo "target left"; exit 1; fi

echo "=== the shell version"
start_daemon
test -z "$(ls $S/devices)" || { echo "the second daemon did not start empty"; exit 1; }
cat > /tmp/announcement.scst <<EOF
# SCST's announcement example, from tcmu-scst-shell
cd /handlers/vdisk_fileio
create disk1 filename=$DISK blocksize=4096
cd /targets/iscsi
create $IQN
$IQN/luns create disk1 0
$IQN enable
enable
ls
EOF
shell -f /tmp/announcement.scst
echo "shell script exit status: $?"
dump_tree > /tmp/tree-shell.txt
if diff -u /tmp/tree-echo.txt /tmp/tree-shell.txt; then
    echo "trees identical: $(wc -l < /tmp/tree-shell.txt) lines"
fi
grep -c . /tmp/tree-shell.txt > /dev/null
grep "^key ./devices/disk1/blocksize=4096" /tmp/tree-shell.txt

echo "=== libiscsi"
iscsi-inq "$URL"
iscsi-readcapacity16 "$URL"

echo "=== the kernel initiator"
pgrep -x iscsid > /dev/null || iscsid
iscsiadm -m discovery -t sendtargets -p 127.0.0.1
iscsiadm -m node -T "$IQN" -p 127.0.0.1 --login
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
head -c 4M /dev/urandom > /tmp/payload
dd if=/tmp/payload of="$dev" bs=1M oflag=direct status=none
dd if="$dev" of=/tmp/readback bs=1M count=4 iflag=direct status=none
cmp /tmp/payload /tmp/readback && echo "data through the shell's LUN: identical"
echo "=== shell ls while logged in"
shell ls /targets/iscsi
iscsiadm -m node -T "$IQN" -p 127.0.0.1 --logout
stop_daemon
trap - EXIT
echo "shell vm: OK"
"""


def test_announcement_from_the_shell_matches_the_echo_version(vm: GuestRunner) -> None:
    result = vm.check(guest_library() + GUEST_JOB, timeout=900)
    output = result.output
    assert "shell script exit status: 0" in output
    assert "trees identical: " in output
    identical = int(output.split("trees identical: ")[1].split()[0])
    assert identical > 50  # the dump has the whole tree, not nothing
    assert "key ./devices/disk1/blocksize=4096" in output
    assert "LOGICAL BLOCK LENGTH IN BYTES:4096" in output
    assert "Product:disk1" in output
    assert "data through the shell's LUN: identical" in output
    assert f"o- {IQN} " in output and "[enabled, 1 LUN, 1 session]" in output
    assert output.rstrip().endswith("shell vm: OK")
