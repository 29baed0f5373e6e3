"""The parameters and attribute files that SCST's vdisk handlers have in common.

Each handler module lists its own parameters from these (scst_sysfs.md sections 4.2 to
4.4), so a parameter two handlers share is declared once, with its default, mode,
``[key]`` rule and help.
"""

from __future__ import annotations

from dataclasses import replace

from .declaration import Access, Key, Param, flag_param
from .identity import DEFAULT_REVISION
from .params import IDENTITY_LIMITS


def _identity(name: str, help: str, default: str = "", creation: bool = False) -> Param:
    """INQUIRY data: writable at run time, a ``[key]`` once given (SCST saves what was set,
    not what it generated)."""
    limit = IDENTITY_LIMITS[name]
    return Param(name, default, creation, Access.READ_WRITE, Key.WHEN_SET,
                 help=f"{help}, up to {limit} characters")


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

TASK_SET_TYPE = Param("tst", "1", help="task set type: 0 one task set for all initiators, "
                      "1 one per initiator")

COMMON_DISK = (
    Param("blocksize", "512", help="logical block size in bytes, a power of two of at "
          "least 512 (0 means 512)"),
    flag_param("read_only", "1: initiators may only read"),
    flag_param("removable", "1: INQUIRY reports a removable medium"),
    flag_param("rotational", "0: reported as a non-rotating (solid-state) medium", "1"),
    TASK_SET_TYPE,
    *IDENTITY,
)

# what the device measured: always a key but read-only and no creation parameter, so a
# config tool never saves it (size_mb is never a key at all)
MEASURED_SIZE = (
    Param("size", creation=False, key=Key.ALWAYS, help="size in bytes"),
    Param("size_mb", creation=False, key=Key.NEVER, help="size in MiB"),
)

BACKED = (
    Param("filename", creation=True, access=Access.READ_ONLY, key=Key.ALWAYS,
          help="the backing file or block device, an absolute path"),
    flag_param("write_through", "1: a write completes only once it is on stable storage"),
    flag_param("nv_cache", "1: the cache is non-volatile, cache flushes are not needed"),
    # a key "when given at creation", whatever the value (SCST)
    Param("thin_provisioned", "0", key=Key.WHEN_SET, flag=True,
          help="1: UNMAP and WRITE SAME deallocate; reported as thin-provisioned"),
    *MEASURED_SIZE,
    Param("resync_size", creation=False, access=Access.WRITE_ONLY, key=Key.NEVER,
          help="write to it after the backing file grew: the device takes its new size"),
)

