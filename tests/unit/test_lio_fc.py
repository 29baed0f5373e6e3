"""tcm_fc targets on the emulated kernel, and the local FC port WWPNs from sysfs."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from tcmu_scst.lio import (
    FcPort,
    FcTarget,
    MappedLun,
    colon_wwpn,
    create_user_backstore,
    local_port_wwpns,
    local_ports,
)
from tcmu_scst.lio.snapshot import snapshot
from tcmu_scst.testing.lio import EmulatedConfigfs, emulated_lio

WWPN = "20:00:00:19:99:a8:34:bc"
REMOTE = "21:00:00:19:99:a8:34:bd"


@pytest.fixture
def fs() -> EmulatedConfigfs:
    return emulated_lio()


@pytest.mark.parametrize("text", ["20:00:00:19:99:a8:34:bc", "0x2000001999a834bc\n",
                                  "naa.2000001999A834BC", "20:00:00:19:99:A8:34:BC"])
def test_wwpn_forms_become_the_colon_form(text: str) -> None:
    assert colon_wwpn(text) == WWPN


@pytest.mark.parametrize("text", ["2000001999a834b", "20:00:00:19:99:a8:34", "wwpn"])
def test_malformed_wwpns_are_refused(text: str) -> None:
    with pytest.raises(OSError) as failure:
        colon_wwpn(text)
    assert failure.value.errno == errno.EINVAL


def test_local_ports_come_from_fc_host(tmp_path: Path) -> None:
    assert local_port_wwpns(tmp_path) == []
    for host, name in (("host3", "0x2000001999a834bd"), ("host2", "0x2000001999a834bc")):
        (tmp_path / "class" / "fc_host" / host).mkdir(parents=True)
        (tmp_path / "class" / "fc_host" / host / "port_name").write_text(name + "\n")
    (tmp_path / "class" / "fc_host" / "host4").mkdir()  # no port_name: skipped
    assert local_port_wwpns(tmp_path) == [WWPN, "20:00:00:19:99:a8:34:bd"]
    assert local_ports(tmp_path) == [FcPort("host2", WWPN),
                                     FcPort("host3", "20:00:00:19:99:a8:34:bd")]


def test_target_with_luns_and_explicit_acls(fs: EmulatedConfigfs) -> None:
    disk = create_user_backstore("d0", 1, "vdisk_fileio", "d0", 1 << 20, configfs=fs)
    target = FcTarget("0x2000001999a834bc", fs)
    assert target.wwpn == WWPN
    target.create()
    target.add_lun(0, disk)
    target.add_acl(REMOTE, {0: MappedLun(0, read_only=True)}, tag="hosts")
    assert target.mapped_luns(REMOTE) == {0: MappedLun(0, True)}
    assert fs.read(f"{target.acl_path(REMOTE)}/port_name") == f"{REMOTE}\n"
    target.remove()
    assert fs.subdirs("target/fc") == ["discovery_auth"]


def test_initiators_must_be_written_in_the_kernels_form(fs: EmulatedConfigfs) -> None:
    target = FcTarget(WWPN, fs)
    target.create()
    before = snapshot(fs)
    with pytest.raises(OSError) as failure:
        target.add_acl("21:00:00:19:99:A8:34:BD")
    assert REMOTE in str(failure.value)
    assert snapshot(fs) == before


def test_fc_needs_its_module(fs: EmulatedConfigfs) -> None:
    fs_without = emulated_lio(fabrics=("iscsi", "loopback"))
    with pytest.raises(OSError) as failure:
        FcTarget(WWPN, fs_without).create()
    assert failure.value.errno == errno.EINVAL
