"""A handler as a separately installed distribution would declare it, for the registry tests.

It uses the public handler API (and the built-in null store): a disk of ``size_mb`` MiB
whose reads return zeros, read-only on request.  The tests register it under the
entry-point group ``tcmu_scst.handlers`` by faking the installed metadata.
"""

from __future__ import annotations

from dataclasses import replace

from tcmu_scst.handlers.api import (
    DIRECT_ACCESS_DEVICE,
    BlockDevice,
    DiskSettings,
    HandlerDeclaration,
    Key,
    Param,
    Parameters,
    at_least,
    flag_param,
    identity,
)
from tcmu_scst.handlers.backend import NullBackend

NAME = "test_zeros"
VENDOR = "TESTPLUG"
REFERENCE = f"{__name__}:DECLARATION"


def create(name: str, params: Parameters) -> BlockDevice:
    settings = DiskSettings(read_only=params["read_only"])
    return BlockDevice(identity(name, params, VENDOR), NullBackend(params["size_mb"] << 20),
                       settings)


DECLARATION = HandlerDeclaration(
    name=NAME,
    scsi_type=DIRECT_ACCESS_DEVICE,
    vendor=VENDOR,
    params=(
        Param("size_mb", "1", key=Key.NON_DEFAULT, parse=at_least(1), help="size in MiB"),
        flag_param("read_only", "1: initiators may only read"),
    ),
    advertised=("read_only", "size_mb"),
    create=create,
)
# the same handler again, as a second distribution claiming the name would declare it
SECOND_CLAIM = replace(DECLARATION, vendor="OTHER")
# a declaration whose name is not its entry point's
MISNAMED = replace(DECLARATION, name="test_other")
