"""Each target driver object's declared facts against what the tree and LIO show.

The driver objects (``tcmu_scst.drivers``) are the one place that says what differs between
``iscsi``, ``scst_local``, ``fcst`` and ``copy_manager``; these tests read the tree and the
(emulated) configfs the daemon builds from them and check that each declared fact is what a
user sees: the verbs of a ``mgmt`` help text, the files of a new target, its defaults, the
LIO fabric and access mode of its TPG, the protocol of its port rings, and that the crash
clean-up finds every fabric's targets.
"""

from __future__ import annotations

import errno
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.daemon.lio_realizer import LioRealizer
from tcmu_scst.daemon.stale import clean_stale
from tcmu_scst.drivers import (
    COPY_MANAGER_DRIVER,
    DRIVERS,
    FCST_DRIVER,
    ISCSI_DRIVER,
    ISCSI_LAYOUT,
    LOCAL_DRIVER,
    TargetDriver,
    driver_of,
    lio_drivers,
)
from tcmu_scst.testing.lio import EmulatedConfigfs, emulated_lio
from tcmu_scst.testing.recording_realizer import RecordingRealizer
from tests.unit.test_alua_ports import PortSupervisor

WWPN = "20:00:00:19:99:a8:34:bc"
FC_INITIATOR = "21:00:00:24:ff:31:4c:01"
NAME = {"iscsi": "iqn.2026-01.test:drivers", "scst_local": "local1", "fcst": WWPN,
        "copy_manager": "copy_manager_tgt"}
ALL_VERBS = {verb for driver in DRIVERS.values() for verb in driver.verbs}
MGMT_DRIVERS = [driver for driver in DRIVERS.values() if driver.has_mgmt]


@pytest.fixture
def recorded() -> ScstSystem:
    realizer = RecordingRealizer()
    realizer.ports.append(WWPN)
    return ScstSystem(realizer)


@pytest.fixture
def fs() -> EmulatedConfigfs:
    return emulated_lio()


@pytest.fixture
def supervisor() -> PortSupervisor:
    return PortSupervisor()


@pytest.fixture
def realized(fs: EmulatedConfigfs, supervisor: PortSupervisor) -> ScstSystem:
    realizer = LioRealizer(configfs=fs, supervisor=supervisor)  # type: ignore[arg-type]
    realizer.fc_ports = lambda: [WWPN]  # type: ignore[method-assign]
    return ScstSystem(realizer)


def make_target(system: ScstSystem, driver: TargetDriver) -> str:
    """A new target of ``driver`` (an fcst port's is there already); its tree path."""
    if "add_target" in driver.verbs:
        system.tree.write(f"/targets/{driver.name}/mgmt", f"add_target {NAME[driver.name]}")
    return f"/targets/{driver.name}/{NAME[driver.name]}"


def loopback_wwns(fs: EmulatedConfigfs) -> list[str]:
    """The tcm_loop targets in configfs (every fabric also has its ``discovery_auth``)."""
    return [name for name in fs.subdirs("target/loopback") if name.startswith("naa.")]


def help_lists(text: str) -> dict[str, list[str]]:
    """The "The following X available: a, b" lines of a help text, by X."""
    return {match[1]: match[2].split(", ")
            for match in re.finditer(r"^The following (.+) available: (.+)$", text, re.M)}


# --- the registry -------------------------------------------------------------------------

def test_the_registry_is_what_targets_lists(recorded: ScstSystem) -> None:
    assert list(DRIVERS) == ["iscsi", "scst_local", "fcst", "copy_manager"]
    assert set(recorded.tree.listdir("/targets")) == set(DRIVERS)
    assert [driver.name for driver in lio_drivers()] == ["iscsi", "scst_local", "fcst"]
    assert COPY_MANAGER_DRIVER.lio is None
    assert driver_of("fcst") is FCST_DRIVER
    with pytest.raises(OSError) as caught:
        driver_of("qla2x00t")
    assert caught.value.errno == errno.EINVAL


