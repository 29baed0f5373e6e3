"""Import, storage objects: rtslib backstores → SCST vdisk devices.

``fileio`` becomes ``vdisk_fileio``, ``block`` ``vdisk_blockio`` and ``ramdisk``
``vdisk_nullio``; TCMU (``user:...``) and ``pscsi`` backstores have no vdisk counterpart and
are left out, with the LUNs that export them.  Kept apart from the targets because a
backstore maps to a device on its own: the only thing the rest of the import needs from here
is which SCST device (if any) each ``/backstores/<plugin>/<name>`` became.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..model import Attributes, Device, Handler, ScstConfig
from .facts import (
    LIO_BLOCK_SIZES,
    SCST_DEVICE_NAME_MAX,
    SCST_USN_MAX,
    SO_COMMON_KEYS,
    SO_KEYS,
    SO_SEMANTIC_DEFAULTS,
    STORAGE_PLUGINS,
)
from .results import SaveconfigError, Warn
from .validate import Checker, numeric


def import_storage_object(item: object, path: str, config: ScstConfig,
                          objects: dict[str, str | None], warn: Warn) -> None:
    """Add the device one storage object becomes to ``config``, and record in ``objects``
    what its reference became (the SCST device name, None when it is left out)."""
    so = Checker.object(item, path)
    name = Checker.string(so, "name", path, required=True) or ""
    if not name or any(character.isspace() for character in name) or "/" in name:
        raise SaveconfigError(f"{path}.name", f"{name!r}: a storage object name is "
                              "non-empty, without '/' or blanks")
    given_plugin = Checker.string(so, "plugin", path, required=True) or ""
    plugin = STORAGE_PLUGINS.get(given_plugin)
    if plugin is None:
        raise SaveconfigError(f"{path}.plugin", f"unknown plugin {given_plugin!r} (known: "
                              f"{', '.join(sorted(STORAGE_PLUGINS))})")
    reference = f"/backstores/{plugin}/{name}"
    if reference in objects:
        raise SaveconfigError(path, f"a second storage object {plugin}/{name}")
    for key in sorted(set(so) - SO_KEYS[plugin] - SO_COMMON_KEYS):
        warn(f"{path}.{key}", f"not a key of {plugin} storage objects; ignored")
    attributes = Checker.object(so.get("attributes", {}), f"{path}.attributes")
    wwn = Checker.string(so, "wwn", path)
    if plugin == "user":
        user_config = Checker.string(so, "config", path, required=True) or ""
        Checker.integer(so, "size", path, required=True)
        subtype = user_config.split("/", 1)[0]
        warn(path, f"user:{subtype} (a TCMU handler such as tcmu-runner's) has no "
             "SCST vdisk counterpart; left out with its LUNs")
        objects[reference] = None
        return
    if plugin == "pscsi":
        Checker.string(so, "dev", path, required=True)
        warn(path, "pscsi pass-through has no vdisk counterpart; left out with its "
             "LUNs")
        objects[reference] = None
        return
    scst_name = name
    if name in config.device_names():
        scst_name = f"{name}_{plugin}"
        if scst_name in config.device_names():
            raise SaveconfigError(f"{path}.name", f"SCST device names are unique across "
                                  f"handlers, and both {name} and {scst_name} are taken")
        warn(path, f"SCST device names are unique across handlers: named "
             f"{scst_name}")
    if len(scst_name) > SCST_DEVICE_NAME_MAX:
        raise SaveconfigError(f"{path}.name", f"SCST device names have at most "
                              f"{SCST_DEVICE_NAME_MAX} characters")
    block_size = numeric(attributes.get("block_size", 512)) or 512
    if block_size not in LIO_BLOCK_SIZES:
        raise SaveconfigError(f"{path}.attributes.block_size",
                              f"{block_size}: not a block size LIO offers")
    if plugin in ("fileio", "block"):
        handler, lines = _backed_device(so, plugin, block_size, path, warn)
    else:
        handler, lines = _null_device(so, block_size, path, warn)
    lines += _attribute_lines(attributes, handler, path, warn)
    if wwn:
        if len(wwn) <= SCST_USN_MAX and wwn.isprintable() and " " not in wwn:
            lines.append(("usn", wwn))
        else:
            warn(f"{path}.wwn", f"the unit serial {wwn!r} does not fit SCST's usn "
                 f"({SCST_USN_MAX} characters); SCST generates one")
    device = Device(scst_name, Attributes())
    for attribute, value in lines:
        device.attributes.add(attribute, value)
    config.handlers.setdefault(handler, Handler(handler)).devices[scst_name] = device
    objects[reference] = scst_name


def _backed_device(so: dict[str, Any], plugin: str, block_size: int, path: str,
                   warn: Warn) -> tuple[str, list[tuple[str, str]]]:
    """fileio → vdisk_fileio, block → vdisk_blockio: the DEVICE lines."""
    dev = Checker.string(so, "dev", path, required=True) or ""
    if not dev.startswith("/"):
        raise SaveconfigError(f"{path}.dev", f"{dev!r}: an absolute path is needed")
    write_back = Checker.boolean(so, "write_back", path, False)
    lines = [("filename", dev)]
    if block_size != 512:
        lines.append(("blocksize", str(block_size)))
    if plugin == "fileio":
        size = Checker.integer(so, "size", path)
        if Checker.boolean(so, "aio", path, False):
            lines.append(("async", "1"))
        if size:
            warn(f"{path}.size", f"SCST takes the size from the file: {dev} "
                 f"must exist with {size} bytes (LIO creates it)")
        handler = "vdisk_fileio"
    else:
        if Checker.boolean(so, "readonly", path, False):
            lines.append(("read_only", "1"))
        Checker.boolean(so, "exclusive", path, True)
        # LIO reports the block device's own write cache whatever write_back says, and
        # so does vdisk_blockio unless told write_through: nothing to write
        return "vdisk_blockio", lines
    if not write_back:
        lines.append(("write_through", "1"))
    return handler, lines


def _null_device(so: dict[str, Any], block_size: int, path: str,
                 warn: Warn) -> tuple[str, list[tuple[str, str]]]:
    """ramdisk → vdisk_nullio (same capacity, nothing kept)."""
    size = Checker.integer(so, "size", path, required=True, low=1) or 0
    if not Checker.boolean(so, "nullio", path, False):
        warn(path, "a ramdisk keeps written data; vdisk_nullio discards it")
    lines = []
    if block_size != 512:
        lines.append(("blocksize", str(block_size)))
    if size % block_size:
        size -= size % block_size
        warn(f"{path}.size", f"rounded down to {size}, a multiple of the block "
             "size")
    lines.append(("size", str(size)))
    return "vdisk_nullio", lines


def _attribute_lines(attributes: Mapping[str, Any], handler: str, path: str,
                     warn: Warn) -> list[tuple[str, str]]:
    """The storage-object attributes a vdisk parameter expresses; warnings for the rest
    that change what an initiator gets."""
    lines = []
    if numeric(attributes.get("emulate_tpu")) == 1 or \
            numeric(attributes.get("emulate_tpws")) == 1:
        if handler == "vdisk_nullio":
            warn(f"{path}.attributes", "thin provisioning is not offered by "
                 "vdisk_nullio; dropped")
        else:
            lines.append(("thin_provisioned", "1"))
    if numeric(attributes.get("is_nonrot")) == 1:
        lines.append(("rotational", "0"))
    for attribute, default in SO_SEMANTIC_DEFAULTS.items():
        value = attributes.get(attribute)
        if value is not None and numeric(value) != default:
            warn(f"{path}.attributes.{attribute}", f"{value!r} has no vdisk "
                 "counterpart; dropped")
    return lines
