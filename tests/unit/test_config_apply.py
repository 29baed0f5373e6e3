"""The config tool on our tree mounted with the kernel's FUSE: -config applies only the
differences, -write_config / -clear_config / -config round-trips file by file, malformed or
inapplicable files change nothing, and the CLI's commands make the writes scstadmin makes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcmu_scst.config import cli
from tcmu_scst.config.apply import Applier, clear
from tcmu_scst.config.running import RunningTree, read_running
from tcmu_scst.config.scst_conf import ConfigError, format_config, parse, parse_file
from tcmu_scst.config.sysfs import ScstSysfs

from .scst_mount import MountedScst

DATA = Path(__file__).parent / "data"
CONFIGS = sorted((DATA / "scst_conf").glob("*.conf"))



@pytest.fixture
def loop_device(tmp_path: Path) -> Iterator[str]:
    """A loop block device over a file (vdisk_blockio needs a real block device)."""
    backing = tmp_path / "loop.img"
    backing.write_bytes(b"")
    os.truncate(backing, 8 << 20)
    try:
        device = subprocess.run(["losetup", "-f", "--show", str(backing)], check=True,
                                capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"no loop device: {error}")
    try:
        yield device
    finally:
        subprocess.run(["losetup", "-d", device], check=False)


def localized(path: Path, directory: Path, block_device: str | None) -> str:
    """The file's text with every backing file moved into ``directory`` (created there)."""
    config = parse_file(str(path))
    for handler in config.handlers.values():
        for device in handler.devices.values():
            items = device.attributes.items
            for index, (name, value) in enumerate(items):
                if name != "filename":
                    continue
                if handler.name == "vdisk_blockio":
                    if block_device is None:
                        pytest.skip("needs a block device")
                    items[index] = (name, block_device)
                    continue
                local = directory / os.path.basename(value)
                local.write_bytes(b"")
                os.truncate(local, 4 << 20)
                items[index] = (name, str(local))
    return format_config(config)


COPY_MANAGER_LUNS = "targets/copy_manager/copy_manager_tgt/luns"


def numbered_by_the_tree(path: str) -> bool:
    """The copy manager's LUNs, and with them the devices' exportN links: their numbers
    come from SCST's counter, which goes on past deleted devices (a system cleared and
    configured again numbers them anew, and adds the file's numbers: test_copy_manager)."""
    return path.startswith(f"{COPY_MANAGER_LUNS}/") or "/exported/" in path


def copy_manager_devices(sysfs: ScstSysfs) -> set[str]:
    return {device for number, device in RunningTree(sysfs).luns(COPY_MANAGER_LUNS).items()}


def snapshot(sysfs: ScstSysfs) -> dict[str, str]:
    """Every file's content and every link's target (write-only files by name), but for
    what the tree numbers itself (see numbered_by_the_tree)."""
    found = {}
    for path in sysfs.walk(""):
        if numbered_by_the_tree(path):
            continue
        if sysfs.is_link(path):
            found[path] = "-> " + sysfs.access.readlink(path)
        elif sysfs.is_dir(path):
            found[path] = "dir"
        elif path.endswith("mgmt") or not sysfs.readable(path):
            found[path] = "(write-only)"
        else:
            found[path] = sysfs.read(path)
    return found


