"""The configfs primitives every LIO operation is built from, behind one small interface.

Two implementations share it: :class:`RealConfigfs` (plain ``os`` calls under a root
directory, ``/sys/kernel/config`` by default) and the in-memory emulation of the kernel in
:mod:`tcmu_scst.testing.lio`.  The typed operations only ever talk to this interface, so
unit tests run them against the emulation and system tests against the real kernel.

Paths are *configfs-relative* (``target/core/user_1/disk1``), as strings or
:class:`~pathlib.PurePosixPath`.  Every failure is a :class:`ConfigfsError` (an
:class:`OSError` carrying the kernel's errno) whose message names the operation and the path,
because a bare ``EINVAL`` from a ``write()`` says nothing about which of twenty writes failed.
"""

from __future__ import annotations

import abc
import errno
import os
import posixpath
from pathlib import Path, PurePosixPath

DEFAULT_CONFIGFS = "/sys/kernel/config"

CfsPath = str | PurePosixPath


class ConfigfsError(OSError):
    """A refused configfs operation: ``errno`` is the kernel's, the message names the path."""

    def __init__(self, code: int, operation: str, path: CfsPath, value: str | None = None):
        super().__init__(code, os.strerror(code), str(path))
        self.operation = operation
        self.value = value

    def __str__(self) -> str:
        if self.operation == "symlink" and self.value is not None:
            return f"symlink {self.filename} -> {self.value}: {self.strerror}"
        shown = f" {self.value.strip()!r}" if self.value is not None else ""
        return f"{self.operation}{shown} {self.filename}: {self.strerror}"


def invalid(message: str, code: int = errno.EINVAL) -> OSError:
    """The error an operation raises for a request it refuses before touching configfs."""
    return OSError(code, message)


def cfs(path: CfsPath) -> PurePosixPath:
    """A configfs-relative path, normalised (no leading slash, no ``.`` parts)."""
    text = posixpath.normpath(str(path)).lstrip("/")
    return PurePosixPath("" if text == "." else text)


class Configfs(abc.ABC):
    """The configfs operations LIO management needs; paths are relative to :attr:`root`."""

    root: Path

    @abc.abstractmethod
    def mkdir(self, path: CfsPath) -> None:
        """Create a config item or group (the kernel builds its default groups and files)."""

    @abc.abstractmethod
    def rmdir(self, path: CfsPath) -> None:
        """Remove an item made by :meth:`mkdir`; its default groups go with it."""

    @abc.abstractmethod
    def read(self, path: CfsPath) -> str:
        """The whole text of an attribute, as the kernel formats it (usually newline-ended)."""

    @abc.abstractmethod
    def write(self, path: CfsPath, value: str) -> None:
        """Store ``value`` into an existing attribute with a single ``write()``."""

    @abc.abstractmethod
    def symlink(self, target: CfsPath, link: CfsPath) -> None:
        """Create ``link`` pointing at the config item ``target``."""

    @abc.abstractmethod
    def unlink(self, path: CfsPath) -> None:
        """Remove a symlink."""

    @abc.abstractmethod
    def readlink(self, path: CfsPath) -> PurePosixPath:
        """The configfs-relative path of the item a symlink points at."""

    @abc.abstractmethod
    def listdir(self, path: CfsPath) -> list[str]:
        """Names in a directory, sorted: groups, attributes and symlinks alike."""

    @abc.abstractmethod
    def exists(self, path: CfsPath) -> bool:
        """Whether anything (group, attribute or symlink) exists at ``path``."""

    @abc.abstractmethod
    def is_dir(self, path: CfsPath) -> bool:
        """Whether ``path`` is a group (symlinks are not followed)."""

    @abc.abstractmethod
    def is_link(self, path: CfsPath) -> bool:
        """Whether ``path`` is a symlink."""

    def absolute(self, path: CfsPath) -> Path:
        """Where ``path`` lives on the host (meaningful for the real configfs only)."""
        return self.root / cfs(path)

    def relative(self, path: CfsPath | Path) -> PurePosixPath:
        """A configfs-relative path for ``path``, which may be absolute under :attr:`root`."""
        text = str(path)
        root = str(self.root).rstrip("/")
        if text == root or text.startswith(root + "/"):
            text = text[len(root):]
        return cfs(text)

    def subdirs(self, path: CfsPath) -> list[str]:
        """Names of the groups in ``path`` (plain files and symlinks left out)."""
        base = cfs(path)
        return [name for name in self.listdir(base) if self.is_dir(base / name)]

    def links(self, path: CfsPath) -> list[str]:
        """Names of the symlinks in ``path``."""
        base = cfs(path)
        return [name for name in self.listdir(base) if self.is_link(base / name)]


class RealConfigfs(Configfs):
    """configfs as mounted on this host: every call is one system call under :attr:`root`."""

    def __init__(self, root: str | Path = DEFAULT_CONFIGFS):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"RealConfigfs({str(self.root)!r})"

    def _call(self, operation: str, path: CfsPath, function, *args, value: str | None = None):
        try:
            return function(*args)
        except OSError as error:
            code = error.errno if error.errno is not None else errno.EIO
            raise ConfigfsError(code, operation, self.absolute(path), value) from None

    def mkdir(self, path: CfsPath) -> None:
        self._call("mkdir", path, os.mkdir, self.absolute(path))

    def rmdir(self, path: CfsPath) -> None:
        self._call("rmdir", path, os.rmdir, self.absolute(path))

    def read(self, path: CfsPath) -> str:
        def read_all(where: Path) -> str:
            with open(where, "rb") as handle:
                return handle.read().decode(errors="replace")

        return self._call("read", path, read_all, self.absolute(path))

    def write(self, path: CfsPath, value: str) -> None:
        def write_once(where: Path) -> None:
            # No O_CREAT: configfs cannot create files, and a missing attribute must say ENOENT.
            handle = os.open(where, os.O_WRONLY)
            try:
                os.write(handle, value.encode())
            finally:
                os.close(handle)

        self._call("write", path, write_once, self.absolute(path), value=value)

    def symlink(self, target: CfsPath, link: CfsPath) -> None:
        self._call("symlink", link, os.symlink, self.absolute(target), self.absolute(link))

    def unlink(self, path: CfsPath) -> None:
        self._call("unlink", path, os.unlink, self.absolute(path))

    def readlink(self, path: CfsPath) -> PurePosixPath:
        where = self.absolute(path)
        target = self._call("readlink", path, os.readlink, where)
        return self.relative(posixpath.normpath(posixpath.join(str(where.parent), target)))

    def listdir(self, path: CfsPath) -> list[str]:
        return sorted(self._call("listdir", path, os.listdir, self.absolute(path)))

    def exists(self, path: CfsPath) -> bool:
        return os.path.lexists(self.absolute(path))

    def is_dir(self, path: CfsPath) -> bool:
        where = self.absolute(path)
        return os.path.isdir(where) and not os.path.islink(where)

    def is_link(self, path: CfsPath) -> bool:
        return os.path.islink(self.absolute(path))


def as_configfs(configfs: Configfs | str | Path) -> Configfs:
    """Accept either a :class:`Configfs` or the mount point of a real one."""
    if isinstance(configfs, Configfs):
        return configfs
    return RealConfigfs(configfs)
