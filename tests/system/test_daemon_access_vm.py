"""tcmu-scstd on the real kernel: initiator groups, CHAP, scst_local and targetcli's view.

Driven with echo through the FUSE tree only.  Two libiscsi initiators (different initiator
names): the one in an ini_group sees exactly that group's LUNs; with IncomingUser set,
logging in without the secret fails and with it succeeds; an scst_local target with a session
gives a local /dev/sdX with our device behind it; ``targetcli ls`` shows the backstores and
targets the daemon made.
"""

from __future__ import annotations

import pytest

from tcmu_scst.vm import Vm, guest_library
from tcmu_scst.vm.pytest_plugin import GuestRunner

pytestmark = pytest.mark.vm

SCRIPT = r"""
S=/run/scst_tgt
IQN=iqn.2006-10.net.vlnb:tgt
HOST1=iqn.1994-05.com.example:host1
HOST2=iqn.1994-05.com.example:host2
"$TCMU_VM_PYTHON" -m tcmu_scst.daemon.main --mountpoint $S > /tmp/daemon.log 2>&1 &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon; cat /tmp/daemon.log' EXIT
wait_for test -e $S/version
truncate -s 64M /tmp/d1 /tmp/d2
echo "add_device disk1 filename=/tmp/d1" > $S/handlers/vdisk_fileio/mgmt
echo "add_device disk2 filename=/tmp/d2; blocksize=4096" > $S/handlers/vdisk_fileio/mgmt
echo "add_target $IQN" > $S/targets/iscsi/mgmt
echo "add disk1 0" > $S/targets/iscsi/$IQN/luns/mgmt
echo "add disk2 1" > $S/targets/iscsi/$IQN/luns/mgmt  # every group device is a target LUN: demo
echo "create hosts" > $S/targets/iscsi/$IQN/ini_groups/mgmt
echo "add $HOST1" > $S/targets/iscsi/$IQN/ini_groups/hosts/initiators/mgmt
echo "add disk2 0" > $S/targets/iscsi/$IQN/ini_groups/hosts/luns/mgmt
echo "add disk1 1" > $S/targets/iscsi/$IQN/ini_groups/hosts/luns/mgmt
echo 1 > $S/targets/iscsi/$IQN/enabled
echo 1 > $S/targets/iscsi/enabled

set +e  # every outcome below is printed and judged by the tests
# each new session first gets REPORTED LUNS DATA HAS CHANGED, which iscsi-ls reports as an
# error: a first listing per initiator takes the unit attentions
for host in $HOST1 $HOST2; do iscsi-ls -s -i $host iscsi://127.0.0.1 > /dev/null 2>&1 || true; done
echo "access_mode: $(cat $S/targets/iscsi/$IQN/access_mode)"
echo "== group member"
iscsi-ls -s -i $HOST1 iscsi://127.0.0.1 | tee /tmp/host1.txt
echo "lun0-of-host1: $(iscsi-readcapacity16 -i $HOST1 iscsi://127.0.0.1/$IQN/0 | grep -i 'block length')"
echo "== outside every group"
iscsi-ls -s -i $HOST2 iscsi://127.0.0.1 | tee /tmp/host2.txt
echo "lun0-of-host2: $(iscsi-readcapacity16 -i $HOST2 iscsi://127.0.0.1/$IQN/0 | grep -i 'block length')"

echo "== CHAP"
echo "add_target_attribute $IQN IncomingUser joe secretsecret12" > $S/targets/iscsi/mgmt
iscsi-inq -i $HOST2 iscsi://127.0.0.1/$IQN/0 > /dev/null 2>&1 && echo "no-secret: logged in" || echo "no-secret: refused"
iscsi-inq -i $HOST2 "iscsi://joe%secretsecret12@127.0.0.1/$IQN/0" | grep Vendor && echo "with-secret: logged in"
# a group member (an explicit ACL in LIO) is held to the target's account too
iscsi-inq -i $HOST1 iscsi://127.0.0.1/$IQN/0 > /dev/null 2>&1 && echo "member-no-secret: logged in" || echo "member-no-secret: refused"
iscsi-inq -i $HOST1 "iscsi://joe%secretsecret12@127.0.0.1/$IQN/0" | grep Vendor && echo "member-with-secret: logged in"
echo "del_target_attribute $IQN IncomingUser joe" > $S/targets/iscsi/mgmt

echo "== scst_local"
echo "add_target local1 session_name=s1" > $S/targets/scst_local/mgmt
echo "add disk2 0" > $S/targets/scst_local/local1/luns/mgmt
for i in $(seq 50); do
    dev=$(for d in /sys/block/sd*; do [ "$(cat $d/device/vendor 2>/dev/null)" = SCST_FIO ] && \
        [ "$(cat $d/device/model | tr -d ' ')" = disk2 ] && basename $d; done | head -1)
    [ -n "$dev" ] && break; sleep 0.2
done
echo "local-disk: ${dev:-none} $(cat /sys/block/$dev/queue/logical_block_size 2>/dev/null)"
ls $S/targets/scst_local/local1/sessions

echo "== targetcli"
# the system bus starts after the daemon here: the daemon keeps trying to announce its handlers
mkdir -p /run/dbus; dbus-daemon --system --fork 2>/dev/null || true
wait_for sh -c 'dbus-send --system --print-reply --dest=org.freedesktop.DBus / \
    org.freedesktop.DBus.NameHasOwner string:org.kernel.TCMUService1 | grep -q true'
targetcli ls / 2>&1 | tee /tmp/targetcli.txt
targetcli /backstores/user:vdisk_fileio help create 2>&1 | grep -i "made through" || true
"""


