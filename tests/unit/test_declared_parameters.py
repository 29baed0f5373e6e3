"""Parameters driven by the declarations: parsing and checks without a device, the values a
device reports shown by the tree, and SCST's lb_per_pb_exp as a real setting."""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import Path

import pytest

from tcmu_scst.compat_sysfs.realizer import DeviceRequest, OpenedDevice
from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.handlers import vdisk_blockio
from tcmu_scst.handlers.params import disk_settings
from tcmu_scst.handlers.registry import declaration_of, open_scsi_device
from tcmu_scst.testing.recording_realizer import RecordingRealizer

from .scsi_harness import Harness
from .test_blockio import open_backend

READ_CAPACITY_16 = bytes([0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0])


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "disk.img"
    path.write_bytes(bytes(1 << 20))
    return path


def test_parse_fills_defaults_and_says_what_was_given(image: Path) -> None:
    parsed = declaration_of("vdisk_fileio").parse({"filename": str(image),
                                                   "blocksize": "4096", "read_only": "3"})
    assert (parsed["blocksize"], parsed["read_only"], parsed["rotational"]) == (4096, True, True)
    assert parsed["tst"] == 1 and parsed["lb_per_pb_exp"] is True
    assert parsed.was_given("blocksize") and not parsed.was_given("rotational")
    assert parsed.given == {"filename": str(image), "blocksize": "4096", "read_only": "3"}


@pytest.mark.parametrize(("params", "words"), [
    ({"filename": "/x", "colour": "red"}, "Unknown parameter 'colour'"),
    ({"filename": "/x", "dif_type": "1"}, "dif_type=1 is not supported"),
    ({"filename": "/x", "tst": "2"}, "tst=2: use 0 or 1"),
    ({"filename": "/x", "read_only": "1", "write_through": "1"}, "read_only=1 cannot"),
    ({"filename": "/x", "t10_dev_id": "x" * 26}, "longer than 25"),
    ({}, "File name required"),
])
def test_parse_refuses_without_opening_anything(params: dict[str, str], words: str) -> None:
    """/x does not exist: every refusal here comes from the declaration alone."""
    with pytest.raises(OSError) as refused:
        declaration_of("vdisk_fileio").parse(params)
    assert refused.value.errno == errno.EINVAL and words in str(refused.value)


def test_nullio_size_rules_are_checks_of_its_declaration() -> None:
    nullio = declaration_of("vdisk_nullio")
    assert nullio.parse({"size_mb": "3", "blocksize": "4096"})["size_mb"] == 3
    with pytest.raises(OSError, match="multiple of the block size 4096"):
        nullio.parse({"size": "6144", "blocksize": "4096"})
    with pytest.raises(OSError, match="dummy=2: use 0 or 1"):
        nullio.parse({"dummy": "2"})


def test_help_text_explains_each_parameter() -> None:
    tree = ScstSystem(RecordingRealizer()).tree
    text = tree.read("/handlers/vdisk_nullio/mgmt")
    lines = text.splitlines()
    listed = next(line for line in lines if line.startswith("The following parameters"))
    assert listed.endswith("size, size_mb, tst, t10_dev_id")  # SCST's line, unchanged
    assert "  size: size in bytes (default 2.5 TiB) (default 2748779069440)" in lines
    assert "  cluster_mode: accepted for SCST configurations, only as 0" in lines


@dataclass
class FoundOnTheDisk(RecordingRealizer):
    """A realizer whose devices report what a block device told them."""

    found: dict[str, str] | None = None

    def create_device(self, request: DeviceRequest) -> OpenedDevice:
        opened = super().create_device(request)
        return OpenedDevice({**opened.values, **(self.found or {})})


def test_the_tree_shows_what_the_device_found_and_what_was_set() -> None:
    realizer = FoundOnTheDisk(found={"rotational": "0", "thin_provisioned": "1"})
    tree = ScstSystem(realizer).tree
    tree.write("/handlers/vdisk_nullio/mgmt", "add_device n1 size_mb=1")
    tree.write("/handlers/vdisk_nullio/mgmt", "add_device n2 size_mb=1; rotational=1")
    # found: shown, but no [key] (the same configuration finds it again)
    assert tree.read("/devices/n1/rotational") == "0\n"
    # set: shown as set, a key when it differs from the default
    assert tree.read("/devices/n2/rotational") == "1\n"
    assert tree.read("/devices/n1/size") == f"{1 << 20}\n[key]\n"


def read_capacity_exponent(harness: Harness) -> int:
    data = harness(READ_CAPACITY_16, data_in_length=32).data_in
    assert data is not None
    return data[13] & 0x0F


def test_lb_per_pb_exp_reports_the_block_devices_physical_sector(tmp_path: Path) -> None:
    image = tmp_path / "device.img"
    image.write_bytes(bytes(1 << 20))
    for params, wanted in (({}, 3), ({"lb_per_pb_exp": "0"}, 0), ({"blocksize": "4096"}, 0)):
        parsed = vdisk_blockio.DECLARATION.parse({"filename": str(image), **params},
                                                 creation=False)
        backend = open_backend(image, logical_block_size=512, physical_block_size=4096)
        device = vdisk_blockio.open_device("b1", str(image), disk_settings(parsed),
                                           given=parsed, backend=backend)
        harness = Harness(device)
        try:
            assert read_capacity_exponent(harness) == wanted, params
            if not params:  # written at run time, as the tree's write reaches the worker
                device.set_attribute("lb_per_pb_exp", "0")
                assert read_capacity_exponent(harness) == 0
                device.set_attribute("lb_per_pb_exp", "1")
                assert read_capacity_exponent(harness) == 3
        finally:
            harness.close()
            device.close()


def test_a_regular_file_has_no_physical_block_to_report(image: Path) -> None:
    """As LIO's fileio: a file system's block is no unit an initiator could align to."""
    device = open_scsi_device("vdisk_fileio", "d1", {"filename": str(image)})
    harness = Harness(device)
    try:
        assert read_capacity_exponent(harness) == 0
    finally:
        harness.close()
        device.close()


def test_lb_per_pb_exp_in_the_tree(image: Path) -> None:
    realizer = RecordingRealizer()
    tree = ScstSystem(realizer).tree
    tree.write("/handlers/vdisk_fileio/mgmt", f"add_device f1 filename={image}")
    assert tree.read("/devices/f1/lb_per_pb_exp") == "1\n"
    tree.write("/devices/f1/lb_per_pb_exp", "0")
    assert tree.read("/devices/f1/lb_per_pb_exp") == "0\n[key]\n"
    assert ("set_device_attribute", ("f1", "lb_per_pb_exp", "0")) in realizer.calls
    with pytest.raises(OSError, match="not a number"):
        tree.write("/devices/f1/lb_per_pb_exp", "on")
    # fileio takes it at creation (SCST's fileio parses with no allow-list); blockio not
    tree.write("/handlers/vdisk_fileio/mgmt", f"add_device f2 filename={image}; lb_per_pb_exp=0")
    assert tree.read("/devices/f2/lb_per_pb_exp") == "0\n[key]\n"
    with pytest.raises(OSError, match="Unknown parameter 'lb_per_pb_exp'"):
        tree.write("/handlers/vdisk_blockio/mgmt",
                   "add_device b1 filename=/dev/null; lb_per_pb_exp=0")