def test_importing_the_drivers_loads_neither_the_tree_nor_a_fabric() -> None:
    """The config tool and the saveconfig export may read the driver objects: importing
    them must not load LIO's fabric modules, the tree or its help texts."""
    probe = ("import sys, tcmu_scst.drivers as d; d.ISCSI_LAYOUT.lio_keys; "
             "print(' '.join(sorted(m for m in sys.modules if m.startswith('tcmu_scst'))))")
    loaded = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                            text=True, cwd=Path(__file__).parents[2]).stdout.split()
    assert "tcmu_scst.drivers.iscsi" in loaded
    heavy = {"tcmu_scst.lio.iscsi", "tcmu_scst.lio.fc", "tcmu_scst.lio.loopback",
             "tcmu_scst.lio.tpg", "tcmu_scst.compat_sysfs.help_text",
             "tcmu_scst.compat_sysfs.targets", "tcmu_scst.handlers.declaration"}
    assert heavy.isdisjoint(loaded), heavy & set(loaded)


# --- grammar: mgmt help texts and verbs ---------------------------------------------------

@pytest.mark.parametrize("driver", MGMT_DRIVERS, ids=lambda driver: driver.name)
def test_the_help_text_lists_exactly_the_drivers_verbs(recorded: ScstSystem,
                                                       driver: TargetDriver) -> None:
    text = recorded.tree.read(f"/targets/{driver.name}/mgmt")
    verbs = tuple(re.findall(r'echo "(\S+)', text))
    assert verbs == driver.verbs
    lists = help_lists(text)
    assert lists.get("parameters", []) == list(driver.creation_parameters)
    assert lists.get("target driver attributes", []) == list(driver.driver_attributes)
    assert lists.get("target attributes", []) == list(driver.target_attributes)
    assert lists.get("access limits", []) == list(driver.access_limits)


@pytest.mark.parametrize("driver", MGMT_DRIVERS, ids=lambda driver: driver.name)
def test_every_declared_verb_is_taken_and_no_other(recorded: ScstSystem,
                                                   driver: TargetDriver) -> None:
    """A declared verb without its arguments is refused for that reason; a verb another
    driver has is an unknown action here."""
    mgmt = f"/targets/{driver.name}/mgmt"
    for verb in sorted(ALL_VERBS):
        with pytest.raises(OSError) as caught:
            recorded.tree.write(mgmt, verb)
        unknown = "Unknown action" in str(caught.value)
        assert unknown == (verb not in driver.verbs), (verb, caught.value)


@pytest.mark.parametrize("driver", [driver for driver in DRIVERS.values()
                                    if not driver.has_mgmt], ids=lambda driver: driver.name)
def test_a_driver_without_verbs_has_no_mgmt(recorded: ScstSystem,
                                            driver: TargetDriver) -> None:
    assert "mgmt" not in recorded.tree.listdir(f"/targets/{driver.name}")


def test_creation_parameters_are_the_drivers(recorded: ScstSystem) -> None:
    """iSCSI takes accounts and keys at add_target, scst_local its first session."""
    tree = recorded.tree
    target = NAME["iscsi"]
    tree.write("/targets/iscsi/mgmt", f"add_target {target} IncomingUser joe secretsecret12; "
                                      "MaxBurstLength 65536; Alias x")
    assert tree.read(f"/targets/iscsi/{target}/MaxBurstLength") == "65536\n[key]\n"
    assert tree.read(f"/targets/iscsi/{target}/IncomingUser") == "joe secretsecret12\n[key]\n"
    tree.write("/targets/scst_local/mgmt", f"add_target local1 "
                                           f"{LOCAL_DRIVER.session_parameter}=s1")
    assert tree.listdir("/targets/scst_local/local1/sessions") == ["s1"]
    with pytest.raises(OSError, match="Unknown parameter"):
        tree.write("/targets/scst_local/mgmt", "add_target local2 MaxBurstLength=1")
    with pytest.raises(OSError, match="Unknown parameter"):
        tree.write("/targets/iscsi/mgmt", "add_target iqn.2026-01.test:x session_name s")


# --- files and defaults --------------------------------------------------------------------