@pytest.fixture(scope="module")
def output(vm_image: Vm, tmp_path_factory: pytest.TempPathFactory) -> str:
    """One guest run of the whole scenario, judged by the tests below."""
    runner = GuestRunner(vm_image, tmp_path_factory.mktemp("access"))
    return runner.check(guest_library() + SCRIPT, timeout=900).output


def test_group_member_sees_exactly_its_luns(output: str) -> None:
    member = output.split("== group member")[1].split("== outside every group", maxsplit=1)[0]
    luns = sorted(line.split()[0] for line in member.splitlines() if line.startswith("Lun:"))
    assert luns == ["Lun:0", "Lun:1"]
    assert "lun0-of-host1: LOGICAL BLOCK LENGTH IN BYTES:4096" in output  # the group's disk2


def test_initiator_in_no_group_sees_exactly_the_target_luns(output: str) -> None:
    """The target's LUN set holds every device the group uses, so demo mode is exact:
    the outsider gets disk1 at 0 and disk2 at 1, and nothing of the group's numbering."""
    assert "access_mode: demo" in output
    outsider = output.split("== outside every group")[1].split("== CHAP", maxsplit=1)[0]
    luns = sorted(line.split()[0] for line in outsider.splitlines() if line.startswith("Lun:"))
    assert luns == ["Lun:0", "Lun:1"]
    assert "lun0-of-host2: LOGICAL BLOCK LENGTH IN BYTES:512" in output  # the target's disk1


def test_chap(output: str) -> None:
    assert "\nno-secret: refused" in output and "\nwith-secret: logged in" in output


def test_chap_holds_for_group_members(output: str) -> None:
    assert "member-no-secret: refused" in output
    assert "member-with-secret: logged in" in output


def test_scst_local_gives_a_local_disk(output: str) -> None:
    assert "local-disk: sd" in output and "local-disk: none" not in output
    assert "s1" in output.split("== scst_local")[1].split("== targetcli", maxsplit=1)[0]


def test_targetcli_shows_our_objects(output: str) -> None:
    targetcli = output.split("== targetcli")[1]
    # our handlers, announced on D-Bus as tcmu-runner announces its own, with their devices
    handler_line = next(line for line in targetcli.splitlines() if "user:vdisk_fileio" in line)
    assert "[Storage Objects: 2]" in handler_line, handler_line
    assert "user:vdisk_nullio" in targetcli and "user:vcdrom" in targetcli
    assert "made through the SCST tree" in targetcli  # targetcli's help create, from ConfigDesc
    for name in ("iqn.2006-10.net.vlnb:tgt", "0.0.0.0:3260", "user/disk1", "user/disk2",
                 "iqn.1994-05.com.example:host1", "[user/disk2 (default_tg_pt_gp)]"):
        assert name in targetcli, name
