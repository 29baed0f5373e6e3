"""The access rule on the real kernel: no initiator completes a command on a LUN it must not
see, and each one SCST would admit sees exactly its LUNs or is refused where LIO cannot say it.

One guest run, driven with echo through tcmu-scstd's FUSE tree.  Three devices hold their
names at LBA 0 (``DEV-d1`` ...), so a READ tells which device a LUN is.  Initiators: libiscsi
as a group member and as an outsider (``tests/system/iscsi_probe.py``: discovery, login,
REPORT LUNS and a READ of every LUN number the target uses), and the kernel initiator
(open-iscsi with dm-less plain disks), logged in while the configuration changes under it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tcmu_scst.vm import Vm, guest_library
from tcmu_scst.vm.pytest_plugin import GuestRunner

pytestmark = pytest.mark.vm

PROBE = Path(__file__).with_name("iscsi_probe.py")

SCRIPT = r"""
S=/run/scst_tgt
T=iqn.2024-01.test:masked
TGT=$S/targets/iscsi/$T
M=iqn.2024-01.init:member
O=iqn.2024-01.init:outsider
K=iqn.2024-01.init:kernel
"$TCMU_VM_PYTHON" -m tcmu_scst.daemon.main --mountpoint $S --no-config > /tmp/daemon.log 2>&1 &
daemon=$!
trap 'iscsiadm -m node --logoutall=all >/dev/null 2>&1; kill $daemon 2>/dev/null; wait $daemon;
      echo "--- daemon log"; cat /tmp/daemon.log' EXIT
wait_for test -e $S/version
for d in d1 d2 d3; do
    truncate -s 16M /tmp/$d
    printf "DEV-$d" | dd of=/tmp/$d conv=notrunc status=none
    echo "add_device $d filename=/tmp/$d" > $S/handlers/vdisk_fileio/mgmt
done
echo "add_target $T" > $S/targets/iscsi/mgmt
echo 1 > $TGT/enabled
echo 1 > $S/targets/iscsi/enabled

set +e  # every outcome below is printed and judged by the tests
step() { echo; echo "== $1"; }
probe() { /usr/bin/python3 $PROBE "$@" --read 0,1,2,20000,20001; }
state() { echo "access_mode: $(cat $TGT/access_mode)"; }
admin() { "$TCMU_VM_PYTHON" -m tcmu_scst.config.cli "$@"; }