@pytest.mark.parametrize("driver", list(DRIVERS.values()), ids=lambda driver: driver.name)
def test_a_new_target_shows_the_drivers_files_at_their_defaults(
        recorded: ScstSystem, driver: TargetDriver) -> None:
    tree = recorded.tree
    path = make_target(recorded, driver)
    entries = set(tree.listdir(path))
    assert ("enabled" in entries) == driver.target_switch
    assert ("tid" in entries) == driver.target_id_file
    for key, declaration in driver.target_keys.items():
        assert tree.read(f"{path}/{key}") == f"{declaration.default}\n"  # no [key]
    other_keys = {key for other in DRIVERS.values() for key in other.target_keys}
    assert entries & other_keys == set(driver.target_keys)
    if driver.target_switch:
        assert tree.read(f"{path}/enabled") == "0\n"
    if driver.lio is not None:
        assert tree.read(f"{path}/access_mode") == f"{driver.lio.initial_plan.mode}\n"


@pytest.mark.parametrize("driver", list(lio_drivers()), ids=lambda driver: driver.name)
def test_a_group_has_the_drivers_knobs(recorded: ScstSystem, driver: TargetDriver) -> None:
    tree = recorded.tree
    path = make_target(recorded, driver)
    tree.write(f"{path}/ini_groups/mgmt", "create hosts")
    files = set(tree.listdir(f"{path}/ini_groups/hosts")) - {"initiators", "luns"}
    assert files == {knob.name for knob in driver.group_knobs}
    for knob in driver.group_knobs:
        assert tree.read(f"{path}/ini_groups/hosts/{knob.name}") == f"{knob.default()}\n"


@pytest.mark.parametrize("driver", list(lio_drivers()), ids=lambda driver: driver.name)
def test_the_driver_directory_has_the_drivers_own_files(recorded: ScstSystem,
                                                        driver: TargetDriver) -> None:
    tree = recorded.tree
    base = f"/targets/{driver.name}"
    entries = set(tree.listdir(base))
    assert ("enabled" in entries) == driver.driver_switch
    for file, text in driver.status_files.items():
        assert tree.read(f"{base}/{file}") == f"{text}\n"
    for knob in driver.driver_knobs:
        assert tree.read(f"{base}/{knob.name}") == f"{knob.default()}\n"
    if driver.port_targets:
        assert entries == {WWPN}  # the host's ports, nothing of its own


def test_a_driver_switch_gates_its_targets(recorded: ScstSystem) -> None:
    """A target is enabled in LIO once it and its driver (with a switch) are."""
    realizer = recorded.realizer
    assert isinstance(realizer, RecordingRealizer)
    for driver in (ISCSI_DRIVER, FCST_DRIVER):
        path = make_target(recorded, driver)
        recorded.tree.write(f"{path}/luns/mgmt", "clear")  # an fcst port is made real
        recorded.tree.write(f"{path}/enabled", "1")
    enabled = [arguments for operation, arguments in realizer.calls
               if operation == "enable_target"]
    assert enabled == [("fcst", WWPN, True)]  # iSCSI waits for targets/iscsi/enabled
    recorded.tree.write("/targets/iscsi/enabled", "1")
    assert realizer.calls[-1] == ("enable_target", ("iscsi", NAME["iscsi"], True))


def test_managed_sessions_are_the_ones_mgmt_makes(recorded: ScstSystem) -> None:
    assert [driver.name for driver in DRIVERS.values() if driver.managed_sessions] == \
        ["scst_local"]
    tree = recorded.tree
    path = make_target(recorded, LOCAL_DRIVER)
    tree.write("/targets/scst_local/mgmt", f"add_session {NAME['scst_local']} s1")
    assert tree.listdir(f"{path}/sessions") == ["s1"]
    tree.write(f"{path}/sessions/s1/force_close", "1")
    assert tree.listdir(f"{path}/sessions") == []


# --- the LIO side --------------------------------------------------------------------------

@pytest.mark.parametrize("driver", list(lio_drivers()), ids=lambda driver: driver.name)
def test_the_layout_agrees_with_its_lio_class(driver: TargetDriver) -> None:
    layout = driver.lio
    assert layout is not None
    assert layout.demo_capable == layout.tpg_type().supports_demo_mode
    assert layout.fabric == layout.tpg_type().fabric


