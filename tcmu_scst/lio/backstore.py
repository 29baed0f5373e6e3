"""Backstores (LIO storage objects): TCMU ``user`` devices, and ``fileio`` for system tests.

TCMU devices are created without the netlink reply protocol (``nl_reply_supported=-1``: the
kernel would otherwise wait for a daemon that tcmu-scst does not run), with every attribute
set before the first LUN links to them (the kernel refuses most changes once exported), and
with a large ``hw_max_sectors`` so the initiator may send big I/Os.  Following rtslib's
convention each storage object gets an HBA (``core/<plugin>_<N>``) of its own.
"""

from __future__ import annotations

import contextlib
import errno
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .configfs import DEFAULT_CONFIGFS, CfsPath, Configfs, ConfigfsError, as_configfs, invalid
from .rollback import Rollback

DEFAULT_MAX_SECTORS = 2048
CORE = PurePosixPath("target/core")
_HBA = re.compile(r"(rd_mcp|[a-z]+)_([0-9]+)")
_CONTROL_UNSAFE = re.compile(r"[,:\n]")


@dataclass(frozen=True)
class Backstore:
    """A storage object ``target/core/<plugin>_<hba>/<name>``."""

    fs: Configfs
    plugin: str
    hba: int
    name: str

    @property
    def cfs_path(self) -> PurePosixPath:
        return CORE / f"{self.plugin}_{self.hba}" / self.name

    @property
    def path(self) -> Path:
        """Where it lives on the host (for code that still works with plain paths)."""
        return self.fs.absolute(self.cfs_path)

    def exists(self) -> bool:
        return self.fs.is_dir(self.cfs_path)

    def is_enabled(self) -> bool:
        return self.fs.read(self.cfs_path / "enable").strip() == "1"

    def is_exported(self) -> bool:
        """Whether a LUN links to it (the kernel's ``info`` says ACTIVATED)."""
        return self.fs.read(self.cfs_path / "info").startswith("Status: ACTIVATED")

    def get_attribute(self, name: str) -> str:
        return self.fs.read(self.cfs_path / "attrib" / name).rstrip("\n")

    def set_attribute(self, name: str, value: str) -> None:
        self.fs.write(self.cfs_path / "attrib" / name, value)

    def serial(self) -> str:
        text = self.fs.read(self.cfs_path / "wwn" / "vpd_unit_serial")
        return text.partition(":")[2].strip()


class UserBackstore(Backstore):
    """A TCMU device ``core/user_<hba>/<name>``, served by one of our data-plane workers."""

    def __init__(self, fs: Configfs, hba: int, name: str):
        super().__init__(fs, "user", hba, name)


def _check_name(what: str, name: str) -> None:
    if not name or "/" in name or name in (".", "..") or len(name.encode()) > 255:
        raise invalid(f"{what} {name!r}: not a usable configfs name")


def create_user_backstore(name: str, hba: int, subtype: str, config: str, size: int,
                          block_size: int = 512, max_sectors: int = DEFAULT_MAX_SECTORS,
                          configfs: Configfs | str | Path = DEFAULT_CONFIGFS,
                          cmd_time_out: int | None = None, *,
                          attributes: Mapping[str, str] | None = None,
                          wwn: Mapping[str, str] | None = None) -> UserBackstore:
    """Create and enable ``core/user_<hba>/<name>`` (TCMU ``dev_config=<subtype>/<config>``).

    ``attributes`` go to ``attrib/``, ``wwn`` to ``wwn/`` (``vpd_unit_serial``, ``vendor_id``,
    ``product_id``, ``revision``), all before ``enable``.  On any failure the object (and an
    HBA made for it) is removed again and the error raised.
    """
    _check_name("backstore", name)
    if _CONTROL_UNSAFE.search(subtype + config) or "/" in subtype or not subtype:
        raise invalid(f"TCMU subtype/config may contain neither ',' nor ':' nor a newline, "
                      f"and the subtype no '/': {subtype!r}/{config!r}")
    if size <= 0 or block_size <= 0 or max_sectors <= 0:
        raise invalid(f"size {size}, block size {block_size} and max sectors {max_sectors} "
                      "must be positive")
    fs = as_configfs(configfs)
    backstore = UserBackstore(fs, hba, name)
    settings = dict(attributes or {})
    if cmd_time_out is not None:
        settings["cmd_time_out"] = str(cmd_time_out)
    control = (f"dev_config={subtype}/{config},dev_size={size},hw_block_size={block_size},"
               f"hw_max_sectors={max_sectors},nl_reply_supported=-1")
    with Rollback() as undo:
        _make_storage_object(backstore, undo)
        fs.write(backstore.cfs_path / "control", control)
        for attribute, value in settings.items():
            fs.write(backstore.cfs_path / "attrib" / attribute, value)
        for field, value in (wwn or {}).items():
            fs.write(backstore.cfs_path / "wwn" / field, value)
        fs.write(backstore.cfs_path / "enable", "1")
    return backstore


