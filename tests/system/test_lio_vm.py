"""The LIO layer on the real kernel: the emulation's claims, then every fabric end to end.

1. The conformance scenario (every behaviour the emulation claims: default groups, values,
   errnos, symlink and removal rules of core, iSCSI, loopback and FC) runs on the guest's
   configfs and must give exactly the emulation's outcome at every step.
2. An iSCSI target built with :mod:`tcmu_scst.lio` on 127.0.0.1:3260, with an ACL that needs
   CHAP: targetcli reads it back, the kernel initiator and libiscsi get in only with the
   secret, the session listing shows the initiator and its address, demo mode lets another
   initiator in as a dynamic session, and teardown leaves configfs as it found it.
3. A loopback export shows up as a local disk; 4. an FC target over FCoE on a veth pair is
   found by the other end's initiator.
"""

from __future__ import annotations

import json
import re

from tcmu_scst.testing.lio.conformance import compare, run_emulated
from tcmu_scst.vm.pytest_plugin import GuestRunner

IQN = "iqn.2003-01.org.tcmu-scst:lio"
INITIATOR = "iqn.1994-05.com.example:vm"
DEMO_INITIATOR = "iqn.1994-05.com.example:demo"
USER, SECRET = "joe", "secretsecret12"


def json_line(output: str, key: str) -> object:
    match = re.search(rf"^{key}=(.*)$", output, re.MULTILINE)
    assert match, f"no {key}= line in:\n{output}"
    return json.loads(match.group(1))


def test_the_emulation_matches_the_kernel_step_by_step(vm: GuestRunner) -> None:
    result = vm.run('"$TCMU_VM_PYTHON" -m tcmu_scst.testing.lio.conformance '
                    '--json "$TCMU_VM_SHARE/kernel.json"', timeout=600)
    kernel = json.loads((result.share / "kernel.json").read_text())
    problems = compare(kernel, run_emulated())
    assert problems == [], "\n".join(problems)
    assert result.returncode == 0, result.output


BUILD = f"""
import json
from tcmu_scst.lio import *
from tcmu_scst.lio.snapshot import snapshot
print("before=" + json.dumps(snapshot(RealConfigfs(), "target")))
disk = create_fileio_backstore("vmdisk", 1, "/tmp/vmdisk.img", 64 << 20)
user = create_user_backstore("userdisk", 2, "vdisk_nullio", "userdisk", 64 << 20)
target = IscsiTarget("{IQN}")
target.create()
target.add_lun(0, disk)
target.add_lun(1, user)
target.add_portal("127.0.0.1", 3260)
target.set_authentication(True)
target.add_acl("{INITIATOR}", {{0: 0}}, tag="group1", chap=Chap("{USER}", "{SECRET}"))
target.enable()
print("built=" + json.dumps({{"luns": {{n: str(p) for n, p in target.luns().items()}},
                            "acl": str(target.acl("{INITIATOR}"))}}))
"""

SESSIONS = f"""
import dataclasses, json
from tcmu_scst.lio import IscsiTarget
sessions = [dataclasses.asdict(s) for s in IscsiTarget("{IQN}").sessions()]
print("SESSIONS=" + json.dumps(sessions))
"""

DEMO = f"""
from tcmu_scst.lio import IscsiTarget
target = IscsiTarget("{IQN}")
target.remove_acl("{INITIATOR}")
target.set_demo_mode(True)
target.set_authentication(False)
"""

TEARDOWN = """
import json
from tcmu_scst.lio import *
from tcmu_scst.lio.snapshot import snapshot
for target in list_targets():
    target.remove()
for backstore in list_backstores():
    remove_backstore(backstore)
print("after=" + json.dumps(snapshot(RealConfigfs(), "target")))
"""


def python(code: str) -> str:
    return f'"$TCMU_VM_PYTHON" - <<\'PY\'\n{code}\nPY\n'


