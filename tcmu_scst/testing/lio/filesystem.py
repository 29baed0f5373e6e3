"""The emulated configfs: path resolution, the generic configfs rules and the operation log.

Kernel objects (in the sibling modules) decide what a ``mkdir``, ``symlink`` or attribute
``write`` means for them; this module applies what configfs and the VFS enforce for every
object, in the kernel's order: a missing path is ENOENT, an existing name EEXIST, a default
group cannot be removed (EPERM), a group that a symlink points at cannot be removed (EBUSY,
checked before emptiness), an item with anything made by the user inside is ENOTEMPTY, an
attribute without ``store`` is EACCES, and an empty ``write`` is EFAULT.

Every mutating call is appended to :attr:`EmulatedConfigfs.log`, failed ones with their
errno, so a test can prove that a refused command changed nothing.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ...lio.configfs import CfsPath, Configfs, ConfigfsError, cfs
from .kernel import KernelState
from .nodes import Attribute, Group, Link, Node, Refused, refuse

NAME_MAX = 255
EMULATED_ROOT = "/emulated-configfs"


@dataclass(frozen=True)
class Operation:
    """One mutating call: ``error`` is None when it succeeded, else the errno."""

    op: str
    path: str
    value: str | None = None
    error: int | None = None


class EmulatedConfigfs(Configfs):
    """An in-memory configfs holding an emulation of LIO (see :mod:`tcmu_scst.testing.lio`)."""

    def __init__(self, top: Group, kernel: KernelState, root: str | Path = EMULATED_ROOT):
        self.root = Path(root)
        self.top = top
        self.kernel = kernel  # UIO devices, SCSI hosts and disks the emulated kernel made
        self.log: list[Operation] = []
        self.refusals: list[str] = []  # the reason of each refused call, like dmesg

    def __repr__(self) -> str:
        return f"EmulatedConfigfs({str(self.root)!r})"

    # -- the log --------------------------------------------------------------------------

    def changes(self) -> list[Operation]:
        """The mutating calls that succeeded, in order."""
        return [entry for entry in self.log if entry.error is None]

    def mark(self) -> int:
        """A position in the log, for :meth:`changes_since`."""
        return len(self.log)

    def changes_since(self, mark: int) -> list[Operation]:
        return [entry for entry in self.log[mark:] if entry.error is None]

    # -- resolution -----------------------------------------------------------------------

    def node(self, path: CfsPath, follow: bool = False) -> Node | None:
        """The node at ``path`` (symlinks followed on the way, and at the end if ``follow``)."""
        node: Node = self.top
        parts = cfs(path).parts
        for index, part in enumerate(parts):
            if isinstance(node, Link):
                node = node.target
            if not isinstance(node, Group):
                return None
            child = node.children.get(part)
            if child is None:
                return None
            node = child
            if index == len(parts) - 1 and follow and isinstance(node, Link):
                node = node.target
        return node

    def _parent(self, path: CfsPath) -> tuple[Group, str]:
        relative = cfs(path)
        if not relative.parts:
            refuse(errno.EEXIST, "the configfs root always exists")
        parent = self.node(relative.parent, follow=True)
        if parent is None:
            refuse(errno.ENOENT, f"{relative.parent}: no such directory")
        if not isinstance(parent, Group):
            refuse(errno.ENOTDIR, f"{relative.parent}: not a directory")
        return parent, relative.name

    def _existing(self, path: CfsPath, follow: bool = False) -> Node:
        node = self.node(path, follow)
        if node is None:
            refuse(errno.ENOENT, f"{path}: no such file or directory")
        return node

    def _run(self, operation: str, path: CfsPath, action, value: str | None = None,
             logged: bool = True):
        try:
            result = action()
        except Refused as refusal:
            self.refusals.append(f"{operation} {path}: {refusal.reason}")
            if logged:
                self.log.append(Operation(operation, str(cfs(path)), value, refusal.code))
            raise ConfigfsError(refusal.code, operation, self.absolute(path), value) from None
        if logged:
            self.log.append(Operation(operation, str(cfs(path)), value))
        return result

    # -- the Configfs interface -----------------------------------------------------------

    def mkdir(self, path: CfsPath) -> None:
        def make() -> None:
            parent, name = self._parent(path)
            if name in parent.children:
                refuse(errno.EEXIST, f"{path} exists")
            if len(name.encode()) > NAME_MAX:
                refuse(errno.ENAMETOOLONG, f"{name[:20]}...: name too long")
            parent.adopt(parent.make_item(name))

        self._run("mkdir", path, make)

    def rmdir(self, path: CfsPath) -> None:
        def remove() -> None:
            node = self._existing(path)
            if not isinstance(node, Group):
                refuse(errno.ENOTDIR, f"{path}: not a directory")
            if node.default or node.parent is None:
                refuse(errno.EPERM, f"{path}: a default group goes only with its parent")
            if node.inbound:
                refuse(errno.EBUSY, f"{path}: still the target of {len(node.inbound)} symlink(s)")
            if _has_user_content(node):
                refuse(errno.ENOTEMPTY, f"{path}: holds items or symlinks")
            node.before_drop()
            del node.parent.children[node.name]
            node.dropped()

        self._run("rmdir", path, remove)

    def read(self, path: CfsPath) -> str:
        def show() -> str:
            node = self._existing(path, follow=True)
            if isinstance(node, Group):
                refuse(errno.EISDIR, f"{path}: is a directory")
            assert isinstance(node, Attribute)
            if node.show is None:
                refuse(errno.EACCES, f"{path}: write-only")
            return node.show()

        return self._run("read", path, show, logged=False)

    def write(self, path: CfsPath, value: str) -> None:
        def store() -> None:
            node = self._existing(path, follow=True)
            if isinstance(node, Group):
                refuse(errno.EISDIR, f"{path}: is a directory")
            assert isinstance(node, Attribute)
            if node.store is None:
                refuse(errno.EACCES, f"{path}: read-only")
            if not value:
                refuse(errno.EFAULT, f"{path}: empty write")
            node.store(value)

        self._run("write", path, store, value)

    def symlink(self, target: CfsPath, link: CfsPath) -> None:
        def make() -> None:
            parent, name = self._parent(link)
            if name in parent.children:
                refuse(errno.EEXIST, f"{link} exists")
            destination = self._existing(target, follow=True)
            if not isinstance(destination, Group):
                refuse(errno.ENOTDIR, f"{target}: not a config item")
            parent.allow_link(name, destination)
            made = Link(name, parent, destination)
            parent.children[name] = made
            destination.inbound.add(made)
            parent.after_link()

        self._run("symlink", link, make, str(cfs(target)))

    def unlink(self, path: CfsPath) -> None:
        def remove() -> None:
            node = self._existing(path)
            if isinstance(node, Group):
                refuse(errno.EISDIR, f"{path}: is a directory")
            if not isinstance(node, Link):
                refuse(errno.EPERM, f"{path}: attributes cannot be removed")
            assert node.parent is not None
            del node.parent.children[node.name]
            node.target.inbound.discard(node)
            node.parent.link_dropped(node)

        self._run("unlink", path, remove)

    def readlink(self, path: CfsPath) -> PurePosixPath:
        def target() -> PurePosixPath:
            node = self._existing(path)
            if not isinstance(node, Link):
                refuse(errno.EINVAL, f"{path}: not a symlink")
            return node.target.path

        return self._run("readlink", path, target, logged=False)

    def listdir(self, path: CfsPath) -> list[str]:
        def names() -> list[str]:
            node = self._existing(path, follow=True)
            if not isinstance(node, Group):
                refuse(errno.ENOTDIR, f"{path}: not a directory")
            return sorted(node.children)

        return self._run("listdir", path, names, logged=False)

    def exists(self, path: CfsPath) -> bool:
        return self.node(path) is not None

    def is_dir(self, path: CfsPath) -> bool:
        return isinstance(self.node(path), Group)

    def is_link(self, path: CfsPath) -> bool:
        return isinstance(self.node(path), Link)


def _has_user_content(group: Group) -> bool:
    """Whether ``group`` (or a default group inside it) holds items or symlinks."""
    for child in group.children.values():
        if isinstance(child, Link):
            return True
        if isinstance(child, Group) and (not child.default or _has_user_content(child)):
            return True
    return False
