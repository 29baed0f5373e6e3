"""What every fabric's target portal group has: LUNs, node ACLs with mapped LUNs, attributes.

:class:`TargetPortalGroup` is the base of the iSCSI, loopback and FC classes.  Each method is
one SCST-level change; when it takes several configfs steps, a failure undoes the earlier
ones (see :mod:`.rollback`), so the caller never sees a half-made LUN or ACL.

An SCST initiator group maps onto LIO as the set of node ACLs that share a ``tag`` (rtslib's
convention), each ACL holding the group's LUNs as mapped LUNs.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .backstore import Backstore, backstore_path
from .completion import completion_affinity, place_completions
from .configfs import DEFAULT_CONFIGFS, CfsPath, Configfs, ConfigfsError, as_configfs, invalid
from .rollback import Rollback

ACL_TAG_MAX = 63
_LUN = re.compile(r"lun_([0-9]+)")


@dataclass(frozen=True)
class MappedLun:
    """What one initiator sees at one LUN number: a TPG LUN, possibly read-only."""

    tpg_lun: int
    read_only: bool = False


@dataclass(frozen=True)
class NodeAcl:
    initiator: str
    tag: str | None
    mapped_luns: dict[int, MappedLun] = field(default_factory=dict)


def lun_numbers(fs: Configfs, path: CfsPath) -> list[int]:
    """The N of every ``lun_N`` group in ``path``, ascending."""
    return sorted(int(match.group(1)) for name in fs.subdirs(path)
                  if (match := _LUN.fullmatch(name)))


class TargetPortalGroup:
    """``target/<fabric>/<wwn>/tpgt_<tag>`` and what lives in it."""

    fabric = ""
    supports_demo_mode = False  # whether initiators without an ACL can be let in (demo mode)

    def __init__(self, wwn: str, configfs: Configfs | str | Path = DEFAULT_CONFIGFS,
                 tag: int = 1):
        if not wwn or "/" in wwn:
            raise invalid(f"{wwn!r}: not a usable target name")
        self.fs = as_configfs(configfs)
        self.wwn = wwn
        self.tag = tag

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.wwn!r}, {self.fs!r}, tag={self.tag})"

    # -- paths -----------------------------------------------------------------------------

    @property
    def fabric_path(self) -> PurePosixPath:
        return PurePosixPath("target", self.fabric)

    @property
    def wwn_path(self) -> PurePosixPath:
        return self.fabric_path / self.wwn

    @property
    def tpg_path(self) -> PurePosixPath:
        return self.wwn_path / f"tpgt_{self.tag}"

    @property
    def tpg(self) -> Path:
        """The TPG directory on the host (for code that still works with plain paths)."""
        return self.fs.absolute(self.tpg_path)

    def exists(self) -> bool:
        return self.fs.is_dir(self.tpg_path)

    # -- the TPG itself --------------------------------------------------------------------

    def create(self) -> None:
        """mkdir the fabric (loads its module), the target and the TPG, as far as missing.

        A target made here finishes its commands on the worker's CPU (see
        :mod:`.completion`); one that already existed keeps its owner's choice.
        """
        affinity = completion_affinity()
        with Rollback() as undo:
            if not self.fs.exists(self.fabric_path):
                self.fs.mkdir(self.fabric_path)
                undo.add(self.fs.rmdir, self.fabric_path)
            if not self.fs.exists(self.wwn_path):
                self.fs.mkdir(self.wwn_path)
                undo.add(self.fs.rmdir, self.wwn_path)
                place_completions(self.fs, self.wwn_path, affinity)
            self.fs.mkdir(self.tpg_path)
            undo.add(self.fs.rmdir, self.tpg_path)
            self.after_create(undo)

    def after_create(self, undo: Rollback) -> None:
        """Fabric-specific steps of :meth:`create` (register their inverses with ``undo``)."""

    def remove(self) -> None:
        """Tear the TPG down in the kernel's order; the target too if no other TPG is left.

        Not transactional: it stops at the first refusal (say EBUSY) with what was already
        removed gone.
        """
        self.before_remove()
        for initiator in self.acls():
            self.remove_acl(initiator)
        for lun in self.luns():
            self.remove_lun(lun)
        self.remove_portals()
        self.fs.rmdir(self.tpg_path)
        if not any(name.startswith("tpgt_") for name in self.fs.subdirs(self.wwn_path)):
            self.fs.rmdir(self.wwn_path)

    def before_remove(self) -> None:
        """Fabric-specific first steps of :meth:`remove` (iSCSI disables the TPG)."""

    def remove_portals(self) -> None:
        """Fabric-specific: iSCSI removes its network portals."""

    def demo_mode(self) -> bool:
        """Whether initiators without an explicit ACL are let in; never, unless overridden."""
        return False

    def set_demo_mode(self, enabled: bool, write_protect: bool = False) -> None:
        if enabled:
            raise invalid(f"{self.fabric}: no demo mode; initiators need explicit ACLs")

    def get_attribute(self, name: str) -> str:
        return self.fs.read(self.tpg_path / "attrib" / name).rstrip("\n")

    def set_attribute(self, name: str, value: str) -> None:
        self.fs.write(self.tpg_path / "attrib" / name, value)

    def set_attributes(self, values: Mapping[str, str]) -> None:
        """Several ``attrib/`` values; if one is refused the others get their old values."""
        self._set_files(self.tpg_path / "attrib", values)

    def _set_files(self, directory: PurePosixPath, values: Mapping[str, str]) -> None:
        with Rollback() as undo:
            for name, value in values.items():
                old = self.fs.read(directory / name).rstrip("\n")
                self.fs.write(directory / name, value)
                undo.add(self.fs.write, directory / name, old)

    # -- LUNs ------------------------------------------------------------------------------

    def lun_path(self, lun: int) -> PurePosixPath:
        return self.tpg_path / "lun" / f"lun_{lun}"

    def luns(self) -> dict[int, PurePosixPath | None]:
        """TPG LUN number -> the storage object it exports (None if it holds none)."""
        result: dict[int, PurePosixPath | None] = {}
        for lun in lun_numbers(self.fs, self.tpg_path / "lun"):
            links = self.fs.links(self.lun_path(lun))
            result[lun] = self.fs.readlink(self.lun_path(lun) / links[0]) if links else None
        return result

    def add_lun(self, lun: int, backstore: Backstore | CfsPath | Path,
                alias: str | None = None) -> None:
        """``lun/lun_<lun>`` exporting ``backstore`` (symlink named ``alias`` or its name)."""
        if lun < 0:
            raise invalid(f"LUN {lun}: must not be negative")
        target = backstore_path(self.fs, backstore)
        self.check_lun_add()
        with Rollback() as undo:
            self.fs.mkdir(self.lun_path(lun))
            undo.add(self.fs.rmdir, self.lun_path(lun))
            self.fs.symlink(target, self.lun_path(lun) / (alias or target.name))

    def check_lun_add(self) -> None:
        """Fabric-specific refusal before a LUN is made (loopback needs its nexus first)."""

    link_lun = add_lun

    def remove_lun(self, lun: int) -> None:
        """Unlink and rmdir ``lun_<lun>``; EBUSY (nothing changed) while an ACL maps it."""
        path = self.lun_path(lun)
        users = [initiator for initiator in self.acls()
                 if any(mapping.tpg_lun == lun
                        for mapping in self.mapped_luns(initiator).values())]
        if users:
            raise ConfigfsError(errno.EBUSY, f"remove LUN (mapped by {', '.join(users)})",
                                self.fs.absolute(path))
        if not self.fs.is_dir(path):
            raise ConfigfsError(errno.ENOENT, "remove LUN", self.fs.absolute(path))
        with Rollback() as undo:
            for name in self.fs.links(path):
                target = self.fs.readlink(path / name)
                self.fs.unlink(path / name)
                undo.add(self.fs.symlink, target, path / name)
            self.fs.rmdir(path)

    unlink_lun = remove_lun

    # -- node ACLs and mapped LUNs -----------------------------------------------------------

    def acl_path(self, initiator: str) -> PurePosixPath:
        return self.tpg_path / "acls" / initiator

    def acls(self) -> list[str]:
        return self.fs.subdirs(self.tpg_path / "acls")

    def check_initiator(self, initiator: str) -> None:
        """Refuse an initiator name the fabric cannot take (before anything is made)."""
        if not initiator or "/" in initiator or len(initiator.encode()) > 223:
            raise invalid(f"{initiator!r}: not a usable initiator name")

    def add_acl(self, initiator: str, mapped_luns: Mapping[int, MappedLun | int] | None = None,
                tag: str | None = None) -> None:
        """A node ACL for ``initiator`` with its mapped LUNs (LUN -> TPG LUN) and group tag."""
        self.check_initiator(initiator)
        if tag is not None:
            _check_tag(tag)
        with Rollback() as undo:
            self.fs.mkdir(self.acl_path(initiator))
            undo.add(self.fs.rmdir, self.acl_path(initiator))
            for lun, mapping in (mapped_luns or {}).items():
                self._map(initiator, lun, _mapping(mapping), undo)
            if tag:
                self.fs.write(self.acl_path(initiator) / "tag", tag)

    def remove_acl(self, initiator: str) -> None:
        """Unmap every LUN of ``initiator`` and remove its ACL (ends its session)."""
        path = self.acl_path(initiator)
        if not self.fs.is_dir(path):
            raise ConfigfsError(errno.ENOENT, "remove ACL", self.fs.absolute(path))
        with Rollback() as undo:
            for lun, mapping in self.mapped_luns(initiator).items():
                self._unmap(initiator, lun, mapping, undo)
            self.fs.rmdir(path)

    def free_dynamic_acl(self, initiator: str) -> None:
        """Free the dynamic (demo-mode) ACL the kernel may hold for ``initiator``, which ends
        every session of that initiator on this TPG.

        A dynamic ACL has no configfs directory, so nothing removes it directly; but
        ``mkdir acls/<name>`` converts it into an explicit ACL, keeping its sessions and LUN
        entries (none of them in configfs), and ``rmdir`` of that ACL frees them all.  Where
        the kernel holds no dynamic ACL the pair makes and removes an empty ACL.
        """
        self.check_initiator(initiator)
        self.fs.mkdir(self.acl_path(initiator))
        self.fs.rmdir(self.acl_path(initiator))

    def mapped_luns(self, initiator: str) -> dict[int, MappedLun]:
        result: dict[int, MappedLun] = {}
        for lun in lun_numbers(self.fs, self.acl_path(initiator)):
            path = self.acl_path(initiator) / f"lun_{lun}"
            links = self.fs.links(path)
            if not links:
                continue
            target = self.fs.readlink(path / links[0])
            match = _LUN.fullmatch(target.name)
            if match:
                read_only = self.fs.read(path / "write_protect").strip() == "1"
                result[lun] = MappedLun(int(match.group(1)), read_only)
        return result

    def acl(self, initiator: str) -> NodeAcl:
        return NodeAcl(initiator, self.acl_tag(initiator), self.mapped_luns(initiator))

    def map_lun(self, initiator: str, lun: int, tpg_lun: int, read_only: bool = False) -> None:
        """Let ``initiator`` see TPG LUN ``tpg_lun`` as its LUN ``lun``."""
        with Rollback() as undo:
            self._map(initiator, lun, MappedLun(tpg_lun, read_only), undo)

    def unmap_lun(self, initiator: str, lun: int) -> None:
        mapping = self.mapped_luns(initiator).get(lun)
        path = self.acl_path(initiator) / f"lun_{lun}"
        if mapping is None:
            if self.fs.is_dir(path):  # made but never linked
                self.fs.rmdir(path)
                return
            raise ConfigfsError(errno.ENOENT, "unmap LUN", self.fs.absolute(path))
        with Rollback() as undo:
            self._unmap(initiator, lun, mapping, undo)

    def set_read_only(self, initiator: str, lun: int, read_only: bool) -> None:
        self.fs.write(self.acl_path(initiator) / f"lun_{lun}" / "write_protect",
                      "1" if read_only else "0")

    def _map(self, initiator: str, lun: int, mapping: MappedLun, undo: Rollback) -> None:
        if lun < 0:
            raise invalid(f"mapped LUN {lun}: must not be negative")
        path = self.acl_path(initiator) / f"lun_{lun}"
        self.fs.mkdir(path)
        undo.add(self.fs.rmdir, path)
        link = path / f"lun_{mapping.tpg_lun}"
        self.fs.symlink(self.lun_path(mapping.tpg_lun), link)
        undo.add(self.fs.unlink, link)
        self.fs.write(path / "write_protect", "1" if mapping.read_only else "0")

    def _unmap(self, initiator: str, lun: int, mapping: MappedLun, undo: Rollback) -> None:
        path = self.acl_path(initiator) / f"lun_{lun}"
        for name in self.fs.links(path):
            self.fs.unlink(path / name)
        undo.add(self._remap, initiator, lun, mapping)
        self.fs.rmdir(path)
        undo.add(self.fs.mkdir, path)

    def _remap(self, initiator: str, lun: int, mapping: MappedLun) -> None:
        path = self.acl_path(initiator) / f"lun_{lun}"
        self.fs.symlink(self.lun_path(mapping.tpg_lun), path / f"lun_{mapping.tpg_lun}")
        self.fs.write(path / "write_protect", "1" if mapping.read_only else "0")

    def acl_tag(self, initiator: str) -> str | None:
        text = self.fs.read(self.acl_path(initiator) / "tag").rstrip("\n")
        return text or None

    def set_acl_tag(self, initiator: str, tag: str | None) -> None:
        """Put ``initiator`` in group ``tag`` (None: in no group)."""
        if tag is not None:
            _check_tag(tag)
        self.fs.write(self.acl_path(initiator) / "tag", tag or "NULL")

    def acls_tagged(self, tag: str) -> list[str]:
        """The initiators of group ``tag``."""
        return [initiator for initiator in self.acls() if self.acl_tag(initiator) == tag]


def _check_tag(tag: str) -> None:
    if not tag or "\n" in tag or tag.startswith("NULL") or len(tag.encode()) > ACL_TAG_MAX:
        raise invalid(f"group tag {tag!r}: 1..{ACL_TAG_MAX} bytes, one line, not 'NULL...'")


def _mapping(mapping: MappedLun | int) -> MappedLun:
    return mapping if isinstance(mapping, MappedLun) else MappedLun(mapping)
