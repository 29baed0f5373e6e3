"""-config removes nothing without -force: whatever the tree has and the file lacks (a
dynamic attribute's instance, a LUN, a group, an initiator, a session, a device, a target)
is only a warning then, and a changed CHAP secret (which needs the old account removed) as
well; with -force each goes.  The tree is reached in-process: no mount needed."""

from __future__ import annotations

import pytest

from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.config.apply import Applier
from tcmu_scst.config.in_process import InProcessAccess
from tcmu_scst.config.running import read_running
from tcmu_scst.config.scst_conf import parse
from tcmu_scst.config.sysfs import ScstSysfs
from tcmu_scst.testing.recording_realizer import RecordingRealizer

IQN = "iqn.2024-05.org.example:removals"
FULL = f"""
HANDLER vdisk_nullio {{
	DEVICE n0
	DEVICE n1
	DEVICE spare
}}
TARGET_DRIVER iscsi {{
	IncomingUser "discover 12charsecret"
	OutgoingUser "answer 12charsecret"
	enabled 1
	TARGET {IQN} {{
		IncomingUser "joe 12charsecret"
		OutgoingUser "target 12charsecret"
		enabled 1
		LUN 0 n0
		LUN 1 n1
		GROUP hosts {{
			LUN 0 n0
			LUN 1 n1
			INITIATOR iqn.i:host1
			INITIATOR iqn.i:host2
		}}
		GROUP other {{
			LUN 0 n0
		}}
	}}
	TARGET iqn.2024-05.org.example:unlisted {{
		enabled 0
	}}
}}
TARGET_DRIVER scst_local {{
	TARGET local1 {{
		session_name s1
		session_name s2
		LUN 0 n0
	}}
}}
"""
# every kind of object missing once, and joe's secret changed
SMALLER = f"""
HANDLER vdisk_nullio {{
	DEVICE n0
	DEVICE n1
}}
TARGET_DRIVER iscsi {{
	enabled 1
	TARGET {IQN} {{
		IncomingUser "joe another12secret"
		enabled 1
		LUN 0 n0
		GROUP hosts {{
			LUN 0 n0
			INITIATOR iqn.i:host1
		}}
	}}
}}
TARGET_DRIVER scst_local {{
	TARGET local1 {{
		session_name s1
		LUN 0 n0
	}}
}}
"""
@pytest.fixture
def sysfs() -> ScstSysfs:
    system = ScstSystem(RecordingRealizer())
    tree = ScstSysfs("/", access=InProcessAccess(system.tree))
    Applier(tree).apply(parse(FULL))
    return tree


def test_without_force_nothing_is_removed_and_each_removal_is_a_warning(
        sysfs: ScstSysfs) -> None:
    before = read_running(sysfs)[0]
    applier = Applier(sysfs)
    applier.apply(parse(SMALLER))
    assert applier.writes == [], applier.writes
    assert read_running(sysfs)[0] == before
    joined = "\n".join(applier.warnings)
    for what in ["IncomingUser discover", "OutgoingUser answer", "IncomingUser joe",
                 "OutgoingUser target", f"{IQN}/luns/1 ", "hosts/luns/1 ", "group other",
                 "initiator iqn.i:host2", "session s2", "device spare",
                 "target iscsi/iqn.2024-05.org.example:unlisted"]:
        assert what in joined, (what, applier.warnings)
    assert all("-force" in warning for warning in applier.warnings), applier.warnings
    assert "12charsecret" not in joined and "another12secret" not in joined  # no secrets


def test_with_force_every_removal_is_made(sysfs: ScstSysfs) -> None:
    applier = Applier(sysfs, force=True)
    applier.apply(parse(SMALLER))
    texts = [write.text for write in applier.writes]
    assert f"del_target_attribute {IQN} IncomingUser joe 12charsecret" in texts
    assert f"add_target_attribute {IQN} IncomingUser joe another12secret" in texts
    assert texts.index(f"del_target_attribute {IQN} IncomingUser joe 12charsecret") < (
        texts.index(f"add_target_attribute {IQN} IncomingUser joe another12secret"))
    running = read_running(sysfs)[0]
    wanted = parse(SMALLER)
    assert running.handlers == wanted.handlers
    for name, driver in wanted.drivers.items():
        assert running.drivers[name].attributes == driver.attributes
        assert set(running.drivers[name].targets) == set(driver.targets)
        for target_name, target in driver.targets.items():
            live = running.drivers[name].targets[target_name]
            assert live.attributes.without("rel_tgt_id") == target.attributes
            assert (live.luns, live.groups) == (target.luns, target.groups)
    assert Applier(sysfs, force=True).apply(parse(SMALLER)) == 0