def uses_blockio(path: Path) -> bool:
    return "vdisk_blockio" in path.read_text()


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.name)
def test_real_world_config_applies_and_round_trips(tree: MountedScst, tmp_path: Path,
                                                   request: pytest.FixtureRequest,
                                                   path: Path) -> None:
    block = request.getfixturevalue("loop_device") if uses_blockio(path) else None
    sysfs = ScstSysfs(tree.root)
    text = localized(path, tmp_path, block)
    first = Applier(sysfs)
    assert first.apply(parse(text)) > 0
    # the only warnings: targets whose groups export devices their own LUNs do not
    assert [warning for warning in first.warnings
            if ": access_mode acl-only: initiators in no group are refused" not in warning] == []
    applied = snapshot(sysfs)

    again = Applier(sysfs)
    assert again.apply(parse(text)) == 0, again.writes  # the same file twice: no writes
    calls = len(tree.realizer.calls)

    saved = tmp_path / "saved.conf"
    assert cli.main(["-write_config", str(saved), "--root", str(tree.root)]) == 0
    assert len(tree.realizer.calls) == calls  # saving reads only
    assert cli.main(["-clear_config", "-force", "-noprompt", "--root", str(tree.root)]) == 0
    assert read_running(sysfs)[0].handlers == {}
    assert cli.main(["-config", str(saved), "--root", str(tree.root)]) == 0
    restored = snapshot(sysfs)
    assert restored == applied, {key: (applied.get(key), restored.get(key))
                                 for key in set(applied) | set(restored)
                                 if applied.get(key) != restored.get(key)}
    # every device is in the copy manager's reach again, at the saved numbers too
    devices = read_running(sysfs)[0].device_names()
    assert copy_manager_devices(sysfs) == devices
    saved_luns = parse_file(str(saved)).drivers["copy_manager"].targets[
        "copy_manager_tgt"].luns
    assert {lun.device for lun in saved_luns.values()} == devices
    live = RunningTree(sysfs).luns(COPY_MANAGER_LUNS)
    # the copy manager numbers read-only devices (and CD-ROMs) only itself
    read_only = {name for name in devices if RunningTree(sysfs).device_handler(name) ==
                 "vcdrom" or sysfs.attribute(f"devices/{name}/read_only").value == "1"}
    assert all(live.get(number) == lun.device for number, lun in saved_luns.items()
               if lun.device not in read_only)
    assert Applier(sysfs).apply(parse_file(str(saved))) == 0


def test_one_attribute_differs_one_write(tree: MountedScst, tmp_path: Path,
                                         loop_device: str) -> None:
    sysfs = ScstSysfs(tree.root)
    text = localized(DATA / "scst_conf" / "02_handlers_groups_chap.conf", tmp_path, loop_device)
    Applier(sysfs).apply(parse(text))
    calls = len(tree.realizer.calls)

    changed = Applier(sysfs)
    assert changed.apply(parse(text.replace("t10_vend_id ACME", "t10_vend_id ACME2"))) == 1
    assert [(write.path, write.text) for write in changed.writes] == [
        ("devices/vm_store/t10_vend_id", "ACME2")]
    assert sysfs.attribute("devices/vm_store/t10_vend_id").value == "ACME2"
    assert len(tree.realizer.calls) - calls <= 1  # at most the worker is told

    new_secret = parse(text.replace('"vmhost topsecret1234"', '"vmhost newsecret12345"')
                       .replace("t10_vend_id ACME", "t10_vend_id ACME2"))
    target = "iqn.2024-01.com.example:storage.vm"
    unforced = Applier(sysfs)  # the old account must go first: that waits for -force
    unforced.apply(new_secret)
    assert unforced.writes == []
    assert [warning for warning in unforced.warnings if "access_mode" not in warning] == [
        f"targets/iscsi/{target}: IncomingUser vmhost has another value in the "
        "configuration; use -force to replace it"]
    chap = Applier(sysfs, force=True)
    chap.apply(new_secret)
    # (the file has no copy_manager block: -force also deletes the copy manager's LUNs, as
    # scstadmin does; test_config_copy_manager shows those)
    assert [write.text for write in chap.writes
            if not write.path.startswith("targets/copy_manager/")] == [
        f"del_target_attribute {target} IncomingUser vmhost topsecret1234",
        f"add_target_attribute {target} IncomingUser vmhost newsecret12345"]