@pytest.mark.parametrize("driver", list(lio_drivers()), ids=lambda driver: driver.name)
def test_a_new_target_in_lio(realized: ScstSystem, fs: EmulatedConfigfs,
                             driver: TargetDriver) -> None:
    """Its TPG under the fabric's directory (scst_local's with its session), with the
    layout's portal and keys; the access mode the layout plans for an empty target."""
    layout = driver.lio
    assert layout is not None
    tree = realized.tree
    path = make_target(realized, driver)
    tree.write(f"{path}/ini_groups/mgmt", "create hosts")  # an fcst port is made real
    if driver.managed_sessions:
        assert not fs.is_dir("target/loopback") or not loopback_wwns(fs)
        tree.write(f"/targets/{driver.name}/mgmt", f"add_session {NAME[driver.name]} s1")
        [wwn] = loopback_wwns(fs)
    else:
        wwn = NAME[driver.name]
    tpg = f"target/{layout.fabric}/{wwn}/tpgt_1"
    assert fs.is_dir(tpg)
    if driver is ISCSI_DRIVER:
        address, port = ISCSI_LAYOUT.portal
        assert fs.is_dir(f"{tpg}/np/{address}:{port}")
        for key, default in ISCSI_LAYOUT.lio_keys.items():
            assert fs.read(f"{tpg}/param/{key}").strip() == default
        assert fs.read(f"{tpg}/attrib/generate_node_acls").strip() == "1"
    assert tree.read(f"{path}/access_mode") == f"{layout.initial_plan.mode}\n"


def test_a_read_only_lun_in_the_default_set(realized: ScstSystem) -> None:
    """Taken only where the layout says it can be (scst_local); refused elsewhere."""
    tree = realized.tree
    tree.write("/handlers/vdisk_nullio/mgmt", "add_device n1 size_mb=8")
    for driver in lio_drivers():
        assert driver.lio is not None
        path = make_target(realized, driver)
        if driver.lio.default_set_read_only:
            tree.write(f"{path}/luns/mgmt", "add n1 0 read_only=1")
            assert tree.listdir(f"{path}/luns") == ["0", "mgmt"]
        else:
            with pytest.raises(OSError, match="read_only LUNs in a target's default"):
                tree.write(f"{path}/luns/mgmt", "add n1 0 read_only=1")


def test_port_rings_report_each_layouts_protocol(realized: ScstSystem,
                                                 supervisor: PortSupervisor) -> None:
    tree = realized.tree
    tree.write("/handlers/vdisk_nullio/mgmt", "add_device n1 size_mb=8")
    tree.write("/device_groups/mgmt", "create dg")
    tree.write("/device_groups/dg/devices/mgmt", "add n1")
    for driver in lio_drivers():
        path = make_target(realized, driver)
        if driver.managed_sessions:
            tree.write(f"/targets/{driver.name}/mgmt", f"add_session {NAME[driver.name]} s1")
        tree.write(f"{path}/ini_groups/mgmt", "create hosts")
        tree.write(f"{path}/ini_groups/hosts/initiators/mgmt",
                   f"add {FC_INITIATOR if driver.port_targets else 's1'}")
        tree.write(f"{path}/ini_groups/hosts/luns/mgmt", "add n1 0")
    protocols = sorted(ring.protocol for ring in supervisor.ports["n1"])
    assert protocols == sorted(driver.lio.protocol for driver in lio_drivers()
                               if driver.lio is not None)


def test_the_crash_clean_up_finds_every_fabrics_targets(realized: ScstSystem,
                                                        fs: EmulatedConfigfs) -> None:
    """A killed daemon's targets of every driver are removed by name."""
    tree = realized.tree
    for driver in lio_drivers():
        path = make_target(realized, driver)
        tree.write(f"{path}/ini_groups/mgmt", "create hosts")
    tree.write("/targets/scst_local/mgmt", f"add_session {NAME['scst_local']} s1")
    [loopback_wwn] = loopback_wwns(fs)
    names = {NAME["iscsi"], WWPN, loopback_wwn}
    removed = clean_stale(fs, 100, names)  # type: ignore[arg-type]
    assert sorted(removed) == sorted([f"iscsi/{NAME['iscsi']}", f"fc/{WWPN}",
                                      f"loopback/{loopback_wwn}"])
    for driver in lio_drivers():
        assert driver.lio is not None
        assert driver.lio.tpgs_in(fs) == []
