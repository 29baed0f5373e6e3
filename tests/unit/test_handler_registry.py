"""Handlers found through the entry-point group ``tcmu_scst.handlers``: the built-ins, a
plugin that appears in the tree, and the plugins the registry must refuse without failing."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator, Mapping
from importlib import metadata
from pathlib import Path

import pytest

from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.handlers import registry
from tcmu_scst.handlers.declaration import DIRECT_ACCESS_DEVICE, HandlerDeclaration, Param
from tcmu_scst.handlers.disk import ScsiDevice
from tcmu_scst.testing.recording_realizer import RecordingRealizer

from . import fake_handler_plugin as plugin
from .scst_mount import MountedScst

ROOT = Path(__file__).resolve().parents[2]
BUILT_INS = ("vdisk_fileio", "vdisk_blockio", "vdisk_nullio", "vcdrom")
Install = Callable[..., None]


@pytest.fixture
def install(monkeypatch: pytest.MonkeyPatch) -> Iterator[Install]:
    """Pretend distributions registered these ``(name, value)`` entry points in the group
    (and nothing else did: the built-ins then come from the registry's own list)."""

    def fake(*entries: tuple[str, str]) -> None:
        points = metadata.EntryPoints(metadata.EntryPoint(name, value, registry.GROUP)
                                      for name, value in entries)
        real = metadata.entry_points

        def entry_points(**params: str) -> metadata.EntryPoints:
            return points if params.get("group") == registry.GROUP else real(**params)

        monkeypatch.setattr(metadata, "entry_points", entry_points)
        registry.forget_loaded()

    yield fake
    registry.forget_loaded()  # the next test sees what is really installed


def test_the_fallback_list_is_what_pyproject_registers() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["entry-points"][registry.GROUP] == registry.BUILT_IN_HANDLERS


def test_the_built_ins_are_there_whatever_the_metadata_says(install: Install) -> None:
    install()  # stale metadata: no entry point in the group at all
    assert registry.handler_names() == BUILT_INS
    install(*registry.BUILT_IN_HANDLERS.items())  # up to date: the same four, once each
    assert registry.handler_names() == BUILT_INS
    for name, declaration in registry.declarations().items():
        assert declaration.name == name


def test_built_in_declarations_hold_what_the_tree_special_cased() -> None:
    fileio, blockio, nullio, cdrom = (registry.declaration_of(name) for name in BUILT_INS)
    assert fileio.filename_required and blockio.filename_required
    assert not nullio.filename_required and not cdrom.filename_required
    assert {"size", "size_mb", "dummy", "lb_per_pb_exp"} <= fileio.accepted
    empty_drive = cdrom.build("cd1", {})
    assert registry.effective_values(empty_drive) == {"size": "0",
                                                                "blocksize": "2048"}
    assert cdrom.always_read_only and not fileio.always_read_only
    assert (fileio.vendor, blockio.vendor, nullio.vendor) == ("SCST_FIO", "SCST_BIO", "SCST_FIO")
    assert cdrom.scsi_type.sysfs_text == "5 - CD-ROM device"
    for declaration in (fileio, blockio, nullio, cdrom):
        assert all(param.help for param in declaration.params), declaration.name


def test_a_plugin_handler_appears_in_the_tree(install: Install) -> None:
    install((plugin.NAME, plugin.REFERENCE))
    realizer = RecordingRealizer()
    system = ScstSystem(realizer)
    tree = system.tree
    assert plugin.NAME in tree.listdir("/handlers")
    assert tree.read(f"/handlers/{plugin.NAME}/mgmt").endswith(
        "The following parameters available: read_only, size_mb\n\nParameters:\n"
        "  read_only: 1: initiators may only read (default 0)\n"
        "  size_mb: size in MiB (default 1)\n")
    assert tree.read(f"/handlers/{plugin.NAME}/type") == DIRECT_ACCESS_DEVICE.sysfs_text + "\n"
    tree.write(f"/handlers/{plugin.NAME}/mgmt", "add_device z1 size_mb=4; read_only=1")
    assert tree.read("/devices/z1/size_mb") == "4\n[key]\n"
    assert tree.read("/devices/z1/read_only") == "1\n[key]\n"
    assert sorted(tree.listdir("/devices/z1")) == ["exported", "handler", "read_only",
                                                   "size_mb", "type"]
    [request] = [call[1][0] for call in realizer.calls if call[0] == "create_device"]
    assert request.handler == plugin.NAME
    device = system.devices.devices["z1"]  # what the opened device reported
    assert (device.size, device.block_size) == (4 << 20, 512)
    with pytest.raises(OSError, match="Unknown parameter 'filename'"):
        tree.write(f"/handlers/{plugin.NAME}/mgmt", "add_device z2 filename=/x")
    # the built-ins are still there, in front
    assert registry.handler_names() == (*BUILT_INS, plugin.NAME)


def test_a_plugin_handler_works_on_the_mounted_tree(install: Install,
                                                     request: pytest.FixtureRequest) -> None:
    install((plugin.NAME, plugin.REFERENCE))
    mounted: MountedScst = request.getfixturevalue("tree")  # skips without FUSE
    handler = mounted.root / "handlers" / plugin.NAME
    assert "The following parameters available: read_only, size_mb" in \
        (handler / "mgmt").read_text()
    (handler / "mgmt").write_text("add_device z1 size_mb=8\n")
    assert (mounted.root / "devices/z1/size_mb").read_text() == "8\n[key]\n"
    assert os.readlink(handler / "z1") == "../../devices/z1"
    assert [call[0] for call in mounted.realizer.calls].count("create_device") == 1


@pytest.mark.parametrize(("entry", "complaint"), [
    (("test_broken", "tests.unit.no_such_module:DECLARATION"), "cannot be loaded"),
    ((plugin.NAME, f"{plugin.__name__}:create"), "not a HandlerDeclaration"),
    ((plugin.NAME, f"{plugin.__name__}:MISNAMED"), "must have the handler's name"),
    (("vdisk_fileio", plugin.REFERENCE), "already served by"),
])
def test_an_unusable_plugin_is_logged_and_left_out(install: Install,
                                                     caplog: pytest.LogCaptureFixture,
                                                     entry: tuple[str, str],
                                                     complaint: str) -> None:
    install(entry)
    with caplog.at_level(logging.ERROR, logger=registry.__name__):
        assert registry.handler_names() == BUILT_INS
    assert complaint in caplog.text
    assert registry.declaration_of("vdisk_fileio").vendor == "SCST_FIO"


def test_a_second_claim_of_a_name_is_refused(install: Install,
                                             caplog: pytest.LogCaptureFixture) -> None:
    install((plugin.NAME, plugin.REFERENCE), (plugin.NAME, f"{plugin.__name__}:SECOND_CLAIM"))
    assert registry.declaration_of(plugin.NAME) is plugin.DECLARATION  # loaded alone ...
    registry.forget_loaded()
    with caplog.at_level(logging.ERROR, logger=registry.__name__):
        assert registry.declarations()[plugin.NAME] is plugin.DECLARATION  # ... or with all
    assert f"already served by {plugin.REFERENCE}" in caplog.text


def test_an_unknown_handler_names_the_known_ones(install: Install) -> None:
    install((plugin.NAME, plugin.REFERENCE))
    with pytest.raises(registry.UnknownHandlerError, match=f"vdisk_fileio.*{plugin.NAME}"):
        registry.declaration_of("vdisk_magic")


def test_an_installed_distribution_adds_a_handler(tmp_path: Path) -> None:
    """The real discovery: a distribution's metadata on the path (as pip leaves it in
    site-packages) registers the handler, with no faking of importlib.metadata."""
    info = tmp_path / "tcmu_scst_test_zeros-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tcmu-scst-test-zeros\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text(
        f"[{registry.GROUP}]\n{plugin.NAME} = {plugin.REFERENCE}\n")
    script = ("from tcmu_scst.handlers.registry import declaration_of, handler_names\n"
              "print(' '.join(handler_names()))\n"
              f"print(declaration_of({plugin.NAME!r}).vendor)\n")
    environment = {**os.environ, "PYTHONPATH": f"{ROOT}:{tmp_path}"}
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, env=environment, cwd=ROOT).stdout
    assert output.split("\n")[:2] == [" ".join((*BUILT_INS, plugin.NAME)), plugin.VENDOR]


