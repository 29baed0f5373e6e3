# The SCST announcement's example, end to end, on whatever kernel this runs on (the VM's or
# the host's): start tcmu-scstd, configure with echo exactly as the announcement does (with
# blocksize in bytes), check with libiscsi, use it with the kernel initiator (ext4, write,
# logout, login, read back), print the tree, stop the daemon and check LIO is clean.
# Needs: $TCMU_VM_PYTHON (the project's python), wait_for (lio.sh).
set -euo pipefail
S=${SCST_ROOT:-/run/scst_tgt}
IQN=iqn.2006-10.net.vlnb:tgt
URL=iscsi://127.0.0.1/$IQN/0
DISK=${DEMO_DISK:-/var/lib/tcmu-scst-demo/disk1}
LOG=${DEMO_LOG:-/tmp/tcmu-scstd.log}

say() { printf '\n=== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "start tcmu-scstd (SCST tree on $S)"
mkdir -p "$(dirname "$DISK")"
truncate -s 256M "$DISK"
"$TCMU_VM_PYTHON" -m tcmu_scst.daemon.main --mountpoint "$S" > "$LOG" 2>&1 &
daemon=$!
stop_daemon() {
    if kill -0 "$daemon" 2>/dev/null; then
        kill -TERM "$daemon"
        wait "$daemon" || true
    fi
}
trap 'stop_daemon; echo "--- daemon log"; cat "$LOG"' EXIT
wait_for test -e "$S/version"

say "configure with echo, as in the announcement"
run sh -c "echo 'add_device disk1 filename=$DISK; blocksize=4096' > $S/handlers/vdisk_fileio/mgmt"
run sh -c "echo 'add_target $IQN' > $S/targets/iscsi/mgmt"
run sh -c "echo 'add disk1 0' > $S/targets/iscsi/$IQN/luns/mgmt"
run sh -c "echo 1 > $S/targets/iscsi/$IQN/enabled"
run sh -c "echo 1 > $S/targets/iscsi/enabled"
echo "last_sysfs_mgmt_res: $(cat $S/last_sysfs_mgmt_res)"

say "libiscsi sees it"
run iscsi-inq "$URL"
run iscsi-readcapacity16 "$URL" | tee /tmp/readcap16.txt
grep -Eiq "block length.*4096" /tmp/readcap16.txt

say "the kernel initiator: ext4, write, logout, login, read back"
pgrep -x iscsid > /dev/null || iscsid
run iscsiadm -m discovery -t sendtargets -p 127.0.0.1
run iscsiadm -m node -T "$IQN" -p 127.0.0.1 --login
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
echo "iSCSI disk: $dev ($(cat /sys/block/${dev#/dev/}/queue/logical_block_size)-byte blocks)"
run mkfs.ext4 -q -F "$dev"
mkdir -p /mnt/demo
run mount "$dev" /mnt/demo
head -c 1M /dev/urandom > /tmp/demo-payload
cp /tmp/demo-payload /mnt/demo/payload
run umount /mnt/demo

say "the tree while the initiator is logged in"
(cd "$S" && find . | sort)

run iscsiadm -m node -T "$IQN" -p 127.0.0.1 --logout
run iscsiadm -m node -T "$IQN" -p 127.0.0.1 --login
wait_for disk_present
dev=/dev/$(find_disk)
run mount "$dev" /mnt/demo
run cmp /tmp/demo-payload /mnt/demo/payload
echo "payload read back identical after logout and login"
run umount /mnt/demo
run iscsiadm -m node -T "$IQN" -p 127.0.0.1 --logout

say "stop tcmu-scstd: LIO is left clean"
stop_daemon
trap - EXIT
ls /sys/kernel/config/target/iscsi | grep -q "$IQN" && { echo "target left behind"; exit 1; }
if ls -d /sys/kernel/config/target/core/user_* 2>/dev/null | grep -q .; then
    ls -R /sys/kernel/config/target/core | head -20
    echo "backstore left behind"
    exit 1
fi
echo "demo: OK"
