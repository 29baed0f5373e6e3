"""The hotplug configuration file, the auto-export rules' matching and naming, and what
makes an event's disk "the same disk"."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.daemon.main import hotplug_watcher, parse_arguments
from tcmu_scst.testing.recording_realizer import RecordingRealizer
from tcmu_scst.udev.events import DiskEvent
from tcmu_scst.udev.ownership import is_own_export
from tcmu_scst.udev.policy import load_config, parse_config

CONFIG = """
debounce_seconds = 0.25
[[auto_export]]
match = { ID_BUS = "scsi", ID_SERIAL = "35000c5*" }
driver = "iscsi"
target = "iqn.2024-01.test:hp"
group = "hosts"
name = "hp_{ID_SERIAL_SHORT}_{kernel}"
params = "blocksize=4096"

[[auto_export]]
match = { ID_BUS = "ata" }
driver = "scst_local"
target = "local"
"""


def disk(**properties: str) -> DiskEvent:
    return DiskEvent("add", "sdb", "/dev/sdb", properties, 1 << 20)


def test_config_file_rules_match_in_order_and_name_devices(tmp_path: Path) -> None:
    path = tmp_path / "hotplug.toml"
    path.write_text(CONFIG)
    config = load_config(path)
    assert config.quiet == 0.25 and config.patience == 5.0
    scsi = disk(ID_BUS="scsi", ID_SERIAL="35000c500a1", ID_SERIAL_SHORT="5000 c5/00")
    rule = config.rule_for(scsi)
    assert rule is not None and rule.target == "iqn.2024-01.test:hp"
    assert rule.luns_path == "/targets/iscsi/iqn.2024-01.test:hp/ini_groups/hosts/luns"
    assert rule.device_name(scsi) == "hp_5000_c5_00_sdb"  # blanks and slashes made safe
    ata = config.rule_for(disk(ID_BUS="ata", ID_SERIAL="WDC_123"))
    assert ata is not None and ata.device_name(disk(ID_SERIAL="WDC_123")) == "hp_WDC_123"
    assert ata.luns_path == "/targets/scst_local/local/luns"
    assert config.rule_for(disk(ID_BUS="scsi", ID_SERIAL="2ABC")) is None
    assert config.rule_for(disk(ID_BUS="usb")) is None


@pytest.mark.parametrize("text, complaint", [
    ("[[auto_export]]\nmatch = {}\ndriver = 'iscsi'\ntarget = 't'", "at least one"),
    ("[[auto_export]]\nmatch = {ID_BUS = 'scsi'}\ntarget = 't'", "driver is required"),
    ("[[auto_export]]\nmatch = {ID_BUS = 'scsi'}\ndriver = 'x'\ntarget = 't'\nlun = 3",
     "unknown keys lun"),
    ("debounce = 1", "unknown settings"),
    ("debounce_seconds = -1", "seconds"),
    ("auto_export = 3", "list of tables"),
])
def test_config_mistakes_are_refused_with_a_reason(tmp_path: Path, text: str,
                                                  complaint: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(OSError) as error:
        load_config(path)
    assert error.value.errno == errno.EINVAL and complaint in str(error.value)


def test_no_config_exports_nothing() -> None:
    assert parse_config({}).rule_for(disk(ID_BUS="scsi")) is None


def test_a_disk_is_keyed_by_wwn_then_serial_then_node() -> None:
    assert disk(ID_WWN="0x5000", ID_SERIAL="S").key == "wwn:0x5000"
    assert disk(ID_WWN="0x5000", ID_WWN_WITH_EXTENSION="0x5000ab").key == "wwn:0x5000ab"
    assert disk(ID_SERIAL="S").key == "serial:S"
    assert disk().key == "node:/dev/sdb"


def test_stable_paths_prefer_wwn_links() -> None:
    event = DiskEvent("add", "sdb", "/dev/sdb", {}, 1, links=(
        "/dev/disk/by-path/pci-0000:00:01.0-scsi-0:0:0:0", "/dev/disk/by-id/scsi-35000",
        "/dev/disk/by-id/wwn-0x5000"))
    assert event.stable_path() == "/dev/disk/by-id/wwn-0x5000"
    assert DiskEvent("add", "loop0", "/dev/loop0").stable_path() == "/dev/loop0"


def test_own_exports_by_vendor_mark_ancestry_and_serial() -> None:
    assert is_own_export(disk(ID_VENDOR="LIO-ORG"))
    assert is_own_export(disk(ID_VENDOR="SCST_BIO"))
    assert is_own_export(disk(ID_VENDOR="ACME_CO"), vendors=["ACME CO"])
    assert is_own_export(disk(TCMU_SCST_OWN="1"))
    assert is_own_export(disk(ID_SCSI_SERIAL="6c3b2a1f"), serials=["6c3b2a1f"])
    assert is_own_export(DiskEvent("add", "sdc", under_tcm_loop=True))
    assert not is_own_export(disk(ID_VENDOR="ATA", ID_SCSI_SERIAL="X"), ["ACME"], ["Y"])


def test_the_daemon_makes_a_watcher_unless_told_not_to(tmp_path: Path) -> None:
    system = ScstSystem(RecordingRealizer())
    assert hotplug_watcher(system, parse_arguments(["--no-hotplug"])) is None
    bad = tmp_path / "bad.toml"
    bad.write_text("[[auto_export]]\nmatch = {}\n")
    with pytest.raises(OSError):
        hotplug_watcher(system, parse_arguments(["--hotplug-config", str(bad)]))
    good = tmp_path / "good.toml"
    good.write_text(CONFIG)
    watcher = hotplug_watcher(system, parse_arguments(["--hotplug-config", str(good)]))
    assert watcher is not None and len(watcher.config.rules) == 2
    assert watcher.follower.device_added in system.devices.after_add
    watcher.stop()  # never started: stopping is still clean
