"""A vdisk_nullio device's size is configuration: ``size`` carries ``[key]`` when it is not
SCST's default (2.5 TiB), and it is a creation parameter, so -write_config saves it and
-config creates the device with it.  The round trip through the tools and the daemon's own
save and restore give the size it had, however it was given (``size`` or ``size_mb``)."""

from __future__ import annotations

from pathlib import Path

from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.config import cli
from tcmu_scst.config.in_process import InProcessAccess
from tcmu_scst.config.running import read_running
from tcmu_scst.config.sysfs import ScstSysfs
from tcmu_scst.daemon.persistence import Persistence
from tcmu_scst.testing.recording_realizer import RecordingRealizer

from .scst_mount import MountedScst

DEFAULT = "2748779069440"
SIXTEEN_MIB = str(16 << 20)


def test_a_size_other_than_the_default_is_a_key() -> None:
    system = ScstSystem(RecordingRealizer())
    system.tree.write("/handlers/vdisk_nullio/mgmt", "add_device n16 size_mb=16")
    system.tree.write("/handlers/vdisk_nullio/mgmt", "add_device n8 size=8388608")
    system.tree.write("/handlers/vdisk_nullio/mgmt", "add_device big")
    system.tree.write("/handlers/vdisk_nullio/mgmt", f"add_device same size={DEFAULT}")
    assert system.tree.read("/devices/n16/size") == f"{SIXTEEN_MIB}\n[key]\n"
    assert system.tree.read("/devices/n16/size_mb") == "16\n"  # never a key: size is saved
    assert system.tree.read("/devices/n8/size") == "8388608\n[key]\n"
    assert system.tree.read("/devices/big/size") == f"{DEFAULT}\n"
    assert system.tree.read("/devices/same/size") == f"{DEFAULT}\n"
    devices = read_running(ScstSysfs("/", access=InProcessAccess(system.tree)))[0].handlers[
        "vdisk_nullio"].devices
    assert devices["n16"].attributes.get("size") == SIXTEEN_MIB
    assert "size" not in devices["big"].attributes.names()


def test_write_config_clear_config_config_keeps_the_size(tree: MountedScst,
                                                         tmp_path: Path) -> None:
    sysfs = ScstSysfs(tree.root)
    sysfs.write("handlers/vdisk_nullio/mgmt", "add_device n16 size_mb=16")
    root = ["--root", str(tree.root)]
    saved = tmp_path / "saved.conf"
    assert cli.main(["-write_config", str(saved), *root]) == 0
    assert f"size {SIXTEEN_MIB}" in saved.read_text()
    assert cli.main(["-clear_config", "-force", "-noprompt", *root]) == 0
    assert not sysfs.exists("devices/n16")
    assert cli.main(["-config", str(saved), *root]) == 0
    assert sysfs.attribute("devices/n16/size").value == SIXTEEN_MIB
    assert cli.main(["-config", str(saved), *root]) == 0


def test_the_daemon_restores_the_size_it_saved(tmp_path: Path) -> None:
    first = ScstSystem(RecordingRealizer())
    saved = tmp_path / "scst.conf"
    first.tree.write("/handlers/vdisk_nullio/mgmt", "add_device n16 size_mb=16")
    Persistence(first.tree, str(saved)).save()
    restarted = ScstSystem(RecordingRealizer())
    assert Persistence(restarted.tree, str(saved)).restore()
    assert restarted.tree.read("/devices/n16/size") == f"{SIXTEEN_MIB}\n[key]\n"
