"""A device in an SCST device group, realised in (emulated) LIO: one port ring per target
that exports it, the state on each port ring's LIO group, the worker told its rings and
view, and every step undone when one fails."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from tcmu_scst.compat_sysfs.realizer import AluaLayout, AluaPort, AluaTargetGroup
from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.daemon.lio_realizer import LioRealizer
from tcmu_scst.dataplane.spec import PortRing
from tcmu_scst.handlers.alua import ALUA_ATTRIBUTE, AluaView
from tcmu_scst.lio.snapshot import snapshot
from tcmu_scst.testing.lio import EmulatedConfigfs, emulated_lio
from tests.unit.test_daemon_realizer import FakeSupervisor

IQN_A = "iqn.2026-12.test:a"
IQN_B = "iqn.2026-12.test:b"


class PortSupervisor(FakeSupervisor):
    """Also records the port rings and run-time state each worker is given."""

    def __init__(self) -> None:
        super().__init__()
        self.ports: dict[str, tuple[PortRing, ...]] = {}
        self.state: dict[tuple[str, str], str] = {}
        self.refuse_ports: OSError | None = None

    def set_ports(self, device: str, ports: tuple[PortRing, ...]) -> None:
        if self.refuse_ports is not None:
            raise self.refuse_ports
        self.ports[device] = ports

    def set_state(self, device: str, name: str, value: str) -> None:
        self.state[(device, name)] = value


@pytest.fixture
def fs() -> EmulatedConfigfs:
    return emulated_lio()


@pytest.fixture
def supervisor() -> PortSupervisor:
    return PortSupervisor()


@pytest.fixture
def realizer(fs: EmulatedConfigfs, supervisor: PortSupervisor) -> LioRealizer:
    return LioRealizer(configfs=fs, supervisor=supervisor)  # type: ignore[arg-type]


@pytest.fixture
def scst(realizer: LioRealizer, tmp_path: Path) -> ScstSystem:
    """disk1 exported at LUN 0 by two iSCSI targets; target b also has a group mapping."""
    system = ScstSystem(realizer)
    tree = system.tree
    tree.write("/handlers/vdisk_nullio/mgmt", "add_device disk1 size_mb=8")
    for iqn in (IQN_A, IQN_B):
        tree.write("/targets/iscsi/mgmt", f"add_target {iqn}")
        tree.write(f"/targets/iscsi/{iqn}/luns/mgmt", "add disk1 0")
    tree.write(f"/targets/iscsi/{IQN_B}/ini_groups/mgmt", "create hosts")
    tree.write(f"/targets/iscsi/{IQN_B}/ini_groups/hosts/initiators/mgmt",
               "add iqn.1994-05.com.example:host1")
    tree.write(f"/targets/iscsi/{IQN_B}/ini_groups/hosts/luns/mgmt", "add disk1 3")
    return system


def layout(a_state: str = "active", b_state: str = "standby") -> AluaLayout:
    return AluaLayout("dg", (
        AluaTargetGroup("tg_a", 1, a_state, True, (AluaPort(IQN_A, 1, "iscsi"),)),
        AluaTargetGroup("tg_b", 2, b_state, False, (AluaPort(IQN_B, 2, "iscsi"),
                                                   AluaPort("iqn.remote:c", 9))),
    ))


def lun_link(fs: EmulatedConfigfs, iqn: str, lun: int) -> str:
    lun_dir = f"target/iscsi/{iqn}/tpgt_1/lun/lun_{lun}"
    [link] = [name for name in fs.listdir(lun_dir) if fs.is_link(f"{lun_dir}/{name}")]
    return fs.readlink(f"{lun_dir}/{link}").name


def kernel_state(fs: EmulatedConfigfs, hba: int, name: str) -> tuple[str, str, str]:
    group = f"target/core/user_{hba}/{name}/alua/default_tg_pt_gp"
    return (fs.read(f"{group}/alua_access_state").strip(), fs.read(f"{group}/preferred").strip(),
            fs.read(f"target/core/user_{hba}/{name}/attrib/emulate_pr").strip())


def test_each_target_gets_a_port_ring_with_its_groups_state(
        scst: ScstSystem, realizer: LioRealizer, fs: EmulatedConfigfs,
        supervisor: PortSupervisor) -> None:
    hba = realizer.devices["disk1"].spec.hba
    assert lun_link(fs, IQN_A, 0) == lun_link(fs, IQN_B, 0) == "disk1"
    realizer.set_alua("disk1", layout())
    # the worker knew the view before the first port ring was linked
    view = AluaView.from_json(supervisor.state[("disk1", ALUA_ATTRIBUTE)])
    assert [(group.group_id, group.state, group.relative_ids) for group in view.groups] == \
        [(1, "active", (1,)), (2, "standby", (2, 9))]
    link_a, link_b = lun_link(fs, IQN_A, 0), lun_link(fs, IQN_B, 0)
    assert {link_a, link_b} == {"disk1@p1", "disk1@p2"}
    assert kernel_state(fs, hba, link_a) == ("0", "1", "0")  # active, preferred, PR refused
    assert kernel_state(fs, hba, link_b) == ("2", "0", "0")  # standby
    rings = {ring.name: ring for ring in supervisor.ports["disk1"]}
    assert (rings[link_a].relative_id, rings[link_b].relative_id) == (1, 2)
    assert {ring.protocol for ring in rings.values()} == {5}
    # the group's mapping of the relinked TPG LUN was made again on the new link
    acl_lun = f"target/iscsi/{IQN_B}/tpgt_1/acls/iqn.1994-05.com.example:host1/lun_3"
    [mapping] = [name for name in fs.listdir(acl_lun) if fs.is_link(f"{acl_lun}/{name}")]
    assert fs.readlink(f"{acl_lun}/{mapping}").name == "lun_0"


def test_a_state_change_moves_only_the_kernel_states(
        scst: ScstSystem, realizer: LioRealizer, fs: EmulatedConfigfs,
        supervisor: PortSupervisor) -> None:
    hba = realizer.devices["disk1"].spec.hba
    realizer.set_alua("disk1", layout())
    before = supervisor.ports["disk1"]
    link_a, link_b = lun_link(fs, IQN_A, 0), lun_link(fs, IQN_B, 0)
    realizer.set_alua("disk1", layout(a_state="standby", b_state="active"))
    assert (lun_link(fs, IQN_A, 0), lun_link(fs, IQN_B, 0)) == (link_a, link_b)
    assert kernel_state(fs, hba, link_a)[0] == "2"
    assert kernel_state(fs, hba, link_b)[0] == "0"
    assert supervisor.ports["disk1"] == before
    states = [group[1] for group in json.loads(supervisor.state[("disk1", ALUA_ATTRIBUTE)])]
    assert states == ["standby", "active"]


def test_offline_is_enforced_as_unavailable(scst: ScstSystem, realizer: LioRealizer,
                                            fs: EmulatedConfigfs) -> None:
    """LIO's offline state fails INQUIRY too; SCST's offline lets the initiator ask."""
    realizer.set_alua("disk1", layout(b_state="offline"))
    assert kernel_state(fs, realizer.devices["disk1"].spec.hba, lun_link(fs, IQN_B, 0))[0] == "3"


def test_leaving_the_group_puts_the_luns_back(scst: ScstSystem, realizer: LioRealizer,
                                              fs: EmulatedConfigfs,
                                              supervisor: PortSupervisor) -> None:
    before = snapshot(fs)
    realizer.set_alua("disk1", layout())
    realizer.set_alua("disk1", None)
    assert snapshot(fs) == before
    assert supervisor.ports["disk1"] == ()
    assert supervisor.state[("disk1", ALUA_ATTRIBUTE)] == ""


def test_luns_added_and_removed_later_follow(scst: ScstSystem, realizer: LioRealizer,
                                             fs: EmulatedConfigfs,
                                             supervisor: PortSupervisor) -> None:
    realizer.set_alua("disk1", layout())
    scst.tree.write(f"/targets/iscsi/{IQN_A}/luns/mgmt", "add disk1 5")
    assert lun_link(fs, IQN_A, 5) == lun_link(fs, IQN_A, 0)
    scst.tree.write("/targets/iscsi/mgmt", "add_target iqn.2026-12.test:c")
    scst.tree.write("/targets/iscsi/iqn.2026-12.test:c/luns/mgmt", "add disk1 0")
    third = lun_link(fs, "iqn.2026-12.test:c", 0)
    assert third == "disk1@p3"
    # a target in no target group: active, and no relative port id to report
    assert kernel_state(fs, realizer.devices["disk1"].spec.hba, third)[0] == "0"
    assert {ring.name: ring.relative_id for ring in supervisor.ports["disk1"]}[third] == 0
    scst.tree.write("/targets/iscsi/iqn.2026-12.test:c/luns/mgmt", "del 0")
    assert third not in {ring.name for ring in supervisor.ports["disk1"]}
    assert not fs.exists(f"target/core/user_{realizer.devices['disk1'].spec.hba}/{third}")


def test_a_worker_that_cannot_open_the_rings_changes_nothing(
        scst: ScstSystem, realizer: LioRealizer, fs: EmulatedConfigfs,
        supervisor: PortSupervisor) -> None:
    before = snapshot(fs)
    supervisor.refuse_ports = OSError(errno.EIO, "the ring would not open")
    with pytest.raises(OSError) as refused:
        realizer.set_alua("disk1", layout())
    assert refused.value.errno == errno.EIO
    assert snapshot(fs) == before
    assert realizer.devices["disk1"].alua is None
    assert not realizer.devices["disk1"].ports


def test_deleting_a_device_of_a_group_removes_its_port_rings(
        scst: ScstSystem, realizer: LioRealizer, fs: EmulatedConfigfs) -> None:
    realizer.set_alua("disk1", layout())
    hba = realizer.devices["disk1"].spec.hba
    for iqn in (IQN_A, IQN_B):
        scst.tree.write("/targets/iscsi/mgmt", f"del_target {iqn}")
    assert not any(name.startswith("disk1@") for name in fs.listdir(f"target/core/user_{hba}"))
    realizer.set_alua("disk1", layout())  # no exporting target: nothing to lay out
    scst.tree.write("/handlers/vdisk_nullio/mgmt", "del_device disk1")
    assert not fs.exists(f"target/core/user_{hba}")