# the kernel initiator, named $K, with short recovery so a refused relogin fails soon
echo "InitiatorName=$K" > /etc/iscsi/initiatorname.iscsi
pgrep -x iscsid > /dev/null || iscsid
k_login() {
    iscsiadm -m discovery -t sendtargets -p 127.0.0.1 > /dev/null 2>&1
    iscsiadm -m node -T $T -p 127.0.0.1 --op update \
        -n node.session.timeo.replacement_timeout -v 10 > /dev/null
    iscsiadm -m node -T $T -p 127.0.0.1 --login > /dev/null 2>&1 && echo "k-login: ok" \
        || echo "k-login: refused"
}
k_logout() { iscsiadm -m node -T $T -p 127.0.0.1 --logout > /dev/null 2>&1; }
k_disk() {  # the /dev/sdX of LUN $1 of our session
    ls -d /sys/class/iscsi_session/session*/device/target*/*:*:*:$1/block/* 2>/dev/null \
        | head -1 | xargs -r basename
}
k_wait() { for i in $(seq 100); do [ -n "$(k_disk $1)" ] && return 0; sleep 0.2; done; return 1; }
k_view() {  # REPORT LUNS as the kernel initiator sees it, and a READ of each disk it has
    local lun0=$(k_disk 0) dev
    local luns="" hex
    for hex in $(sg_luns -q /dev/$lun0 2>/dev/null); do  # raw first 16 bits, as the probe
        luns="$luns$(printf '%d' "0x$(echo $hex | cut -c1-4)") "
    done
    echo "k-luns: $luns"
    for dev in $(ls -d /sys/class/iscsi_session/session*/device/target*/*:*:*:*/block/* \
                 2>/dev/null); do
        lun=$(basename $(dirname $(dirname $dev)) | cut -d: -f4)
        data=$(dd if=/dev/$(basename $dev) bs=512 count=1 iflag=direct status=none \
               2>/dev/null | head -c 6)
        echo "k-read $lun: ${data:-fail}"
    done
}

step "A group-only LUNs"
echo "create g1" > $TGT/ini_groups/mgmt
echo "add $M" > $TGT/ini_groups/g1/initiators/mgmt
echo "add d1 0" > $TGT/ini_groups/g1/luns/mgmt
state
probe $M $T
probe $O $T

step "B default and group LUNs on different devices"
echo "add d2 0" > $TGT/luns/mgmt
state
probe $M $T
probe $O $T
admin -write_config /tmp/b.conf > /dev/null
admin -check_config /tmp/b.conf 2>&1 | grep -i "acl-only" | sed 's/^/check_config: /'

step "C default and group LUNs on the same device"
echo "del 0" > $TGT/ini_groups/g1/luns/mgmt
echo "add d2 0" > $TGT/ini_groups/g1/luns/mgmt
echo "add d1 1" > $TGT/luns/mgmt
state
probe $M $T
probe $O $T
k_login
k_wait 1
k_view

step "D added to the group while logged in"
echo "add $O" > $TGT/ini_groups/g1/initiators/mgmt   # O had a demo-mode session in C
probe $O $T
echo "add $K" > $TGT/ini_groups/g1/initiators/mgmt
sleep 3; k_wait 0
k_view

step "E removed from the group while logged in"
echo "del $K" > $TGT/ini_groups/g1/initiators/mgmt
sleep 3; k_wait 1
k_view

step "F live switch to acl-only under a logged-in outsider"
echo "add d3 1" > $TGT/ini_groups/g1/luns/mgmt   # d3 only in the group
state
probe $M $T
k_view
k_logout
k_login

step "G group deleted"
echo "del g1" > $TGT/ini_groups/mgmt
state
probe $M $T

step "H CHAP on a masked target"
echo "create g2" > $TGT/ini_groups/mgmt
echo "add $M" > $TGT/ini_groups/g2/initiators/mgmt
echo "add d3 0" > $TGT/ini_groups/g2/luns/mgmt
echo "add_target_attribute $T IncomingUser joe secretsecret12" > $S/targets/iscsi/mgmt
state
probe $M $T
probe $M $T --chap joe:secretsecret12
probe $O $T --chap joe:secretsecret12
echo "add $M" > $TGT/ini_groups/g2/initiators/mgmt  # refused: already a member
dmesg | grep "tcmu-scstd:" | tail -1 | sed 's/^.*tcmu-scstd:/kmsg: tcmu-scstd:/'

step "I scst_local with a group, then SIGTERM"
k_logout
echo "add_target local1 session_name=s1" > $S/targets/scst_local/mgmt
echo "add d1 0" > $S/targets/scst_local/local1/luns/mgmt
echo "create g" > $S/targets/scst_local/local1/ini_groups/mgmt
echo "add s1" > $S/targets/scst_local/local1/ini_groups/g/initiators/mgmt
echo "add d2 0" > $S/targets/scst_local/local1/ini_groups/g/luns/mgmt
for i in $(seq 50); do
    disk=$(for d in /sys/block/sd*; do [ "$(cat $d/device/model 2>/dev/null | tr -d ' ')" = d2 ] \
        && basename $d; done | head -1)
    [ -n "$disk" ] && break; sleep 0.2
done
echo "local-disk: ${disk:-none} $(dd if=/dev/${disk:-null} bs=512 count=1 iflag=direct \
    status=none 2>/dev/null | head -c 6)"
echo "del 0" > $S/targets/scst_local/local1/ini_groups/g/luns/mgmt && echo "local-del: ok"
echo "add d2 0" > $S/targets/scst_local/local1/ini_groups/g/luns/mgmt
kill -TERM $daemon; wait $daemon
echo "daemon exit: $?"
trap - EXIT
echo "left: $(ls /sys/kernel/config/target/loopback /sys/kernel/config/target/iscsi \
    2>/dev/null | grep -c '^naa\.\|^iqn\.') targets, \
$(ls -d /sys/kernel/config/target/core/user_*/* 2>/dev/null | grep -vc alua) backstores"
echo "--- daemon log"; cat /tmp/daemon.log
echo
echo "== done"
"""


@pytest.fixture(scope="module")
def output(vm_image: Vm, tmp_path_factory: pytest.TempPathFactory) -> str:
    """One guest run of every case, judged by the tests below."""
    runner = GuestRunner(vm_image, tmp_path_factory.mktemp("access-rule"))
    script = guest_library() + f"PROBE={PROBE}\n" + SCRIPT
    text = runner.check(script, timeout=900).output
    print(text)
    return text


def case(output: str, title: str) -> str:
    return output.split(f"== {title}\n", 1)[1].split("\n== ", 1)[0]


def seen(text: str, initiator: str) -> dict[str, str]:
    """What the probe said for ``initiator``: discover, login, luns and each read."""
    found = {}
    for line in text.splitlines():
        match = re.match(rf"(discover|login|luns|read) {re.escape(initiator)}( \d+)?: (.*)",
                         line)
        if match:
            found[(match.group(1) + (match.group(2) or "")).replace(" ", "")] = match.group(3)
    return found


MEMBER, OUTSIDER = "iqn.2024-01.init:member", "iqn.2024-01.init:outsider"


def kernel_luns(text: str) -> list[list[str]]:
    """Each REPORT LUNS listing the kernel initiator printed in ``text``."""
    return [line.split(":", 1)[1].split() for line in text.splitlines()
            if line.startswith("k-luns:")]


def assert_refused(view: dict[str, str]) -> None:
    assert view["discover"] == "hidden", view
    assert view["login"].startswith("refused"), view
    assert not [key for key in view if key.startswith(("luns", "read"))], view


def assert_sees(view: dict[str, str], luns: dict[int, str]) -> None:
    """Exactly ``luns`` (LUN -> device) in REPORT LUNS and by READ; every other LUN number
    fails (LUN 0 excepted when not mapped: LIO answers it with zeros)."""
    assert view["login"] == "ok", view
    assert view["luns"] == " ".join(str(lun) for lun in sorted(luns)), view
    for lun in (0, 1, 2, 20000, 20001):
        answer = view[f"read{lun}"]
        if lun in luns:
            assert answer == f"DEV-{luns[lun]}", (lun, view)
        elif lun == 0:
            assert answer == "<zeros>", view
        else:
            assert answer.startswith("fail") and "NOT_SUPPORTED" in answer, (lun, view)


def test_group_only_luns(output: str) -> None:
    text = case(output, "A group-only LUNs")
    assert "access_mode: acl-only" in text
    assert_sees(seen(text, MEMBER), {0: "d1"})
    assert_refused(seen(text, OUTSIDER))


def test_default_and_group_luns_on_different_devices(output: str) -> None:
    text = case(output, "B default and group LUNs on different devices")
    assert "access_mode: acl-only" in text
    assert_sees(seen(text, MEMBER), {0: "d1"})
    assert_refused(seen(text, OUTSIDER))
    assert "check_config: " in text and "initiators in no group are refused" in text


def test_default_and_group_luns_on_the_same_device(output: str) -> None:
    text = case(output, "C default and group LUNs on the same device")
    assert "access_mode: demo" in text
    assert_sees(seen(text, MEMBER), {0: "d2"})
    assert_sees(seen(text, OUTSIDER), {0: "d2", 1: "d1"})
    assert seen(text, OUTSIDER)["discover"] == "listed"
    assert "k-login: ok" in text and kernel_luns(text) == [["0", "1"]]
    assert "k-read 0: DEV-d2" in text and "k-read 1: DEV-d1" in text


def test_initiator_added_to_a_group_while_logged_in(output: str) -> None:
    """The kernel's conversion of a demo-mode ACL would keep LUN 1: it must not."""
    text = case(output, "D added to the group while logged in")
    assert_sees(seen(text, OUTSIDER), {0: "d2"})
    assert kernel_luns(text) == [["0"]] and "k-read 0: DEV-d2" in text
    assert "k-read 1: DEV" not in text  # its old LUN 1 disk no longer reads