def test_iscsi_target_with_chap_sessions_and_demo_mode(vm: GuestRunner) -> None:
    node = f"iscsiadm -m node -T {IQN} -p 127.0.0.1"
    result = vm.check(f"""
        set -u
        truncate -s 64M /tmp/vmdisk.img
        {python(BUILD)}
        mkdir -p /run/dbus && dbus-daemon --system --fork
        echo "=== targetcli"; targetcli ls / 2>/dev/null; echo "=== end"
        mkdir -p /etc/iscsi /var/lib/iscsi /run/lock/iscsi
        echo "InitiatorName={INITIATOR}" > /etc/iscsi/initiatorname.iscsi
        iscsid -f > /tmp/iscsid.log 2>&1 &
        sleep 1
        iscsiadm -m discovery -t sendtargets -p 127.0.0.1
        {node} --login > /dev/null 2>&1; echo "login-without-secret=$?"
        {node} -o update -n node.session.auth.authmethod -v CHAP
        {node} -o update -n node.session.auth.username -v {USER}
        {node} -o update -n node.session.auth.password -v {SECRET}
        {node} --login; echo "login-with-secret=$?"
        {python(SESSIONS.replace("SESSIONS", "logged_in"))}
        {node} --logout
        {python(SESSIONS.replace("SESSIONS", "logged_out"))}
        iscsi-inq -i {INITIATOR} iscsi://127.0.0.1/{IQN}/0; echo "inq-without-secret=$?"
        iscsi-inq -i {INITIATOR} "iscsi://{USER}%{SECRET}@127.0.0.1/{IQN}/0" | grep Vendor
        echo "inq-with-secret=$?"
        {python(DEMO)}
        iscsiadm -m iface -I demo -o new > /dev/null
        iscsiadm -m iface -I demo -o update -n iface.initiatorname -v {DEMO_INITIATOR}
        iscsiadm -m discovery -t sendtargets -p 127.0.0.1 -I demo > /dev/null
        {node} -I demo --login; echo "demo-login=$?"
        {python(SESSIONS.replace("SESSIONS", "demo"))}
        {node} -I demo --logout
        {python(TEARDOWN)}
    """, timeout=600)
    output = result.output
    built = json_line(output, "built")
    assert built["luns"] == {"0": "target/core/fileio_1/vmdisk",
                             "1": "target/core/user_2/userdisk"}
    listing = output.split("=== targetcli")[1].split("=== end")[0]
    for expected in (IQN, INITIATOR, "userdisk", "vmdisk", "127.0.0.1:3260", "mapped_lun0"):
        assert expected in listing, listing
    assert "login-without-secret=24" in output  # iSCSI login failed due to authorization
    assert "login-with-secret=0" in output
    [session] = json_line(output, "logged_in")
    assert session["initiator"] == INITIATOR and session["tag"] == "group1"
    assert not session["dynamic"] and session["session_id"] >= 1
    assert [connection["address"] for connection in session["connections"]] == ["127.0.0.1"]
    assert json_line(output, "logged_out") == []
    assert "inq-without-secret=0" not in output
    assert re.search(r"^Vendor:LIO-ORG", output, re.MULTILINE), output
    assert "inq-with-secret=0" in output
    assert "demo-login=0" in output
    [dynamic] = json_line(output, "demo")
    assert (dynamic["initiator"], dynamic["dynamic"]) == (DEMO_INITIATOR, True)
    before, after = json_line(output, "before"), json_line(output, "after")
    fabric = {key: value for key, value in after.items() if key.startswith("iscsi")}
    assert sorted(fabric) == ["iscsi", "iscsi/cpus_allowed_list", "iscsi/discovery_auth",
                              "iscsi/discovery_auth/authenticate_target",
                              "iscsi/discovery_auth/enforce_discovery_auth",
                              "iscsi/discovery_auth/password",
                              "iscsi/discovery_auth/password_mutual",
                              "iscsi/discovery_auth/userid", "iscsi/discovery_auth/userid_mutual",
                              "iscsi/lio_version"]  # the fabric stays, with no target in it
    assert {key: value for key, value in after.items() if key not in fabric} == before


LOOPBACK = """
import json
from tcmu_scst.lio import *
disk = create_fileio_backstore("loopdisk", 4, "/tmp/loop.img", 16 << 20)
export = LoopbackExport("naa.5001405000000abc")
export.create()
export.add_lun(0, disk)
print("disk=" + json.dumps(str(export.wait_for_disk(0))))
"""

