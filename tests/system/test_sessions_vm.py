"""Sessions on the real kernel: what the tree shows of live open-iscsi sessions, and
``force_close`` ending exactly the one it names.

One guest run, driven through tcmu-scstd's FUSE tree.  The kernel initiator logs in twice
under two names: ``K`` is in a group (an explicit ACL in LIO), ``D`` in none (demo mode).
The tree's ``sid`` and connection files are compared with the ACL's ``info``; after a
``force_close`` the initiator's own kernel reports the lost connection (dmesg: ``connectionN:0:
detected conn error``) for that session alone, logs in again, and LIO shows the new session.
``commands`` counts the reads fio has queued while the device's worker is stopped.  Two
sessions under one name are refused (EBUSY) and both stay; an ``scst_local`` session is
removed with its local disk, as SCST's scst_local does.
"""

from __future__ import annotations

import re

import pytest

from tcmu_scst.compat_sysfs.sessions import scst_sid
from tcmu_scst.vm import Vm, guest_library
from tcmu_scst.vm.pytest_plugin import GuestRunner

pytestmark = pytest.mark.vm

SCRIPT = r"""
S=/run/scst_tgt
T=iqn.2024-01.test:sessions
TGT=$S/targets/iscsi/$T
ACLS=/sys/kernel/config/target/iscsi/$T/tpgt_1
K=iqn.2024-01.init:kernel
D=iqn.2024-01.init:demo
"$TCMU_VM_PYTHON" -m tcmu_scst.daemon.main --mountpoint $S --no-config > /tmp/daemon.log 2>&1 &
daemon=$!
trap 'iscsiadm -m node --logoutall=all >/dev/null 2>&1; kill $daemon 2>/dev/null; wait $daemon;
      echo "--- daemon log"; cat /tmp/daemon.log' EXIT
wait_for test -e $S/version
truncate -s 16M /tmp/d1
echo "add_device d1 filename=/tmp/d1" > $S/handlers/vdisk_fileio/mgmt
echo "add_target $T" > $S/targets/iscsi/mgmt
echo "add d1 0" > $TGT/luns/mgmt
echo "create g1" > $TGT/ini_groups/mgmt
echo "add $K" > $TGT/ini_groups/g1/initiators/mgmt
echo "add d1 0" > $TGT/ini_groups/g1/luns/mgmt
echo 1 > $TGT/enabled
echo 1 > $S/targets/iscsi/enabled

set +e  # every outcome below is printed and judged by the tests
step() { echo; echo "== $1"; }
echo "InitiatorName=$K" > /etc/iscsi/initiatorname.iscsi
iscsid
iface() {  # iface NAME INITIATOR
    iscsiadm -m iface -I $1 -o new > /dev/null
    iscsiadm -m iface -I $1 -o update -n iface.initiatorname -v $2 > /dev/null
}
login() {  # login IFACE
    iscsiadm -m discovery -t sendtargets -p 127.0.0.1 -I $1 > /dev/null 2>&1
    iscsiadm -m node -T $T -p 127.0.0.1 -I $1 --login > /dev/null 2>&1 \
        && echo "login $1: ok" || echo "login $1: failed"
}
iface demo $D; iface demo2 $D; iface kernel2 $K
tsih() { sed -n 's/.*TSIH: \([0-9]*\) .*/\1/p' $ACLS/acls/$K/info; }
show() {  # show SESSION-DIR: every file, connection directories with theirs
    local dir=$1 f c
    for f in $(ls $dir); do
        if [ -d $dir/$f ] && [ ! -L $dir/$f ]; then
            for c in $(ls $dir/$f); do echo "file $f/$c: $(cat $dir/$f/$c)"; done
        elif [ -L $dir/$f ]; then echo "link $f: $(readlink $dir/$f)"
        elif [ "$(stat -c %a $dir/$f)" = 200 ]; then echo "file $f: (write-only)"
        else echo "file $f: $(cat $dir/$f)"; fi
    done
}
lost() {  # the ifaces whose sessions the initiator's kernel saw fail since the last call
    local n names=""
    for n in $(dmesg | sed -n 's/.*connection\([0-9]*\):0: detected conn error.*/\1/p'); do
        names="$names $(cat /sys/class/iscsi_session/session$n/ifacename 2>/dev/null)"
    done
    dmesg -C
    echo "lost:$names"
}
back() {  # wait until LIO shows a session of K with a TSIH other than $1
    local i
    for i in $(seq 100); do
        t=$(tsih); [ -n "$t" ] && [ "$t" != "$1" ] && return 0; sleep 0.2
    done
    return 1
}
close() {  # close DIR: write force_close, print the outcome
    echo 1 2> /tmp/err > $1/force_close && echo "close: ok" || echo "close: $(cat /tmp/err)"
}
disk_of() {  # the /dev/sdX of an iface's session
    local s
    for s in /sys/class/iscsi_session/session*; do
        [ "$(cat $s/ifacename)" = $1 ] && ls $s/device/target*/*:*:*:0/block 2>/dev/null
    done | head -1
}

login default
login demo
wait_for sh -c "[ -n \"\$(ls /sys/class/iscsi_session/session*/device/target*/*:*:*:0/block 2>/dev/null | head -2 | sed -n 2p)\" ]"
dmesg -C

step "sessions"
ls $TGT/sessions
step "member"
show $TGT/sessions/$K
step "member info"
cat $ACLS/acls/$K/info
step "member busy"
# fio keeps 16 reads queued; while the device's worker is stopped, all 16 wait in the target
fio --name=q --filename=/dev/$(disk_of default) --rw=randread --bs=4k --iodepth=16 \
    --ioengine=libaio --direct=1 --time_based --runtime=8 > /dev/null 2>&1 &
fio=$!
sleep 3
worker=$(pgrep -f tcmu_scst.dataplane.worker)
kill -STOP $worker
sleep 1
for i in 1 2 3; do echo "commands stopped: $(cat $TGT/sessions/$K/commands)"; sleep 0.3; done
kill -CONT $worker
wait $fio
echo "fio: $?"
echo "commands idle: $(cat $TGT/sessions/$K/commands)"
step "demo"
show $TGT/sessions/$D
echo "dynamic: $(tr '\0\n' '  ' < $ACLS/dynamic_sessions)"

step "close member"
before=$(tsih)
close $TGT/sessions/$K
echo "right after: $(head -1 $ACLS/acls/$K/info)"
back $before && echo "back: TSIH $(tsih)" || echo "back: no"
sleep 1
lost
echo "tree sid: $(cat $TGT/sessions/$K/sid)"
sed -n 's/^LIO Session ID.*/info: &/p' $ACLS/acls/$K/info
echo "dynamic: $(tr '\0\n' '  ' < $ACLS/dynamic_sessions)"
dev=$(disk_of default)
dd if=/dev/$dev of=/dev/null bs=4k count=16 iflag=direct status=none && echo "read after: ok" \
    || echo "read after: failed"

step "close demo"
kbefore=$(tsih)
close $TGT/sessions/$D
echo "right after: $(tr '\0\n' '  ' < $ACLS/dynamic_sessions)"
for i in $(seq 100); do grep -q "$D" $ACLS/dynamic_sessions && break; sleep 0.2; done
sleep 1
lost
echo "dynamic: $(tr '\0\n' '  ' < $ACLS/dynamic_sessions)"
echo "member TSIH: $kbefore -> $(tsih)"
ls $TGT/sessions

step "two demo sessions of one name"
login demo2
sleep 1
ls $TGT/sessions
close $TGT/sessions/${D}_1
sleep 1
lost
echo "dynamic: $(tr '\0\n' '  ' < $ACLS/dynamic_sessions)"

step "two member sessions of one name"
login kernel2
sleep 1
echo "count: $(cat /sys/kernel/config/target/iscsi/$T/fabric_statistics/iscsi_instance/sessions)"
ls $TGT/sessions
close $TGT/sessions/$K
sleep 1
lost
iscsiadm -m session | wc -l | sed 's/^/initiator sessions: /'

step "scst_local"
disks=$(ls /sys/block | grep '^sd')
echo "add_target local1 session_name=s1" > $S/targets/scst_local/mgmt
echo "add d1 0" > $S/targets/scst_local/local1/luns/mgmt
for i in $(seq 50); do
    ldisk=$(ls /sys/block | grep '^sd' | grep -vxF "$disks" | head -1)
    [ -n "$ldisk" ] && break; sleep 0.2
done
echo "local disk: ${ldisk:-none}"
show $S/targets/scst_local/local1/sessions/s1
close $S/targets/scst_local/local1/sessions/s1
sleep 1
echo "local sessions: [$(ls $S/targets/scst_local/local1/sessions)]"
echo "local disk after: $( [ -e /sys/block/$ldisk ] && echo $ldisk || echo gone)"
echo "loopback: [$(ls /sys/kernel/config/target/loopback 2>/dev/null | grep naa)]"
echo
echo "== done"
"""