def test_a_worker_imports_only_its_own_handler() -> None:
    """A worker asks for one handler: that module alone is imported, and for a built-in the
    installed metadata is not read (each worker start would pay for scanning it)."""
    script = ("import sys\n"
              "from tcmu_scst.handlers.registry import open_scsi_device\n"
              "open_scsi_device('vdisk_nullio', 'n1', {'size_mb': '1'})\n"
              "print(sorted(name for name in sys.modules if name in {"
              + ", ".join(f"'tcmu_scst.handlers.{name}'" for name in BUILT_INS)
              + ", 'importlib.metadata'}))\n")
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, env=environment, cwd=ROOT).stdout
    assert output.strip() == "['tcmu_scst.handlers.vdisk_nullio']"


def test_a_declaration_refuses_what_the_tree_could_not_serve() -> None:
    def create(name: str, params: Mapping[str, str]) -> ScsiDevice:
        raise AssertionError("never called")

    with pytest.raises(ValueError, match="missing from advertised: size"):
        HandlerDeclaration("x", DIRECT_ACCESS_DEVICE, "V", (Param("size"),), (), create)
    with pytest.raises(ValueError, match="declared twice"):
        HandlerDeclaration("x", DIRECT_ACCESS_DEVICE, "V", (Param("a"), Param("a")), ("a",),
                           create)