def test_changes_that_need_force(tree: MountedScst, tmp_path: Path) -> None:
    sysfs = ScstSysfs(tree.root)
    text = localized(DATA / "scst_conf" / "03_cdrom_nullio.conf", tmp_path, None)
    Applier(sysfs).apply(parse(text))
    bench = "targets/iscsi/iqn.2010-05.org.example:bench"
    moved = text.replace("LUN 2 null_dummy", "LUN 2 null_bench").replace(
        "blocksize 512", "blocksize 4096")

    unforced = Applier(sysfs)
    unforced.apply(parse(moved))
    assert unforced.writes == []
    assert any("luns/2 points at null_dummy, wanted null_bench" in warning
               for warning in unforced.warnings), unforced.warnings
    assert any("null_bench needs -force" in warning for warning in unforced.warnings)

    forced = Applier(sysfs, force=True)
    forced.apply(parse(moved))
    texts = [(write.path, write.text) for write in forced.writes]
    assert ("handlers/vdisk_nullio/mgmt", "del_device null_bench") in texts
    assert ("handlers/vdisk_nullio/mgmt", "add_device null_bench blocksize=4096;") in texts
    assert (f"{bench}/luns/mgmt", "replace null_bench 2") in texts
    assert sysfs.readlink(f"{bench}/luns/2/device") == "null_bench"
    assert sysfs.readlink(f"{bench}/luns/0/device") == "null_bench"  # re-added after re-create
    assert sysfs.attribute("devices/null_bench/blocksize").value == "4096"
    assert Applier(sysfs, force=True).apply(parse(moved)) == 0


def test_objects_missing_from_the_file_go_only_with_force(tree: MountedScst,
                                                          tmp_path: Path) -> None:
    sysfs = ScstSysfs(tree.root)
    Applier(sysfs).apply(parse(localized(DATA / "scst_conf" / "03_cdrom_nullio.conf",
                                         tmp_path, None)))
    smaller = parse(localized(DATA / "scst_conf" / "01_announcement.conf", tmp_path, None))
    kept = Applier(sysfs)
    kept.apply(smaller)
    assert all("del" not in write.text for write in kept.writes)
    assert any("device null_bench is not in the configuration" in warning
               for warning in kept.warnings)
    assert "null_bench" in read_running(sysfs)[0].handlers["vdisk_nullio"].devices

    removed = Applier(sysfs, force=True)
    removed.apply(smaller)
    running = read_running(sysfs)[0]
    assert set(running.handlers) == {"vdisk_fileio"}
    assert set(running.drivers["iscsi"].targets) == {"iqn.2006-10.net.vlnb:tgt"}


@pytest.mark.parametrize("name", sorted(p.name for p in (DATA / "scst_conf_malformed").glob("*"))
                         + sorted(p.name for p in (DATA / "scst_conf_invalid").glob("*")))