LOOPBACK_TEARDOWN = """
from tcmu_scst.lio import *
LoopbackExport("naa.5001405000000abc").remove()
for backstore in list_backstores():
    remove_backstore(backstore)
print("left=" + repr(RealConfigfs().subdirs("target/loopback") + RealConfigfs().subdirs("target/core")))
"""


def test_loopback_export_is_a_local_disk(vm: GuestRunner) -> None:
    result = vm.check(f"""
        truncate -s 16M /tmp/loop.img
        {python(LOOPBACK)}
        disk=$(ls /sys/class/scsi_device/*/device/block)
        sg_inq /dev/$disk | grep "Vendor identification"
        echo "affinity=$(cat /sys/kernel/config/target/loopback/naa.5001405000000abc/param/cmd_completion_affinity)"
        {python(LOOPBACK_TEARDOWN)}
        ls /sys/class/scsi_device | wc -l
    """)
    assert json_line(result.output, "disk").startswith("/dev/sd")
    assert "Vendor identification: LIO-ORG" in result.output
    assert "affinity=-2\n" in result.output  # a target we make completes on the worker's CPU
    assert "left=['discovery_auth', 'alua']" in result.output
    assert result.output.rstrip().endswith("0")


FC = """
import json, sys
from tcmu_scst.lio import *
ports = {port.host: port.wwpn for port in local_ports()}
target_port, initiator_port = ports[sys.argv[1]], ports[sys.argv[2]]
disk = create_fileio_backstore("fcdisk", 5, "/tmp/fc.img", 16 << 20)
target = FcTarget(target_port)
target.create()
target.add_lun(0, disk)
target.add_acl(initiator_port, {0: MappedLun(0, read_only=True)})
print("fc=" + json.dumps({"ports": sorted(ports.values()), "wwpns": local_port_wwpns(),
                          "target": target.wwpn, "acls": target.acls()}))
"""

FC_TEARDOWN = """
from tcmu_scst.lio import *
for wwpn in RealConfigfs().subdirs("target/fc"):
    if wwpn != "discovery_auth":
        FcTarget(wwpn).remove()
for backstore in list_backstores():
    remove_backstore(backstore)
print("fc-left=" + repr(RealConfigfs().subdirs("target/fc")))
"""


def test_fc_target_over_fcoe_is_found_by_the_other_port(vm: GuestRunner) -> None:
    result = vm.check(f"""
        ip link add veth0 type veth peer name veth1
        ip link set veth0 mtu 2500 up
        ip link set veth1 mtu 2500 up
        echo veth0 > /sys/bus/fcoe/ctlr_create
        echo veth1 > /sys/bus/fcoe/ctlr_create
        for ctlr in /sys/bus/fcoe/devices/ctlr_*; do echo vn2vn > $ctlr/mode; done
        target_host=$(basename /sys/bus/fcoe/devices/ctlr_0/host*)
        initiator_host=$(basename /sys/bus/fcoe/devices/ctlr_1/host*)
        truncate -s 16M /tmp/fc.img
        "$TCMU_VM_PYTHON" - $target_host $initiator_host <<'PY'
{FC}
PY
        echo 1 > /sys/bus/fcoe/devices/ctlr_0/enabled
        sleep 1
        echo 1 > /sys/bus/fcoe/devices/ctlr_1/enabled
        wait_for() {{ for i in $(seq 300); do "$@" && return 0; sleep 0.1; done; return 1; }}
        wait_for test -b /dev/sda
        sg_inq /dev/sda | grep "Vendor identification"
        blockdev --getro /dev/sda
        echo 0 > /sys/bus/fcoe/devices/ctlr_1/enabled
        {python(FC_TEARDOWN)}
    """)
    fc = json_line(result.output, "fc")
    assert fc["wwpns"] == fc["ports"] and len(fc["ports"]) == 2
    assert all(re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){7}", wwpn) for wwpn in fc["ports"])
    assert len(fc["acls"]) == 1 and fc["acls"][0] != fc["target"]
    assert "Vendor identification: LIO-ORG" in result.output
    assert re.search(r"^1$", result.output, re.MULTILINE)  # the mapped LUN is read-only
    assert "fc-left=['discovery_auth']" in result.output
