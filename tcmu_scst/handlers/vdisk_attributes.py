"""The parameters and attribute files that SCST's vdisk handlers have in common.

Each handler module lists its own parameters from these (scst_sysfs.md sections 4.2 to
4.4), so a parameter two handlers share is declared once, with its parser, default, mode,
``[key]`` rule and help.  The defaults of what DiskSettings holds are DiskSettings' own
(``params.DISK_DEFAULTS``), so they are stated once.
"""

from __future__ import annotations

from dataclasses import replace

from .declaration import Access, Key, Param, flag_param
from .identity import DEFAULT_REVISION
from .params import DISK_DEFAULTS, IDENTITY_LIMITS, read_only_excludes_caching
from .values import absolute_path, at_most_characters, block_size_bytes, one_of


def _bit(value: bool) -> str:
    return str(int(value))


def _identity(name: str, help: str, default: str = "", creation: bool = False) -> Param:
    """INQUIRY data: writable at run time, a ``[key]`` once given (SCST saves what was set,
    not what it generated)."""
    limit = IDENTITY_LIMITS[name]
    return Param(name, default, creation, Access.READ_WRITE, Key.WHEN_SET,
                 help=f"{help}, up to {limit} characters", parse=at_most_characters(limit))


VENDOR_ID = _identity("t10_vend_id", "INQUIRY vendor identification (default: the "
                      "handler's)")
PRODUCT_ID = _identity("prod_id", "INQUIRY product identification (default: the device name)")
REVISION = _identity("prod_rev_lvl", "INQUIRY product revision level", DEFAULT_REVISION)
T10_DEV_ID = _identity("t10_dev_id", "T10 device identifier (default: made from the device "
                       "name, as SCST makes it)", creation=True)
SERIAL = _identity("usn", "unit serial number (default: made from the device name)")
IDENTITY = (VENDOR_ID, PRODUCT_ID, REVISION, T10_DEV_ID, SERIAL)
# a CD-ROM drive takes no identity at creation: t10_dev_id is only written afterwards
CDROM_IDENTITY = (VENDOR_ID, PRODUCT_ID, REVISION, SERIAL, replace(T10_DEV_ID, creation=False))

TASK_SET_TYPE = Param("tst", str(DISK_DEFAULTS.tst), parse=one_of(0, 1),
                      help="task set type: 0 one task set for all initiators, 1 one per "
                           "initiator")

BLOCK_SIZE = Param("blocksize", str(DISK_DEFAULTS.block_size), parse=block_size_bytes,
                   help="logical block size in bytes, a power of two of at least 512 (0 "
                        "means 512)")
ROTATIONAL = flag_param("rotational", "0: reported as a non-rotating (solid-state) medium",
                        _bit(DISK_DEFAULTS.rotational))
COMMON_DISK = (
    BLOCK_SIZE,
    flag_param("read_only", "1: initiators may only read", _bit(DISK_DEFAULTS.read_only)),
    flag_param("removable", "1: INQUIRY reports a removable medium",
               _bit(DISK_DEFAULTS.removable)),
    ROTATIONAL,
    TASK_SET_TYPE,
    *IDENTITY,
)
# the rules across the disk parameters, for a declaration's checks
DISK_CHECKS = (read_only_excludes_caching,)

# SCST's lb_per_pb_exp (fileio and blockio): not advertised, accepted at creation, writable
LOGICAL_PER_PHYSICAL = flag_param(
    "lb_per_pb_exp", "1: READ CAPACITY(16) reports how many logical blocks make one "
    "physical block of the backing block device (its physical sector; a regular file has "
    "none); 0: reports one", _bit(DISK_DEFAULTS.lb_per_pb_exp), creation=False,
    access=Access.READ_WRITE)

# what the device measured: always a key but read-only and no creation parameter, so a
# config tool never saves it (size_mb is never a key at all)
MEASURED_SIZE = (
    Param("size", creation=False, key=Key.ALWAYS, help="size in bytes"),
    Param("size_mb", creation=False, key=Key.NEVER, help="size in MiB"),
)

BACKED = (
    Param("filename", creation=True, access=Access.READ_ONLY, key=Key.ALWAYS,
          parse=absolute_path, help="the backing file or block device, an absolute path"),
    flag_param("write_through", "1: a write completes only once it is on stable storage",
               _bit(DISK_DEFAULTS.write_through)),
    flag_param("nv_cache", "1: the cache is non-volatile, cache flushes are not needed",
               _bit(DISK_DEFAULTS.nv_cache)),
    # a key "when given at creation", whatever the value (SCST)
    Param("thin_provisioned", _bit(DISK_DEFAULTS.thin_provisioned), key=Key.WHEN_SET,
          flag=True, help="1: UNMAP and WRITE SAME deallocate; reported as "
                          "thin-provisioned"),
    *MEASURED_SIZE,
    Param("resync_size", creation=False, access=Access.WRITE_ONLY, key=Key.NEVER,
          help="write to it after the backing file grew: the device takes its new size"),
)