@pytest.fixture(scope="module")
def output(vm_image: Vm, tmp_path_factory: pytest.TempPathFactory) -> str:
    runner = GuestRunner(vm_image, tmp_path_factory.mktemp("sessions"))
    text = runner.check(guest_library() + SCRIPT, timeout=900).output
    print(text)
    return text


def case(output: str, title: str) -> str:
    return output.split(f"== {title}\n", 1)[1].split("\n== ", 1)[0]


def files(text: str) -> dict[str, str]:
    return dict(re.findall(r"^(?:file|link) (\S+): (.*)$", text, re.MULTILINE))


def sid_of(info: str) -> str:
    """SCST's sid, as the tree should show it, from an ACL's ``info`` line."""
    match = re.search(r"ISID: 0x([0-9a-f ]+?)\s+TSIH: (\d+)", info)
    assert match, info
    return f"{scst_sid(bytes.fromhex(match.group(1).replace(' ', '')), int(match.group(2))):x}"


def test_the_member_session_shows_what_lio_knows(output: str) -> None:
    shown = files(case(output, "member"))
    info = case(output, "member info")
    assert shown["sid"] == sid_of(info)
    assert shown["initiator_name"] == "iqn.2024-01.init:kernel"
    assert shown["luns"] == "../../ini_groups/g1/luns"
    assert shown["127.0.0.1/ip"] == "127.0.0.1"
    assert shown["127.0.0.1/cid"] == "0"
    assert shown["127.0.0.1/state"] == "TARG_CONN_STATE_LOGGED_IN"
    assert shown["commands"] == "0"  # idle
    assert shown["force_close"] == "(write-only)"
    # negotiated with open-iscsi (it offers MaxOutstandingR2T 1, the target 32) ...
    assert shown["MaxOutstandingR2T"] == "1" and shown["InitialR2T"] == "No"
    # ... and the target's offer for what LIO keeps per connection
    assert shown["MaxRecvDataSegmentLength"] == "1048576" and shown["HeaderDigest"] == "None"