def test_initiator_removed_from_a_group_while_logged_in(output: str) -> None:
    text = case(output, "E removed from the group while logged in")
    assert kernel_luns(text) == [["0", "1"]]  # back in no group: the default set
    assert "k-read 0: DEV-d2" in text and "k-read 1: DEV-d1" in text


def test_live_switch_to_acl_only(output: str) -> None:
    text = case(output, "F live switch to acl-only under a logged-in outsider")
    assert "access_mode: acl-only" in text
    assert_sees(seen(text, MEMBER), {0: "d2", 1: "d3"})
    assert "DEV-d3" not in text.split(f"read {MEMBER} 20001")[1]  # the outsider never reads d3
    assert kernel_luns(text) == [["0", "1"]]  # never the group-only d3 (TPG LUN 20000)
    assert "k-read 1: DEV-d1" in text and "k-read 2" not in text
    assert "k-login: refused" in text  # a new login as an outsider is refused


def test_group_deleted(output: str) -> None:
    text = case(output, "G group deleted")
    assert "access_mode: demo" in text
    assert_sees(seen(text, MEMBER), {0: "d2", 1: "d1"})


def test_chap_on_a_masked_target(output: str) -> None:
    text = case(output, "H CHAP on a masked target")
    assert "access_mode: acl-only" in text
    logins = [line for line in text.splitlines() if line.startswith("login ")]
    assert logins[0].startswith(f"login {MEMBER}: refused"), logins  # no secret
    assert logins[1] == f"login {MEMBER}: ok", logins  # with the secret
    assert logins[2].startswith(f"login {OUTSIDER}: refused"), logins  # secret, but no group
    assert f"read {MEMBER} 0: DEV-d3" in text


def test_scst_local_groups_and_a_clean_stop(output: str) -> None:
    """The session's name is in the group: its local disk is the group's d2; removing the
    group LUN works; SIGTERM leaves nothing in LIO (it used to leave the tcm_loop ACL)."""
    text = case(output, "I scst_local with a group, then SIGTERM")
    assert re.search(r"local-disk: sd[a-z]+ DEV-d2", text), text
    assert "local-del: ok" in text
    assert "daemon exit: 0" in text
    assert "left: 0 targets, 0 backstores" in text, text


def test_a_refusal_is_explained_in_the_kernel_log(output: str) -> None:
    """As on SCST, whose tools say 'See "dmesg"'."""
    text = case(output, "H CHAP on a masked target")
    assert re.search(r"kmsg: tcmu-scstd: .*initiators/mgmt: write failed with EEXIST: "
                     r"initiator 'iqn.2024-01.init:member' is already in g2", text), text


def test_the_warning_is_logged(output: str) -> None:
    log = output.split("--- daemon log", 1)[1]
    assert re.search(r"WARNING.*access_mode acl-only: initiators in no group are refused", log)
