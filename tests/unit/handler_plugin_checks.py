"""The example handler plugin (examples/handler-plugin) once pip has installed it: the checks
that ``test_handler_plugin_install.py`` runs with pytest *inside* the temporary venv into
which pip installed this checkout and the plugin (tests/plugin_venv.py).

Not a ``test_*`` module on purpose: outside that venv the handler is not installed, and
these checks would fail for that reason alone.  Nothing here registers the handler: it is
found the way the daemon finds it, through the installed metadata's entry points; the
config tool and the shell are the venv's console scripts.
"""

from __future__ import annotations

import errno
import importlib
import io
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.config.in_process import InProcessAccess
from tcmu_scst.config.scst_conf import parse_file
from tcmu_scst.config.sysfs import ScstSysfs, SysfsError
from tcmu_scst.daemon.lio_realizer import LioRealizer
from tcmu_scst.daemon.persistence import Persistence
from tcmu_scst.dataplane.disk_lane import ENVIRONMENT_SWITCH
from tcmu_scst.handlers import registry
from tcmu_scst.lio import list_backstores
from tcmu_scst.shell.app import ScstShell
from tcmu_scst.testing.lio import emulated_lio
from tcmu_scst.testing.recording_realizer import RecordingRealizer

from .perl_scstadmin import perl_unavailable, scstadmin
from .scst_mount import MountedScst
from .shell_run import run_shell
from .test_config_apply import snapshot
from .test_daemon_realizer import FakeSupervisor
from .test_fast_lane import Harness, read_10, read_16, write_10

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:configshell")

ROOT = Path(__file__).resolve().parents[2]
HANDLER = "vdisk_ramdisk"
DISTRIBUTION = "tcmu-scst-ramdisk"
REFERENCE = "tcmu_scst_ramdisk.handler:DECLARATION"
BUILT_INS = tuple(registry.BUILT_IN_HANDLERS)
MGMT = f"handlers/{HANDLER}/mgmt"
ADVERTISED = ("blocksize, pattern, read_only, removable, rotational, size_mb, t10_dev_id, "
              "tst")
ATTRIBUTES = ["blocksize", "exported", "handler", "pattern", "prod_id", "prod_rev_lvl",
              "read_only", "removable", "rotational", "size", "size_mb", "t10_dev_id",
              "t10_vend_id", "tst", "type", "usn"]
PATTERN_HELP = "1, 2, 4, 8 or 16 bytes in hex"


def in_process(system: ScstSystem) -> ScstSysfs:
    return ScstSysfs("/", access=InProcessAccess(system.tree))


