"""SCST's ALUA tree on the real kernel: one device, two iSCSI targets, dm-multipath.

Driven with echo through the FUSE tree only: ``disk1`` is exported by target A (target
group ``tga``, active/optimized, preferred) and target B (``tgb``, standby, together with a
remote port of another node).  The Linux initiator logs in to both; its ALUA device handler
and multipath's ``prio alua`` must group the paths by state, I/O must go down A's path, the
standby path must refuse media access with the ALUA sense, and after the states are swapped
through the tree (and back) the initiator (REPORT TARGET PORT GROUPS) and the I/O follow,
with no I/O error on the file system that lives on the multipath device meanwhile, also
when the device's worker is killed under that I/O (its successor reopens every port ring).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tcmu_scst.vm import guest_library
from tcmu_scst.vm.pytest_plugin import GuestRunner

pytestmark = pytest.mark.vm

SCRIPT = r"""
S=/run/scst_tgt
A=iqn.2026-12.test:alua-a
B=iqn.2026-12.test:alua-b
DG=$S/device_groups/dg
modprobe dm-multipath; modprobe scsi_dh_alua
/lib/systemd/systemd-udevd --daemon; udevadm trigger; udevadm settle
"$TCMU_VM_PYTHON" -m tcmu_scst.daemon.main --mountpoint $S > /tmp/daemon.log 2>&1 &
daemon=$!
finish() {
    rm -f /tmp/io.run
    timeout 30 umount /mnt/m 2>/dev/null
    timeout 30 multipath -F > /dev/null 2>&1
    pkill -x multipathd
    timeout 30 iscsiadm -m node --logoutall=all > /dev/null 2>&1
    kill $daemon 2>/dev/null; timeout 60 tail --pid=$daemon -f /dev/null
    echo "== daemon log"; cat /tmp/daemon.log
}
trap finish EXIT
wait_for test -e $S/version
truncate -s 64M /tmp/d1
echo "add_device disk1 filename=/tmp/d1" > $S/handlers/vdisk_fileio/mgmt
for t in $A $B; do
    echo "add_target $t" > $S/targets/iscsi/mgmt
    echo "add disk1 0" > $S/targets/iscsi/$t/luns/mgmt
    echo 1 > $S/targets/iscsi/$t/enabled
done
echo 1 > $S/targets/iscsi/enabled
echo "create dg" > $S/device_groups/mgmt
echo "add disk1" > $DG/devices/mgmt
for g in tga tgb; do echo "create $g" > $DG/target_groups/mgmt; done
echo "add $A" > $DG/target_groups/tga/mgmt
echo 1 > $DG/target_groups/tga/group_id
echo 1 > $DG/target_groups/tga/preferred
echo "add $B" > $DG/target_groups/tgb/mgmt
echo "add iqn.2026-12.test:other-node" > $DG/target_groups/tgb/mgmt
echo 9 > $DG/target_groups/tgb/iqn.2026-12.test:other-node/rel_tgt_id
echo 2 > $DG/target_groups/tgb/group_id
echo standby > $DG/target_groups/tgb/state
echo "rel-a: $(cat $S/targets/iscsi/$A/rel_tgt_id | head -1)"
echo "rel-b: $(cat $S/targets/iscsi/$B/rel_tgt_id | head -1)"

