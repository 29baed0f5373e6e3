"""A configuration made through tcmu-scstd's tree, exported to saveconfig.json, restored by
targetcli on the same kernel without our daemon.

In one guest: the daemon serves two vdisk_fileio devices and a vdisk_nullio one; an iSCSI
target has disk1 at LUN 0 for everyone, a group ``hosts`` whose initiator sees disk2 at LUN 0
and null1 at LUN 1, and a CHAP account; an scst_local target has a session.  The kernel
initiator writes a payload to disk1 through the daemon.  Then the tree is exported with
``python -m tcmu_scst.config.saveconfig export``, the daemon is stopped (LIO must be empty),
``targetcli restoreconfig ... clear_existing=true`` rebuilds the configuration from the
document with LIO's own fileio and ramdisk backstores, and the tests judge what targetcli
printed, ``targetcli ls``, configfs, libiscsi's view per initiator (block sizes, CHAP) and
the payload read back through the restored target.
"""

from __future__ import annotations

import json
import re

import pytest

from tcmu_scst.vm import Vm, guest_library
from tcmu_scst.vm.pytest_plugin import GuestRunner

pytestmark = pytest.mark.vm

IQN = "iqn.2006-10.net.vlnb:tgt"
HOST1 = "iqn.1994-05.com.example:host1"
HOST2 = "iqn.1994-05.com.example:host2"
WRITER = "iqn.1994-05.com.example:writer"