def create_fileio_backstore(name: str, hba: int, filename: str, size: int,
                            configfs: Configfs | str | Path = DEFAULT_CONFIGFS) -> Backstore:
    """The kernel's own file backstore (system tests serve data through it, no worker needed)."""
    _check_name("backstore", name)
    if _CONTROL_UNSAFE.search(filename):
        raise invalid(f"file name {filename!r} cannot go into a control string")
    fs = as_configfs(configfs)
    backstore = Backstore(fs, "fileio", hba, name)
    with Rollback() as undo:
        _make_storage_object(backstore, undo)
        fs.write(backstore.cfs_path / "control", f"fd_dev_name={filename},fd_dev_size={size}")
        fs.write(backstore.cfs_path / "enable", "1")
    return backstore


def _make_storage_object(backstore: Backstore, undo: Rollback) -> None:
    fs = backstore.fs
    hba = backstore.cfs_path.parent
    if not fs.exists(hba):
        fs.mkdir(hba)
        undo.add(fs.rmdir, hba)
    fs.mkdir(backstore.cfs_path)
    undo.add(fs.rmdir, backstore.cfs_path)


def remove_backstore(backstore: Backstore) -> None:
    """rmdir the storage object (EBUSY while a LUN exports it), then its HBA if now empty."""
    backstore.fs.rmdir(backstore.cfs_path)
    with contextlib.suppress(ConfigfsError):  # other storage objects may live on this HBA
        backstore.fs.rmdir(backstore.cfs_path.parent)


remove_user_backstore = remove_backstore


def list_backstores(configfs: Configfs | str | Path = DEFAULT_CONFIGFS,
                    plugin: str | None = None) -> list[Backstore]:
    """Every storage object (of ``plugin``, if given), ``user`` ones as :class:`UserBackstore`."""
    fs = as_configfs(configfs)
    found: list[Backstore] = []
    for hba_name in fs.subdirs(CORE):
        match = _HBA.fullmatch(hba_name)
        if not match or (plugin and match.group(1) != plugin):
            continue
        kind, number = match.group(1), int(match.group(2))
        for name in fs.subdirs(CORE / hba_name):
            found.append(UserBackstore(fs, number, name) if kind == "user"
                         else Backstore(fs, kind, number, name))
    return found


def unused_hba_index(configfs: Configfs | str | Path = DEFAULT_CONFIGFS, start: int = 0) -> int:
    """The lowest N >= ``start`` that no ``core/<plugin>_N`` uses (one index pool, as rtslib)."""
    fs = as_configfs(configfs)
    used = {int(match.group(2)) for name in fs.subdirs(CORE)
            if (match := _HBA.fullmatch(name))}
    index = start
    while index in used:
        index += 1
    return index


def backstore_path(fs: Configfs, backstore: Backstore | CfsPath | Path) -> PurePosixPath:
    """The configfs-relative path of a backstore given as an object or a (host) path."""
    if isinstance(backstore, Backstore):
        return backstore.cfs_path
    path = fs.relative(backstore)
    if not path.parts or path.parts[:2] != ("target", "core"):
        raise invalid(f"{backstore}: not a storage object under target/core", errno.EINVAL)
    return path
