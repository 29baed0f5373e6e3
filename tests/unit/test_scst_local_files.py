"""scst_local's directories have SCST's files: its targets no ``enabled`` (the driver has no
enable switch, scst_sysfs.md 2.4 and 5.8), so neither writer saves one; a file that still
says ``enabled`` for such a target (one saved by an older version) is applied with a
warning instead of a failed write."""

from __future__ import annotations

from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.config.apply import Applier
from tcmu_scst.config.in_process import InProcessAccess
from tcmu_scst.config.running import read_running
from tcmu_scst.config.scst_conf import format_config, parse
from tcmu_scst.config.sysfs import ScstSysfs
from tcmu_scst.testing.recording_realizer import RecordingRealizer

OLD_SAVE = """
HANDLER vdisk_nullio {
	DEVICE n0
}
TARGET_DRIVER scst_local {
	TARGET local1 {
		enabled 0
		session_name s1
		LUN 0 n0
	}
}
"""


def test_an_scst_local_target_has_no_enabled_file() -> None:
    system = ScstSystem(RecordingRealizer())
    system.tree.write("/targets/scst_local/mgmt", "add_target local1 session_name=s1")
    assert system.tree.listdir("/targets/scst_local") == ["local1", "mgmt"]
    assert system.tree.listdir("/targets/scst_local/local1") == [
        "access_mode", "ini_groups", "luns", "rel_tgt_id", "sessions"]
    text = format_config(read_running(ScstSysfs("/", access=InProcessAccess(system.tree)))[0])
    local = text[text.index("TARGET_DRIVER scst_local {"):]
    assert "enabled" not in local  # (iscsi's driver switch is saved, off, as SCST's tool does)


def test_a_file_with_enabled_for_it_still_applies() -> None:
    sysfs = ScstSysfs("/", access=InProcessAccess(ScstSystem(RecordingRealizer()).tree))
    applier = Applier(sysfs)
    applier.apply(parse(OLD_SAVE))
    assert "targets/scst_local/local1/enabled" not in [write.path for write in applier.writes]
    assert applier.warnings == ["targets/scst_local/local1 has no enabled switch (its driver "
                                "has none); enabled 0 ignored"]
    assert sysfs.subdirectories("targets/scst_local/local1/sessions") == ["s1"]
    again = Applier(sysfs)
    assert again.apply(parse(OLD_SAVE)) == 0