SCRIPT = r"""
S=/run/scst_tgt
IQN=iqn.2006-10.net.vlnb:tgt
HOST1=iqn.1994-05.com.example:host1
HOST2=iqn.1994-05.com.example:host2
WRITER=iqn.1994-05.com.example:writer
CHAP=joe%secretsecret12
CFG=/sys/kernel/config/target
mkdir -p /srv/sc
truncate -s 64M /srv/sc/disk1 /srv/sc/disk2
"$TCMU_VM_PYTHON" -m tcmu_scst.daemon.main --mountpoint $S > /tmp/daemon.log 2>&1 &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; echo "--- daemon log"; cat /tmp/daemon.log' EXIT
wait_for test -e $S/version

echo "add_device disk1 filename=/srv/sc/disk1; blocksize=4096" > $S/handlers/vdisk_fileio/mgmt
echo "add_device disk2 filename=/srv/sc/disk2" > $S/handlers/vdisk_fileio/mgmt
echo "add_device null1 size_mb=64" > $S/handlers/vdisk_nullio/mgmt
echo "add_target $IQN" > $S/targets/iscsi/mgmt
echo "add disk1 0" > $S/targets/iscsi/$IQN/luns/mgmt
echo "create hosts" > $S/targets/iscsi/$IQN/ini_groups/mgmt
echo "add $HOST1" > $S/targets/iscsi/$IQN/ini_groups/hosts/initiators/mgmt
echo "add disk2 0" > $S/targets/iscsi/$IQN/ini_groups/hosts/luns/mgmt
echo "add null1 1" > $S/targets/iscsi/$IQN/ini_groups/hosts/luns/mgmt
# disk2 and null1 are only in a group: initiators in no group are refused (acl-only), so
# the kernel initiator gets a group of its own for the target's disk1
echo "create writer" > $S/targets/iscsi/$IQN/ini_groups/mgmt
echo "add $WRITER" > $S/targets/iscsi/$IQN/ini_groups/writer/initiators/mgmt
echo "add disk1 0" > $S/targets/iscsi/$IQN/ini_groups/writer/luns/mgmt
echo "add_target_attribute $IQN IncomingUser joe secretsecret12" > $S/targets/iscsi/mgmt
echo 1 > $S/targets/iscsi/$IQN/enabled
echo 1 > $S/targets/iscsi/enabled
echo "add_target local1 session_name=s1" > $S/targets/scst_local/mgmt
echo "add disk2 0" > $S/targets/scst_local/local1/luns/mgmt

# the kernel initiator (named $WRITER) with CHAP, as a targetcli user would log in
echo "InitiatorName=$WRITER" > /etc/iscsi/initiatorname.iscsi
pgrep -x iscsid > /dev/null || iscsid
iscsi_login() {
    iscsiadm -m discovery -t sendtargets -p 127.0.0.1 > /dev/null
    for setting in "authmethod CHAP" "username joe" "password secretsecret12"; do
        set -- $setting
        iscsiadm -m node -T $IQN -p 127.0.0.1 --op update -n node.session.auth.$1 -v $2
    done
    iscsiadm -m node -T $IQN -p 127.0.0.1 --login
}
find_disk() {
    local session
    for session in /sys/class/iscsi_session/session*; do
        [ "$(cat "$session/targetname" 2>/dev/null)" = "$IQN" ] || continue
        ls -d "$session"/device/target*/*:0:0:0/block/* 2>/dev/null | head -1 | xargs -r basename
    done
}
disk_present() { test -n "$(find_disk)"; }

echo "== under tcmu-scstd"
iscsi-ls -s -i $HOST1 iscsi://$CHAP@127.0.0.1 > /dev/null 2>&1 || true
iscsi-inq -i $HOST1 iscsi://$CHAP@127.0.0.1/$IQN/0 > /dev/null 2>&1 \
    && echo "daemon-host1-chap: logged in" || echo "daemon-host1-chap: refused"

echo "== write through tcm-scstd"
iscsi_login
wait_for disk_present
dev=/dev/$(find_disk)
head -c 1M /dev/urandom > /tmp/payload
dd if=/tmp/payload of=$dev bs=1M seek=3 oflag=direct status=none
sync
iscsiadm -m node -T $IQN -p 127.0.0.1 --logout
echo "written to $dev: $(md5sum < /tmp/payload)"

echo "== export"
"$TCMU_VM_PYTHON" -m tcmu_scst.config.saveconfig export --root $S /tmp/saveconfig.json
echo "export status: $?, mode $(stat -c %a /tmp/saveconfig.json)"
echo "-- saveconfig.json"
cat /tmp/saveconfig.json
echo "-- end of saveconfig.json"

echo "== stop the daemon"
kill -TERM $daemon
wait $daemon || true
trap - EXIT
echo "left in LIO: $(ls $CFG/iscsi 2>/dev/null | grep -c '^iqn' || true) targets," \
     "$(ls -d $CFG/core/*/* 2>/dev/null | grep -vc alua || true) backstores"

echo "== targetcli restoreconfig"
mkdir -p /run/dbus /etc/target
dbus-daemon --system --fork 2>/dev/null || true
export HOME=/tmp
targetcli restoreconfig /tmp/saveconfig.json clear_existing=true 2>&1
echo "restoreconfig status: $?"
echo "== targetcli ls"
targetcli ls / 2>&1

echo "== configfs"
for so in $CFG/core/*/*/; do
    case $so in */core/alua/*) continue ;; esac
    echo "backstore $(basename $(dirname $so))/$(basename $so):" \
         "block_size=$(cat $so/attrib/block_size)" \
         "serial=$(cat $so/wwn/vpd_unit_serial | sed 's/.*: //')"
done
TPG=$CFG/iscsi/$IQN/tpgt_1
echo "tpg enable=$(cat $TPG/enable) demo=$(cat $TPG/attrib/generate_node_acls)" \
     "auth=$(cat $TPG/attrib/authentication) chap_user=$(cat $TPG/auth/userid)"
for lun in $TPG/lun/lun_*; do echo "tpg $(basename $lun) -> $(basename $(readlink $lun/*))"; done
ls $TPG/np
for m in $TPG/acls/*/lun_*; do
    echo "acl $(basename $(dirname $m)) tag=$(cat $(dirname $m)/tag) $(basename $m) ->" \
         "$(basename $(readlink $m/*)) wp=$(cat $m/write_protect)" \
         "chap_user=$(cat $(dirname $m)/auth/userid)"
done
ls $CFG/loopback 2>/dev/null | sed 's/^/loopback /'

echo "== libiscsi after restore"
set +e  # every outcome below is printed and judged by the tests
for host in $HOST1 $HOST2; do
    iscsi-ls -s -i $host iscsi://$CHAP@127.0.0.1 > /dev/null 2>&1
done
echo "-- $HOST1"
iscsi-ls -s -i $HOST1 iscsi://$CHAP@127.0.0.1
echo "host1-lun0: $(iscsi-readcapacity16 -i $HOST1 iscsi://$CHAP@127.0.0.1/$IQN/0 | grep -i 'block length')"
echo "host1-lun0-inq: $(iscsi-inq -i $HOST1 iscsi://$CHAP@127.0.0.1/$IQN/0 | grep -E 'Vendor|Product' | tr '\n' ' ')"
echo "-- $HOST2"
iscsi-ls -s -i $HOST2 iscsi://$CHAP@127.0.0.1
echo "host2-lun0: $(iscsi-readcapacity16 -i $HOST2 iscsi://$CHAP@127.0.0.1/$IQN/0 | grep -i 'block length')"
iscsi-inq -i $HOST2 iscsi://127.0.0.1/$IQN/0 > /dev/null 2>&1 && echo "no-secret: logged in" \
    || echo "no-secret: refused"

echo "== read back through the restored target"
iscsi_login
wait_for disk_present
dev=/dev/$(find_disk)
dd if=$dev of=/tmp/readback bs=1M skip=3 count=1 iflag=direct status=none
cmp /tmp/payload /tmp/readback && echo "payload read back identical through LIO fileio ($dev)"
iscsiadm -m node -T $IQN -p 127.0.0.1 --logout
targetcli clearconfig confirm=True > /dev/null 2>&1
echo "== done"
"""


