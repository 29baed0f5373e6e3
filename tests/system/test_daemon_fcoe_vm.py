"""tcmu-scstd over FCoE on the real kernel: two software FCoE ports in VN2VN mode on a veth
pair; ``targets/fcst/<wwpn>`` appears for both local ports; a LUN and an initiator group
configured through the tree on one port are served to the other port's Linux initiator,
whose /dev/sdX reads back what was written through it, byte for byte, from our device.
"""

from __future__ import annotations

from tcmu_scst.vm import guest_library
from tcmu_scst.vm.pytest_plugin import GuestRunner

SCRIPT = r"""
S=/run/scst_tgt
ip link add veth0 type veth peer name veth1
ip link set veth0 mtu 2500 up
ip link set veth1 mtu 2500 up
echo veth0 > /sys/bus/fcoe/ctlr_create
echo veth1 > /sys/bus/fcoe/ctlr_create
for ctlr in /sys/bus/fcoe/devices/ctlr_*; do echo vn2vn > $ctlr/mode; done
wwpn() {  # wwpn CTLR: the port name of the ctlr's FC host, as fcst names targets
    cat /sys/bus/fcoe/devices/$1/host*/fc_host/host*/port_name | sed 's/^0x//; s/../&:/g; s/:$//'
}
target_port=$(wwpn ctlr_0)
initiator_port=$(wwpn ctlr_1)
echo "ports: target=$target_port initiator=$initiator_port"

"$TCMU_VM_PYTHON" -m tcmu_scst.daemon.main --mountpoint $S > /tmp/daemon.log 2>&1 &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon; cat /tmp/daemon.log' EXIT
wait_for test -e $S/version
echo "fcst targets: $(ls $S/targets/fcst | tr '\n' ' ')"
truncate -s 32M /tmp/fc.img
echo "add_device fcdisk filename=/tmp/fc.img" > $S/handlers/vdisk_fileio/mgmt
T=$S/targets/fcst/$target_port
echo "create fchosts" > $T/ini_groups/mgmt
echo "add $initiator_port" > $T/ini_groups/fchosts/initiators/mgmt
echo "add fcdisk 0" > $T/ini_groups/fchosts/luns/mgmt
echo 1 > $T/enabled

echo 1 > /sys/bus/fcoe/devices/ctlr_0/enabled
sleep 1
echo 1 > /sys/bus/fcoe/devices/ctlr_1/enabled
find_disk() {
    for d in /sys/block/sd*; do
        [ "$(cat $d/device/model 2>/dev/null | tr -d ' ')" = fcdisk ] && basename $d
    done | head -1
}
disk_present() { test -n "$(find_disk)"; }
wait_for disk_present
dev=/dev/$(find_disk)
sg_inq $dev | grep -E "Vendor identification|Product identification"
head -c 4M /dev/urandom > /tmp/payload
dd if=/tmp/payload of=$dev bs=1M oflag=direct status=none
sync
echo 1 > /sys/block/$(basename $dev)/device/delete
echo 0 > /sys/bus/fcoe/devices/ctlr_1/enabled
cmp -n $((4 << 20)) /tmp/payload /tmp/fc.img && echo "backing file holds what the FC initiator wrote"
"""


def test_fcoe_port_served_through_the_tree(vm: GuestRunner) -> None:
    output = vm.check(guest_library() + SCRIPT, timeout=900).output
    ports = next(line for line in output.splitlines() if line.startswith("ports: "))
    target_port = ports.split("target=")[1].split()[0]
    initiator_port = ports.split("initiator=")[1].split()[0]
    listed = next(line for line in output.splitlines() if line.startswith("fcst targets: "))
    assert target_port in listed and initiator_port in listed
    assert "Vendor identification: SCST_FIO" in output
    assert "Product identification: fcdisk" in output
    assert "backing file holds what the FC initiator wrote" in output
