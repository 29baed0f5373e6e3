"""An scst_local target's sessions from scst.conf: every ``session_name`` line becomes a
session, when the target is new as when it exists (add_target takes one session; the rest
are add_session), so a target with two sessions survives -write_config / -config and the
daemon's save and restore."""

from __future__ import annotations

from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.config.apply import Applier
from tcmu_scst.config.in_process import InProcessAccess
from tcmu_scst.config.running import read_running
from tcmu_scst.config.scst_conf import format_config, parse
from tcmu_scst.config.sysfs import ScstSysfs
from tcmu_scst.testing.recording_realizer import RecordingRealizer

TWO_SESSIONS = """
TARGET_DRIVER scst_local {
	TARGET local1 {
		session_name s1
		session_name s2
	}
}
"""


def in_process() -> ScstSysfs:
    return ScstSysfs("/", access=InProcessAccess(ScstSystem(RecordingRealizer()).tree))


def test_every_session_of_a_new_target_is_made() -> None:
    sysfs = in_process()
    applier = Applier(sysfs)
    applier.apply(parse(TWO_SESSIONS))
    assert [write.text for write in applier.writes] == [
        "add_target local1 session_name=s1;", "add_session local1 s2"]
    assert sysfs.subdirectories("targets/scst_local/local1/sessions") == ["s1", "s2"]
    assert Applier(sysfs).apply(parse(TWO_SESSIONS)) == 0

    saved = format_config(read_running(sysfs)[0])
    restored = in_process()
    Applier(restored).apply(parse(saved))
    assert restored.subdirectories("targets/scst_local/local1/sessions") == ["s1", "s2"]