@pytest.fixture(scope="module")
def output(vm_image: Vm, tmp_path_factory: pytest.TempPathFactory) -> str:
    """One guest run of the whole scenario, judged by the tests below."""
    runner = GuestRunner(vm_image, tmp_path_factory.mktemp("saveconfig"))
    text = runner.check(guest_library() + SCRIPT, timeout=900).output
    print(text)  # what targetcli printed, for the record (pytest -s shows it)
    return text


def section(output: str, start: str, end: str) -> str:
    return output.split(start, 1)[1].split(end, 1)[0]


def test_the_export_is_a_saveconfig_document(output: str) -> None:
    assert "export status: 0, mode 600" in output
    document = json.loads(section(output, "-- saveconfig.json\n", "-- end of saveconfig.json"))
    plugins = {so["name"]: so["plugin"] for so in document["storage_objects"]}
    assert plugins == {"disk1": "fileio", "disk2": "fileio", "null1": "ramdisk"}
    iscsi = next(target for target in document["targets"] if target["fabric"] == "iscsi")
    assert iscsi["wwn"] == IQN
    assert [acl["node_wwn"] for acl in iscsi["tpgs"][0]["node_acls"]] == [HOST1, WRITER]
    assert iscsi["tpgs"][0]["attributes"]["generate_node_acls"] == 0  # acl-only
    assert any(target["fabric"] == "loopback" for target in document["targets"])


def test_the_daemon_left_lio_empty_before_the_restore(output: str) -> None:
    assert "left in LIO: 0 targets, 0 backstores" in output


def test_targetcli_restores_without_errors(output: str) -> None:
    restore = section(output, "== targetcli restoreconfig", "== targetcli ls")
    assert "restoreconfig status: 0" in restore
    assert "skipped" not in restore and "rror" not in restore, restore


def test_targetcli_lists_the_restored_objects(output: str) -> None:
    listing = section(output, "== targetcli ls", "== configfs")
    # targetcli shows the ACLs that share a tag as one node named by the tag: our group
    for text in (f"o- {IQN}", "0.0.0.0:3260", "o- hosts", f"[({HOST1}),", "o- writer",
                 "[/srv/sc/disk1 (64.0MiB) write-back activated]", "[nullio (64.0MiB)",
                 "[fileio/disk1 (/srv/sc/disk1) (default_tg_pt_gp)]",
                 "[lun20000 fileio/disk2 (rw)]", "[lun20001 ramdisk/null1 (rw)]",
                 "o- loopback"):
        assert text in listing, text


def test_configfs_has_the_target_the_lun_and_the_acl(output: str) -> None:
    configfs = section(output, "== configfs", "== libiscsi after restore")
    assert re.search(r"backstore fileio_\d+/disk1: block_size=4096 serial=\S+", configfs)
    assert "tpg enable=1 demo=0 auth=1 chap_user=joe" in configfs
    assert "tpg lun_0 -> disk1" in configfs
    assert "0.0.0.0:3260" in configfs
    assert f"acl {HOST1} tag=hosts lun_0 -> lun_20000 wp=0 chap_user=joe" in configfs
    assert f"acl {HOST1} tag=hosts lun_1 -> lun_20001 wp=0 chap_user=joe" in configfs
    assert re.search(r"loopback naa\.5001405[0-9a-f]{9}", configfs)


def test_each_initiator_sees_its_luns_with_chap(output: str) -> None:
    host1 = section(output, f"-- {HOST1}", "host1-lun0:")
    assert sorted(line.split()[0] for line in host1.splitlines()
                  if line.startswith("Lun:")) == ["Lun:0", "Lun:1"]
    assert "host1-lun0: LOGICAL BLOCK LENGTH IN BYTES:512" in output  # disk2
    assert "Product:disk2" in output  # emulate_model_alias, as SCST's default prod_id
    assert "no-secret: refused" in output


def test_data_written_through_the_daemon_reads_back_through_lio(output: str) -> None:
    assert "payload read back identical through LIO fileio" in output


def test_initiators_in_no_group_are_refused_as_the_export_warned(output: str) -> None:
    """The restored target is acl-only as tcmu-scstd made it: an initiator in no group
    (HOST2) sees nothing, though it has the secret, and the export said so."""
    assert "exported without demo mode (acl-only)" in output
    outsider = section(output, f"-- {HOST2}", "host2-lun0:")
    assert not [line for line in outsider.splitlines() if line.startswith("Lun:")], outsider
    assert "host2-lun0: LOGICAL BLOCK LENGTH" not in output