def console_script(name: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    """One of the venv's console scripts (bin/ beside this interpreter)."""
    return subprocess.run([str(Path(sys.executable).parent / name), *arguments],
                          capture_output=True, text=True, check=False, timeout=120,
                          stdin=subprocess.DEVNULL)


def admin(*arguments: str) -> str:
    """``tcmu-scst-admin ARGUMENTS``, which must succeed; its output."""
    done = console_script("tcmu-scst-admin", *arguments)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_pip_installed_the_handler_where_the_registry_finds_it() -> None:
    entry = [point for point in metadata.distribution(DISTRIBUTION).entry_points
             if point.group == registry.GROUP]
    assert [(point.name, point.value) for point in entry] == [(HANDLER, REFERENCE)]
    module = importlib.import_module(REFERENCE.partition(":")[0])
    # both from the venv's site-packages: the plugin, and the framework built from this
    # checkout
    for installed in (Path(module.__file__ or ""), Path(registry.__file__)):
        assert installed.is_relative_to(sys.prefix) and not installed.is_relative_to(ROOT)
    assert Path(registry.__file__).read_bytes() == \
        (ROOT / "tcmu_scst/handlers/registry.py").read_bytes()
    built_in = [point for point in metadata.distribution("tcmu-scst").entry_points
                if point.group == registry.GROUP]
    assert {point.name: point.value for point in built_in} == registry.BUILT_IN_HANDLERS
    assert registry.handler_names() == (*BUILT_INS, HANDLER)
    assert registry.declaration_of(HANDLER) is module.DECLARATION


def test_the_tree_shows_the_handler_its_help_and_its_devices() -> None:
    realizer = RecordingRealizer()
    sysfs = in_process(ScstSystem(realizer))
    usage = sysfs.read(MGMT)
    assert "add_device device_name [parameters]" in usage
    assert f"The following parameters available: {ADVERTISED}\n" in usage
    # after SCST's lines, what each parameter means (the declaration's help and default)
    assert "  pattern: what unwritten blocks read as: 1, 2, 4, 8 or 16 bytes in hex, " \
        "repeated (e.g. 0xff, 0xdeadbeef) (default 0x00)\n" in usage
    assert sysfs.read(f"handlers/{HANDLER}/type") == \
        "0 - Direct-access device (e.g., magnetic disk)\n"
    sysfs.write(MGMT, "add_device ram1 size_mb=8; pattern=0xa5; blocksize=4096; "
                      "t10_dev_id=ram-one")
    assert sorted(sysfs.entries("devices/ram1")) == ATTRIBUTES
    assert sysfs.access.readlink(f"handlers/{HANDLER}/ram1") == "../../devices/ram1"
    shown = {name: sysfs.read(f"devices/ram1/{name}") for name in (
        "size_mb", "size", "pattern", "blocksize", "t10_dev_id", "rotational", "read_only",
        "t10_vend_id", "type")}
    assert shown == {"size_mb": "8\n[key]\n", "size": f"{8 << 20}\n", "pattern": "0xa5\n[key]\n",
                     "blocksize": "4096\n[key]\n", "t10_dev_id": "ram-one\n[key]\n",
                     "rotational": "0\n", "read_only": "0\n", "t10_vend_id": "RAMDISK\n",
                     "type": "0 - Direct-access device (e.g., magnetic disk)\n"}
    assert sysfs.key_attributes("devices/ram1") == {
        "size_mb": "8", "pattern": "0xa5", "blocksize": "4096", "t10_dev_id": "ram-one"}
    [request] = [call[1][0] for call in realizer.calls if call[0] == "create_device"]
    assert request.handler == HANDLER
    # what the opened device reported, as the tree shows it
    assert sysfs.read("devices/ram1/size_mb") == "8\n[key]\n"

    # defaults are no [key]; a rotating RAM disk only when asked for
    sysfs.write(MGMT, "add_device ram2 size_mb=1; rotational=1")
    assert sysfs.key_attributes("devices/ram2") == {"size_mb": "1", "rotational": "1"}
    assert sysfs.read("devices/ram2/pattern") == "0x00\n"


@pytest.mark.parametrize(("parameters", "complaint"), [
    ("size_mb=4; pattern=0x123", PATTERN_HELP),
    ("size_mb=4; pattern=0xdeadbeef00", PATTERN_HELP),
    ("size_mb=4; pattern=red", PATTERN_HELP),
    ("pattern=0xff", "size_mb required"),
    ("size_mb=0", "size_mb=0: give at least 1"),
    ("size_mb=4; filename=/tmp/x", "Unknown parameter 'filename'"),
    ("size_mb=4; blocksize=256", "blocksize=256 is too small"),
])
def test_the_tree_refuses_bad_parameters_with_einval_and_a_reason(
        parameters: str, complaint: str, caplog: pytest.LogCaptureFixture) -> None:
    realizer = RecordingRealizer()
    system = ScstSystem(realizer)
    sysfs = in_process(system)
    with pytest.raises(SysfsError) as refused:
        sysfs.write(MGMT, f"add_device bad1 {parameters}")
    assert refused.value.errno == errno.EINVAL
    assert complaint in str(refused.value) + caplog.text
    assert sysfs.entries("devices") == [] and realizer.calls == []


def ramdisk(name: str = "ram1", **params: str):  # type: ignore[no-untyped-def]
    """A device opened as its worker opens it: by handler name, through the registry."""
    return registry.open_scsi_device(HANDLER, name, params)


@pytest.mark.parametrize("lane", ["fast-lane", "python"])
def test_a_device_reads_its_pattern_until_written(lane: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    if lane == "python":
        monkeypatch.setenv(ENVIRONMENT_SWITCH, "0")
    block = 512
    harness = Harness(ramdisk(size_mb="1", pattern="0xdeadbeef"))
    try:
        assert (harness.server.lane is not None) == (lane == "fast-lane")
        unwritten = harness.run(read_10(5, 4), data_in_length=4 * block)
        assert unwritten.status == 0 and unwritten.data_in == bytes.fromhex("deadbeef") * 512
        payload = os.urandom(8 * block)
        assert harness.run(write_10(100, 8), data_out=payload).status == 0
        assert harness.run(read_16(100, 8), data_in_length=8 * block).data_in == payload
        around = harness.run(read_10(99, 10), data_in_length=10 * block).data_in
        assert around == b"\xde\xad\xbe\xef" * 128 + payload + b"\xde\xad\xbe\xef" * 128
        past_end = harness.run(read_10(2048, 1), data_in_length=block)
        assert past_end.status == 0x02 and past_end.sense[12] == 0x21  # LBA OUT OF RANGE
        assert harness.lane_served == (4 if lane == "fast-lane" else 0)
    finally:
        harness.close()
        harness.device.backend.close()


def test_a_read_only_device_and_its_identity() -> None:
    harness = Harness(ramdisk(size_mb="1", pattern="0x5a", read_only="1", t10_dev_id="ro-1"))
    try:
        refused = harness.run(write_10(0, 1), data_out=bytes(512))
        assert refused.status == 0x02 and refused.sense[2] & 0x0F == 0x07  # DATA PROTECT
        assert harness.run(read_10(0, 1), data_in_length=512).data_in == b"\x5a" * 512
        inquiry = harness.run(bytes([0x12, 0, 0, 0, 96, 0]), data_in_length=96).data_in
        assert inquiry[8:16] == b"RAMDISK " and inquiry[16:20] == b"ram1"
        characteristics = harness.run(bytes([0x12, 1, 0xB1, 0, 64, 0]), data_in_length=64)
        assert characteristics.data_in[4:6] == b"\x00\x01"  # non-rotating medium
    finally:
        harness.close()
        harness.device.backend.close()


def test_the_config_tool_writes_the_device_and_applies_it_back(tree: MountedScst,
                                                               tmp_path: Path) -> None:
    root = str(tree.root)
    (tree.root / MGMT).write_text("add_device ram1 size_mb=8; pattern=0xa5; blocksize=4096; "
                                  "t10_dev_id=ram-one\n")
    (tree.root / MGMT).write_text("add_device ram2 size_mb=2\n")
    (tree.root / "devices/ram2/usn").write_text("RAM2SERIAL\n")  # an attribute set later
    sysfs = ScstSysfs(tree.root)
    before = snapshot(sysfs)
    saved = tmp_path / "scst.conf"
    admin("-write_config", str(saved), "--root", root)
    device = parse_file(str(saved)).handlers[HANDLER].devices["ram1"]
    assert dict(device.attributes.items) == {"size_mb": "8", "pattern": "0xa5",
                                             "blocksize": "4096", "t10_dev_id": "ram-one"}
    assert "usn RAM2SERIAL" in saved.read_text()
    admin("-clear_config", "-force", "-noprompt", "--root", root)
    assert sysfs.entries("devices") == []
    admin("-config", str(saved), "--root", root)
    after = snapshot(sysfs)
    assert after == before, {path: (before.get(path), after.get(path))
                             for path in set(before) | set(after)
                             if before.get(path) != after.get(path)}
    calls = len(tree.realizer.calls)
    admin("-config", str(saved), "--root", root)  # nothing left to change
    assert len(tree.realizer.calls) == calls
    assert HANDLER in admin("-list_handler", "--root", root)
    assert re.search(rf"{HANDLER}\s+ram1", admin("-list_device", "--root", root))


def test_the_shell_completes_its_parameters_and_creates_a_device(tree: MountedScst) -> None:
    shell = ScstShell(ScstSysfs(tree.root), None, io.StringIO(), io.StringIO())
    node = f"/handlers/{HANDLER}"
    assert shell.completions("/handlers/vdisk_r") == [f"{node} "]
    assert shell.completions(f"{node} cr") == ["create "]
    assert shell.completions(f"{node} create ram3 pat") == ["pattern="]
    assert shell.completions(f"{node} create ram3 size") == ["size_mb="]
    offered = shell.completions(f"{node} create ram3 ")
    assert sorted(offered) == sorted(f"{name}=" for name in ADVERTISED.split(", "))
    created = console_script("tcmu-scst-shell", "--prefs-dir", "", "--root", str(tree.root),
                             node, "create", "ram3", "size_mb=2", "pattern=0xff")
    assert created.returncode == 0, created.stdout + created.stderr
    assert (tree.root / "devices/ram3/pattern").read_text() == "0xff\n[key]\n"
    assert "ram3 " in shell.completions(f"{node} delete ")
    refused = console_script("tcmu-scst-shell", "--prefs-dir", "", "--root", str(tree.root),
                             node, "create", "ram4", "size_mb=2", "pattern=0xf")
    assert refused.returncode == 1 and refused.stderr.startswith("Error:"), refused
    assert not (tree.root / "devices/ram4").exists()
    usage = run_shell(tree.root, node, "help", "create")
    assert usage.status == 0 and "add_device" in usage.out, usage


@pytest.mark.skipif(perl_unavailable() is not None, reason=str(perl_unavailable()))
def test_the_perl_scstadmin_lists_creates_and_saves_the_device(tree: MountedScst,
                                                               tmp_path: Path) -> None:
    listing = scstadmin(tree.root, "-list_handler")
    assert listing.status == 0 and f"\t{HANDLER}\n" in listing.output, listing.output
    opened = scstadmin(tree.root, "-open_dev", "ram5", "-handler", HANDLER, "-attributes",
                       "size_mb=4,pattern=0x5a5a,t10_dev_id=perl-ram", "-noprompt")
    assert opened.status == 0, opened.output
    assert (tree.root / "devices/ram5/pattern").read_text() == "0x5a5a\n[key]\n"
    assert (tree.root / "devices/ram5/size").read_text() == f"{4 << 20}\n"
    devices = scstadmin(tree.root, "-list_device")
    assert devices.status == 0 and re.search(rf"{HANDLER}\s+ram5", devices.output), \
        devices.output
    attributes = scstadmin(tree.root, "-list_dev_attr", "ram5")
    assert attributes.status == 0, attributes.output
    assert re.search(r"pattern\s+0x5a5a\s+No\s+Yes", attributes.output), attributes.output
    saved = tmp_path / "perl.conf"
    written = scstadmin(tree.root, "-write_config", str(saved))
    assert written.status == 0, written.output
    device = parse_file(str(saved)).handlers[HANDLER].devices["ram5"]
    assert dict(device.attributes.items) == {"size_mb": "4", "pattern": "0x5a5a",
                                             "t10_dev_id": "perl-ram"}
    closed = scstadmin(tree.root, "-close_dev", "ram5", "-handler", HANDLER, "-noprompt")
    assert closed.status == 0 and not (tree.root / "devices/ram5").exists(), closed.output


def test_a_daemon_restart_restores_the_device_from_the_saved_config(tmp_path: Path) -> None:
    """The daemon's saver and its restore, over an emulated LIO: the user backstore the new
    daemon makes names the handler, and the worker it would start opens the same disk."""
    saved = tmp_path / "scst.conf"
    first_lio, first_workers = emulated_lio(), FakeSupervisor()
    first = ScstSystem(LioRealizer(configfs=first_lio, supervisor=first_workers))  # type: ignore[arg-type]
    sysfs = in_process(first)
    sysfs.write(MGMT, "add_device ram1 size_mb=4; pattern=0xc0ffee00; blocksize=4096")
    sysfs.write("devices/ram1/prod_id", "scratch")
    sysfs.write("targets/iscsi/mgmt", "add_target iqn.2024-05.org.example:ram")
    sysfs.write("targets/iscsi/iqn.2024-05.org.example:ram/luns/mgmt", "add ram1 0")
    Persistence(first.tree, str(saved)).save()
    assert f"HANDLER {HANDLER} {{" in saved.read_text()
    before = snapshot(sysfs)

    lio, workers = emulated_lio(), FakeSupervisor()  # after SIGTERM: LIO as it was at boot
    second = ScstSystem(LioRealizer(configfs=lio, supervisor=workers))  # type: ignore[arg-type]
    assert Persistence(second.tree, str(saved)).restore()
    after = snapshot(in_process(second))
    assert after.pop("last_sysfs_mgmt_res") == before.pop("last_sysfs_mgmt_res")
    assert after == before
    [backstore] = list_backstores(lio)  # type: ignore[arg-type]
    assert backstore.name == "ram1"
    assert backstore.get_attribute("dev_config").startswith(f"{HANDLER}/")  # TCMU's subtype
    [[spec]] = workers.workers.values()
    assert (spec.handler, spec.name) == (HANDLER, "ram1")
    device = registry.open_scsi_device(spec.handler, spec.name, spec.params)
    try:
        assert (device.block_size, device.backend.size) == (4096, 4 << 20)
        view = memoryview(bytearray(8))
        device.backend.read([view], 4096 * 7, 8, False)
        assert bytes(view) == bytes.fromhex("c0ffee00c0ffee00")
    finally:
        device.backend.close()