cat > /etc/multipath.conf <<'MP'
defaults {
    user_friendly_names no
    find_multipaths no
    polling_interval 2
}
devices {
    device {
        vendor "SCST_FIO"
        product ".*"
        path_grouping_policy group_by_prio
        detect_prio no
        prio alua
        hardware_handler "1 alua"
        failback immediate
        no_path_retry 30
        path_checker tur
    }
}
MP
pgrep -x iscsid > /dev/null || iscsid
iscsiadm -m discovery -t sendtargets -p 127.0.0.1 > /dev/null
iscsiadm -m node -T $A -p 127.0.0.1 --login > /dev/null
iscsiadm -m node -T $B -p 127.0.0.1 --login > /dev/null
udevadm settle
path_of() {  # the sdX of the session to target $1
    local session
    for session in /sys/class/iscsi_session/session*; do
        if [ "$(cat $session/targetname)" = "$1" ]; then
            basename $(ls -d $session/device/target*/*/block/* | head -1)
        fi
    done
}
for i in $(seq 120); do
    PA=$(path_of $A); PB=$(path_of $B)
    [ -n "$PA" ] && [ -n "$PB" ] && break
    sleep 1
done
udevadm settle
echo "paths: a=$PA b=$PB"
show_paths() {
    for p in $PA $PB; do
        echo "path $p dh=$(cat /sys/block/$p/device/dh_state) access=$(cat /sys/block/$p/device/access_state) writes=$(awk '{print $5}' /sys/block/$p/stat)"
    done
}
set_group() {  # set_group TG STATE PREFERRED, through the tree
    echo $2 > $DG/target_groups/$1/state
    echo $3 > $DG/target_groups/$1/preferred
}
rtpg() { timeout 20 sg_rtpg -d /dev/$1 | awk '/port group id/ {id=$6} /access state/ {print "group " id " " $NF}' | tr -d '()' | tr '\n' ' '; echo; }
show_paths
echo "rtpg-a: $(rtpg $PA)"
echo "vpd-b: $(sg_inq -p 0x83 /dev/$PB | awk '/Relative target port:/ {print "rel", $NF} /Target port group:/ {print "tpg", $NF}' | tr '\n' ' ')"
echo "standby-read: $(sg_dd if=/dev/$PB of=/dev/null bs=512 count=8 blk_sgio=1 2>&1 | grep -io 'not ready' | head -1)"
echo "standby-tur: $(sg_turs -v /dev/$PB 2>&1 | grep -io 'standby state' | head -1)"
echo "reserve-refused: $(sg_persist -n -k /dev/$PA 2>&1 | grep -io 'invalid opcode' | head -1)"

multipathd -s > /tmp/multipathd.log 2>&1
wait_for sh -c "ls /dev/mapper | grep -qv control"
sleep 4
MAP=/dev/mapper/$(ls /dev/mapper | grep -v control | head -1)
timeout 20 multipath -ll | tee /tmp/mp0.txt
timeout 120 mkfs.ext4 -q $MAP && mkdir -p /mnt/m && timeout 30 mount $MAP /mnt/m && echo "mounted"
touch /tmp/io.run
( i=0; while [ -e /tmp/io.run ]; do
      timeout 60 dd if=/dev/urandom of=/mnt/m/f$((i % 4)) bs=64k count=16 oflag=direct conv=fsync 2>/dev/null || echo "IOERR round $i"
      i=$((i + 1))
  done; echo "io-rounds: $i" ) > /tmp/io.out 2>&1 &
io=$!
sleep 4
show_paths
sleep 4
show_paths
echo "== swap"
set_group tgb active 1; set_group tga standby 0
echo "tree-states: $(head -1 $DG/target_groups/tga/state) $(head -1 $DG/target_groups/tgb/state)"
sleep 10
timeout 20 multipath -ll | tee /tmp/mp1.txt
echo "rtpg-swapped: $(rtpg $PA)"
show_paths
sleep 6
show_paths
echo "== back"
set_group tgb standby 0; set_group tga active 1
sleep 10
timeout 20 multipath -ll | tee /tmp/mp2.txt
echo "rtpg-back: $(rtpg $PB)"
echo "== worker killed"
pkill -9 -f tcmu_scst.dataplane.worker
sleep 10
show_paths
sleep 4
show_paths
echo "rtpg-restarted: $(rtpg $PA)"
rm -f /tmp/io.run; timeout 90 tail --pid=$io -f /dev/null
cat /tmp/io.out
echo "fs-check: $(ls /mnt/m | wc -l) files"
echo "== kernel"
# errors on the multipath device or the file system (a path's own sd errors are how the
# kernel tells dm-multipath that a port went standby under a write: they are retried)
dmesg | grep -i "EXT4-fs error\|Buffer I/O error\|I/O error, dev dm-" | head -5 || true
echo "== end"
echo "path-errors: $(dmesg | grep -c "I/O error, dev sd" || true)"
"""


def paths_line(output: str, label: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(label)]


def writes(lines: list[str], path: str) -> int:
    for line in lines:
        if line.startswith(f"path {path} "):
            return int(re.search(r"writes=(\d+)", line).group(1))  # type: ignore[union-attr]
    raise AssertionError(f"no path line for {path}: {lines}")


def groups_of(multipath_ll: str) -> dict[str, str]:
    """path name -> 'active' or 'ghost' plus the group's prio, from multipath -ll."""
    found, prio = {}, ""
    for line in multipath_ll.splitlines():
        match = re.search(r"prio=(\d+)", line)
        if match:
            prio = match.group(1)
        match = re.search(r"\d+:\d+:\d+:\d+ (sd\w+) \S+ +active (ready|ghost)", line)
        if match:
            found[match.group(1)] = f"{match.group(2)}/{prio}"
    return found


def section(output: str, start: str, end: str) -> str:
    return output.split(start, 1)[1].split(end, 1)[0]


def test_multipath_follows_alua_states_set_through_the_tree(vm: GuestRunner,
                                                           tmp_path: Path) -> None:
    output = vm.run(guest_library() + SCRIPT, timeout=900).output
    (tmp_path / "guest.out").write_text(output)
    assert "== end" in output, output[-3000:]
    paths = re.search(r"paths: a=(sd\w+) b=(sd\w+)", output)
    assert paths, output[:4000]
    path_a, path_b = paths.groups()
    rel_a = int(re.search(r"rel-a: (\d+)", output).group(1))  # type: ignore[union-attr]
    rel_b = int(re.search(r"rel-b: (\d+)", output).group(1))  # type: ignore[union-attr]
    assert rel_a and rel_b and rel_a != rel_b

    # the initiator's ALUA handler attached and reads each port's own state
    before = paths_line(output, "path ")[:2]
    assert f"path {path_a} dh=alua access=active/optimized" in before[0]
    assert f"path {path_b} dh=alua access=standby" in before[1]
    assert "rtpg-a: group 0x1 active/optimized group 0x2 standby" in output
    assert f"vpd-b: rel 0x{rel_b:x} tpg 0x2" in output
    # the standby port refuses media access itself (the kernel enforces it)
    assert re.search(r"standby-read: not ready", output, re.I), output
    assert "standby-tur: standby state" in output
    # reservations are refused on a device with port rings, not granted per port
    assert re.search(r"reserve-refused: invalid opcode", output, re.I)

    # multipath groups by state and writes through the optimized path
    mp0 = groups_of(section(output, "reserve-refused", "mounted"))
    assert mp0 == {path_a: "ready/50", path_b: "ghost/1"}, mp0
    lines = paths_line(output, "path ")
    steady_1, steady_2 = lines[2:4], lines[4:6]
    assert writes(steady_2, path_a) > writes(steady_1, path_a)
    assert writes(steady_2, path_b) == writes(steady_1, path_b)

    swapped = section(output, "== swap", "== back")
    assert "tree-states: standby active" in swapped
    assert groups_of(swapped) == {path_b: "ready/50", path_a: "ghost/1"}, swapped
    assert "rtpg-swapped: group 0x1 standby group 0x2 active/optimized" in swapped
    after_1, after_2 = lines[6:8], lines[8:10]
    assert writes(after_2, path_b) > writes(after_1, path_b)
    assert writes(after_2, path_a) == writes(after_1, path_a)

    back = section(output, "== back", "== kernel")
    assert groups_of(back) == {path_a: "ready/50", path_b: "ghost/1"}, back
    assert "rtpg-back: group 0x1 active/optimized group 0x2 standby" in back
    # a worker killed under I/O comes back with its port rings and its view
    restarted_1, restarted_2 = lines[10:12], lines[12:14]
    assert writes(restarted_2, path_a) > writes(restarted_1, path_a)
    assert writes(restarted_2, path_b) == writes(restarted_1, path_b)
    assert "rtpg-restarted: group 0x1 active/optimized group 0x2 standby" in back
    assert re.search(r"worker disk1 restarted", output), output[-4000:]
    rounds = int(re.search(r"io-rounds: (\d+)", back).group(1))  # type: ignore[union-attr]
    assert rounds > 3 and "IOERR" not in back
    assert "fs-check: 5 files" in back  # lost+found and the four written
    kernel = section(output, "== kernel", "== end")
    assert kernel.strip() == "", kernel