def test_commands_counts_what_waits_in_the_target(output: str) -> None:
    """fio keeps 16 reads queued; with the worker stopped every one of them waits."""
    text = case(output, "member busy")
    counts = re.findall(r"^commands stopped: (\d+)$", text, re.MULTILINE)
    assert counts == ["16", "16", "16"], text
    assert "fio: 0" in text and "commands idle: 0" in text


def test_the_demo_mode_session_shows_its_address_and_the_offer(output: str) -> None:
    shown = files(case(output, "demo"))
    assert shown["initiator_name"] == "iqn.2024-01.init:demo"
    assert shown["luns"] == "../../luns"
    assert shown["127.0.0.1/ip"] == "127.0.0.1"
    assert "sid" not in shown and "commands" not in shown
    assert shown["MaxOutstandingR2T"] == "32"  # the offer: LIO shows no demo-mode result


def test_force_close_ends_the_member_session_alone(output: str) -> None:
    text = case(output, "close member")
    assert "close: ok" in text
    assert "right after: No active iSCSI Session" in text
    assert "back: TSIH" in text  # open-iscsi logged in again: a new session
    assert "\nlost: default\n" in text  # its kernel saw only that session fail
    info = next(line for line in text.splitlines() if line.startswith("info: "))
    tree_sid = next(line for line in text.splitlines() if line.startswith("tree sid: "))
    assert tree_sid.split(": ")[1] == sid_of(info)
    assert tree_sid.split(": ")[1] != files(case(output, "member"))["sid"]
    assert "iqn.2024-01.init:demo" in text.split("dynamic: ")[1]
    assert "read after: ok" in text


def test_force_close_ends_the_demo_mode_session_alone(output: str) -> None:
    text = case(output, "close demo")
    assert "close: ok" in text
    assert "right after: \n" in text or "right after:  \n" in text  # gone from LIO at once
    assert "\nlost: demo\n" in text
    assert "dynamic: iqn.2024-01.init:demo" in text  # logged in again through demo mode
    before, after = re.search(r"member TSIH: (\d+) -> (\d+)", text).groups()  # type: ignore[union-attr]
    assert before == after


def test_two_sessions_of_one_name_are_refused(output: str) -> None:
    demo = case(output, "two demo sessions of one name")
    assert "iqn.2024-01.init:demo_1" in demo
    assert "close: " in demo and "Device or resource busy" in demo
    assert "\nlost:\n" in demo
    assert demo.split("dynamic: ")[1].count("iqn.2024-01.init:demo") == 2
    member = case(output, "two member sessions of one name")
    assert "count: 4" in member
    assert "Device or resource busy" in member and "\nlost:\n" in member
    assert "initiator sessions: 4" in member


def test_force_close_removes_an_scst_local_session(output: str) -> None:
    text = case(output, "scst_local")
    disk = re.search(r"local disk: (\S+)", text).group(1)  # type: ignore[union-attr]
    assert disk.startswith("sd"), text
    assert "close: ok" in text
    assert "local sessions: []" in text
    assert "local disk after: gone" in text
    assert "loopback: []" in text