def test_bad_files_change_nothing_and_name_the_line(tree: MountedScst, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str],
                                                    name: str) -> None:
    path = DATA / "scst_conf_malformed" / name
    if not path.exists():
        path = DATA / "scst_conf_invalid" / name
    sysfs = ScstSysfs(tree.root)
    before = snapshot(sysfs)
    assert cli.main(["-config", str(path), "--root", str(tree.root)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error
    assert error.startswith(f"tcmu-scst-admin: error: {path}:")
    line = int(error.split(f"{path}:")[1].split(":")[0])
    assert line > 0
    assert tree.realizer.calls == []
    assert snapshot(sysfs) == before


def test_inapplicable_lines_are_the_right_ones(tree: MountedScst) -> None:
    sysfs = ScstSysfs(tree.root)
    for name, line in (("unknown_handler.conf", 5), ("lun_of_undefined_device.conf", 7),
                       ("unknown_driver.conf", 4)):
        with pytest.raises(ConfigError) as caught:
            Applier(sysfs).apply(parse_file(str(DATA / "scst_conf_invalid" / name)), name)
        assert caught.value.line == line, (name, str(caught.value))


def run_cli(tree: MountedScst, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = cli.main([*argv, "--root", str(tree.root)])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_single_object_commands(tree: MountedScst, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    disk = tmp_path / "d1.img"
    disk.write_bytes(bytes(1 << 20))
    iqn = "iqn.2024-02.org.example:one"
    steps = [
        ["-open_dev", "d1", "-handler", "vdisk_fileio", "-attributes",
         f"filename={disk},blocksize=4096"],
        ["-set_dev_attr", "d1", "-attributes", "t10_vend_id=ACME,prod_id=Disk One"],
        ["-add_target", iqn, "-driver", "iscsi"],
        ["-add_tgt_attr", iqn, "-driver", "iscsi", "-attributes",
         'IncomingUser="joe 12charsecret"'],
        ["-set_tgt_attr", iqn, "-driver", "iscsi", "-attributes", "HeaderDigest=CRC32C"],
        ["-add_lun", "0", "-driver", "iscsi", "-target", iqn, "-device", "d1"],
        ["-add_group", "g1", "-driver", "iscsi", "-target", iqn],
        ["-add_group", "g2", "-driver", "iscsi", "-target", iqn],
        ["-add_lun", "5", "-driver", "iscsi", "-target", iqn, "-group", "g1", "-device", "d1",
         "-attributes", "read_only=1"],
        ["-add_init", "iqn.i:one", "-driver", "iscsi", "-target", iqn, "-group", "g1"],
        ["-move_init", "iqn.i:one", "-driver", "iscsi", "-target", iqn, "-group", "g1",
         "-to", "g2"],
        ["-enable_target", iqn, "-driver", "iscsi"],
        ["-set_drv_attr", "iscsi", "-attributes", "enabled=1"],
    ]
    for step in steps:
        status, output = run_cli(tree, capsys, *step)
        assert status == 0, (step, output)
    sysfs = ScstSysfs(tree.root)
    base = f"targets/iscsi/{iqn}"
    assert sysfs.attribute("devices/d1/prod_id").value == "Disk One"
    assert sysfs.attribute(f"{base}/IncomingUser").value == "joe 12charsecret"
    assert sysfs.attribute(f"{base}/HeaderDigest").value == "CRC32C"
    assert sysfs.readlink(f"{base}/ini_groups/g1/luns/5/device") == "d1"
    assert sysfs.is_file(f"{base}/ini_groups/g2/initiators/iqn.i:one")
    assert sysfs.attribute(f"{base}/enabled").value == "1"

    status, output = run_cli(tree, capsys, "-list_dev_attr", "d1")
    assert status == 0 and "t10_vend_id" in output and "ACME" in output
    status, output = run_cli(tree, capsys, "-list_tgt_attr", iqn, "-driver", "iscsi")
    assert "IncomingUser" in output and "Dynamic attributes available" in output
    for listing in (["-list_handler"], ["-list_device"], ["-list_driver"], ["-list_target"],
                    ["-list_group"], ["-list_sessions"], ["-list_scst_attr"],
                    ["-list_handler", "vdisk_fileio"]):
        status, output = run_cli(tree, capsys, *listing)
        assert status == 0, (listing, output)
    assert "g1" in run_cli(tree, capsys, "-list_group")[1]
    assert iqn in run_cli(tree, capsys, "-list_target")[1]

    calls = len(tree.realizer.calls)
    status, output = run_cli(tree, capsys, "-rem_lun", "0", "-driver", "iscsi", "-target", iqn,
                             "-dry_run")
    assert status == 0 and f"-> write {base}/luns/mgmt: del 0" in output
    assert len(tree.realizer.calls) == calls and sysfs.is_dir(f"{base}/luns/0")
    for step in (["-disable_target", iqn, "-driver", "iscsi"],
                 ["-rem_lun", "0", "-driver", "iscsi", "-target", iqn],
                 ["-clear_luns", "-driver", "iscsi", "-target", iqn, "-group", "g1"],
                 ["-rem_init", "iqn.i:one", "-driver", "iscsi", "-target", iqn, "-group", "g2"],
                 ["-rem_group", "g1", "-driver", "iscsi", "-target", iqn],
                 ["-rem_tgt_attr", iqn, "-driver", "iscsi", "-attributes",
                  "IncomingUser=joe 12charsecret"],
                 ["-rem_target", iqn, "-driver", "iscsi", "-noprompt"],
                 ["-close_dev", "d1", "-handler", "vdisk_fileio"]):
        status, output = run_cli(tree, capsys, *step)
        assert status == 0, (step, output)
    assert read_running(sysfs)[0].handlers == {}


def test_errors_are_one_line(tree: MountedScst, capsys: pytest.CaptureFixture[str]) -> None:
    status, output = run_cli(tree, capsys, "-clear_config")
    assert status == 1 and "add -force" in output
    status, output = run_cli(tree, capsys, "-close_dev", "nosuch", "-handler", "vdisk_fileio")
    assert status == 1 and output.count("\n") == 1 and "EINVAL" in output
    status, output = run_cli(tree, capsys, "-set_dev_attr", "x", "-attributes", "nonsense")
    assert status == 1 and "not name=value" in output
    status, output = run_cli(tree, capsys, "-config", "/nonexistent/scst.conf")
    assert status == 1 and "cannot read" in output


def test_write_config_is_private_with_secrets_and_nonkey_adds_more(
        tree: MountedScst, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sysfs = ScstSysfs(tree.root)
    sysfs.write("targets/iscsi/mgmt", "add_attribute IncomingUser disc 12charsecret")
    sysfs.write("handlers/vdisk_nullio/mgmt", "add_device n1")
    saved = tmp_path / "scst.conf"
    assert run_cli(tree, capsys, "-write_config", str(saved))[0] == 0
    assert saved.stat().st_mode & 0o777 == 0o600
    assert 'IncomingUser "disc 12charsecret"' in saved.read_text()
    assert "Non-key" not in saved.read_text()
    assert run_cli(tree, capsys, "-write_config", str(saved), "-nonkey")[0] == 0
    assert "# Non-key attributes" in saved.read_text()
    assert parse_file(str(saved)).handlers["vdisk_nullio"].devices["n1"].attributes.get(
        "prod_id") == "n1"


def test_clear_keeps_nothing_but_static_attributes(tree: MountedScst, tmp_path: Path) -> None:
    sysfs = ScstSysfs(tree.root)
    Applier(sysfs).apply(parse(localized(DATA / "scst_conf" / "04_disabled_targets.conf",
                                         tmp_path, None)))
    clear(sysfs)
    running = read_running(sysfs)[0]
    assert running.handlers == {}  # of the drivers only the switches are left, off
    # and SCST's copy manager, its LUNs gone with the devices
    assert {name: (driver.attributes.items, driver.targets)
            for name, driver in running.drivers.items() if name != "copy_manager"} == {
        "iscsi": ([("enabled", "0")], {})}
    assert running.drivers["copy_manager"].targets["copy_manager_tgt"].luns == {}
    assert running.attributes.get("setup_id") == "0x1234"


MASKED_CONF = """\
HANDLER vdisk_nullio {{
\tDEVICE n1 {{
\t}}
\tDEVICE n2 {{
\t}}
}}

TARGET_DRIVER iscsi {{
\tTARGET iqn.2024-01.test:masked {{
\t\tLUN 0 n1
\t\tGROUP g1 {{
\t\t\tLUN 0 n2
\t\t\tINITIATOR {first}
\t\t}}
\t\tGROUP g2 {{
\t\t\tINITIATOR {second}
\t\t}}
\t}}
}}
"""


@pytest.mark.parametrize(("first", "second", "why"), [
    ("iqn.2024-01.init:*", "iqn.2024-01.init:b", "is a pattern"),
    ("iqn.2024-01.init:a", "iqn.2024-01.init:a", "is in two groups"),
])
def test_what_lio_cannot_express_is_refused_before_the_first_write(
        tree: MountedScst, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        first: str, second: str, why: str) -> None:
    """Before: the check passed and -config stopped halfway (EINVAL on initiators/mgmt)."""
    path = tmp_path / "masked.conf"
    path.write_text(MASKED_CONF.format(first=first, second=second))
    sysfs = ScstSysfs(tree.root)
    before = snapshot(sysfs)
    for command in ("-check_config", "-config"):
        status, text = run_cli(tree, capsys, command, str(path))
        assert status == 1 and why in text and f"{path}:" in text, text
    assert tree.realizer.calls == []
    assert snapshot(sysfs) == before


def test_check_config_says_who_is_refused(tree: MountedScst, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "masked.conf"
    path.write_text(MASKED_CONF.format(first="iqn.2024-01.init:a", second="iqn.2024-01.init:b"))
    status, text = run_cli(tree, capsys, "-check_config", str(path))
    assert status == 0, text
    [warning] = [line for line in text.splitlines() if "acl-only" in line]
    assert warning.startswith("tcmu-scst-admin: warning: target iqn.2024-01.test:masked: "
                              "access_mode acl-only: initiators in no group are refused")
