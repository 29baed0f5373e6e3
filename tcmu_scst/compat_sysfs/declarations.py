"""Each vdisk handler's parameters and attribute files, declared once as data.

One declaration drives creation-parameter parsing, the "parameters available" line of the
handler's mgmt help, the device's attribute files with their modes, and the ``[key]`` marker
rule that tells config tools what to save.  Names, defaults and rules follow SCST's vdisk
handlers (scst_sysfs.md sections 4.2 to 4.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..handlers.vdisk_nullio import DEFAULT_SIZE as NULLIO_DEFAULT_SIZE


class Key(Enum):
    """When an attribute's file ends with ``[key]``."""

    NEVER = "never"
    NON_DEFAULT = "non_default"  # its value differs from the default
    WHEN_SET = "when_set"  # given at creation or written since, whatever the value
    ALWAYS = "always"


class Access(Enum):
    NONE = "none"  # a creation parameter without a file
    READ_ONLY = "ro"
    READ_WRITE = "rw"
    WRITE_ONLY = "wo"


@dataclass(frozen=True)
class Param:
    name: str
    default: str = ""
    creation: bool = True  # listed in "The following parameters available"
    access: Access = Access.READ_ONLY
    key: Key = Key.NON_DEFAULT
    flag: bool = False  # 0/1, only the lowest bit counts


def _flag(name: str, default: str = "0", creation: bool = True,
          access: Access = Access.READ_ONLY) -> Param:
    return Param(name, default, creation, access, Key.NON_DEFAULT, flag=True)


_IDENTITY = (
    Param("t10_vend_id", creation=False, access=Access.READ_WRITE, key=Key.WHEN_SET),
    Param("prod_id", creation=False, access=Access.READ_WRITE, key=Key.WHEN_SET),
    Param("prod_rev_lvl", "3110", creation=False, access=Access.READ_WRITE, key=Key.WHEN_SET),
    Param("t10_dev_id", access=Access.READ_WRITE, key=Key.WHEN_SET),
    Param("usn", creation=False, access=Access.READ_WRITE, key=Key.WHEN_SET),
)
_COMMON_DISK = (
    Param("blocksize", "512"),
    _flag("read_only"),
    _flag("removable"),
    _flag("rotational", "1"),
    Param("tst", "1"),
    *_IDENTITY,
)
_BACKED = (
    Param("filename", creation=True, access=Access.READ_ONLY, key=Key.ALWAYS),
    _flag("write_through"),
    _flag("nv_cache"),
    # a key "when given at creation", whatever the value (SCST)
    Param("thin_provisioned", "0", key=Key.WHEN_SET, flag=True),
    # always a key, but read-only and no creation parameter: never saved
    Param("size", creation=False, key=Key.ALWAYS),
    Param("size_mb", creation=False, key=Key.NEVER),
    Param("resync_size", creation=False, access=Access.WRITE_ONLY, key=Key.NEVER),
)

HANDLER_PARAMS: dict[str, tuple[Param, ...]] = {
    "vdisk_fileio": (*_BACKED, *_COMMON_DISK, _flag("o_direct")),
    # offline: 1 while the block device is gone (udev hotplug); not SCST's, never a key
    "vdisk_blockio": (*_BACKED, *_COMMON_DISK,
                      Param("offline", "0", creation=False, key=Key.NEVER)),
    "vdisk_nullio": (
        *_COMMON_DISK,
        # [key] unless at the default: a saved creation parameter (size_mb never is)
        Param("size", str(NULLIO_DEFAULT_SIZE), access=Access.READ_ONLY),
        Param("size_mb", creation=True, access=Access.READ_ONLY, key=Key.NEVER),
        _flag("dummy"),
    ),
    "vcdrom": (
        Param("filename", "", creation=False, access=Access.READ_WRITE, key=Key.WHEN_SET),
        Param("tst", "1"),
        Param("size", creation=False, key=Key.ALWAYS),
        Param("size_mb", creation=False, key=Key.NEVER),
        *_IDENTITY[:3], _IDENTITY[4],
        Param("t10_dev_id", creation=False, access=Access.READ_WRITE, key=Key.WHEN_SET),
    ),
}

# SCST's advertised creation parameters, in SCST's own order (tools parse this line).  Some
# are accepted only with the value that means "off" here; see INERT.
ADVERTISED: dict[str, tuple[str, ...]] = {
    "vdisk_fileio": ("active", "async", "bind_alua_state", "blocksize", "cluster_mode",
                     "dif_filename", "dif_mode", "dif_static_app_tag", "dif_type", "filename",
                     "numa_node_id", "nv_cache", "o_direct", "read_only", "removable",
                     "rotational", "thin_provisioned", "tst", "t10_dev_id", "write_through"),
    "vdisk_blockio": ("active", "bind_alua_state", "blocksize", "cluster_mode", "dif_filename",
                      "dif_mode", "dif_static_app_tag", "dif_type", "filename", "numa_node_id",
                      "nv_cache", "read_only", "removable", "rotational", "thin_provisioned",
                      "tst", "t10_dev_id", "write_through"),
    "vdisk_nullio": ("blocksize", "cluster_mode", "dif_mode", "dif_static_app_tag", "dif_type",
                     "dummy", "numa_node_id", "read_only", "removable", "rotational", "size",
                     "size_mb", "tst", "t10_dev_id"),
    "vcdrom": ("tst",),
}
# Accepted for compatibility with SCST configurations, only with these values (anything else
# names a feature this target does not have: DIF, DLM clustering, inactive devices).
INERT: dict[str, tuple[str, ...]] = {
    "active": ("1",), "async": ("0", "1"), "bind_alua_state": ("0", "1"),
    "cluster_mode": ("0",), "dif_type": ("0",), "dif_mode": ("",), "dif_filename": ("",),
    "dif_static_app_tag": ("",), "numa_node_id": ("-1", "0"),
}

# handlers whose devices SCST makes read-only whatever their parameters (vcdrom: rd_only)
READ_ONLY_HANDLERS = ("vcdrom",)

HANDLER_TYPES = {
    "vdisk_fileio": "0 - Direct-access device (e.g., magnetic disk)",
    "vdisk_blockio": "0 - Direct-access device (e.g., magnetic disk)",
    "vdisk_nullio": "0 - Direct-access device (e.g., magnetic disk)",
    "vcdrom": "5 - CD-ROM device",
}
DEVICE_NAME_LIMIT = 64


def creation_params(handler: str) -> tuple[str, ...]:
    """The names SCST lists after "The following parameters available:"."""
    return ADVERTISED[handler]


def declared(handler: str, name: str) -> Param | None:
    return next((param for param in HANDLER_PARAMS[handler] if param.name == name), None)
