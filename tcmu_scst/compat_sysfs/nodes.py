"""The tree's building blocks: directories, attribute files and symbolic links.

Every front end (the FUSE mount, the config tool, the shell, tests) sees the SCST tree only
through these nodes, so they all get the same contents, modes and errors.  Directory contents
are computed when asked: the tree always shows the current state of the object model and never
needs to be kept in step with it.

Errors are raised as OSError with SCST's errno and a message that says what to fix; the FUSE
layer passes the errno to the writer (``echo`` prints it) and logs the message.
"""

from __future__ import annotations

import errno
import stat
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .one_command import check_command

MGMT = "mgmt"  # the management file of a directory, written with commands, read for help


def error_number(error: OSError) -> int:
    """An error's errno for a client, EIO where it has none."""
    return error.errno if isinstance(error.errno, int) and error.errno > 0 else errno.EIO

# File modes as SCST's sysfs shows them
READ_WRITE = stat.S_IFREG | 0o644
READ_ONLY = stat.S_IFREG | 0o444
WRITE_ONLY = stat.S_IFREG | 0o200
SECRET = stat.S_IFREG | 0o600  # CHAP accounts
DIRECTORY = stat.S_IFDIR | 0o755
LINK = stat.S_IFLNK | 0o777


class Node:
    mode: int = 0


@dataclass
class Attribute(Node):
    """A file: ``read`` produces its whole text; ``write`` receives one write(2) call's bytes.

    ``read`` None makes the file write-only, ``write`` None read-only (SCST answers EACCES at
    open for the wrong direction, which the FUSE layer does from the mode).
    """

    read: Callable[[], str] | None = None
    write: Callable[[str], None] | None = None
    secret: bool = False

    @property
    def mode(self) -> int:  # type: ignore[override]
        if self.secret:
            return SECRET
        if self.read is None:
            return WRITE_ONLY
        return READ_ONLY if self.write is None else READ_WRITE


@dataclass
class Link(Node):
    """A symbolic link; ``target`` is relative to the link's directory, as sysfs makes them."""

    target: str
    mode: int = LINK


@dataclass
class Directory(Node):
    """``entries`` returns the current children by name (called on every lookup)."""

    entries: Callable[[], Mapping[str, Node]] = field(default=lambda: {})
    mode: int = DIRECTORY

    def child(self, name: str) -> Node | None:
        """One entry (every lookup of a path asks this of each directory on the way)."""
        return self.entries().get(name)

    def subdirectory_count(self) -> int:
        """How many entries are directories (a directory's link count is 2 plus that)."""
        return sum(isinstance(child, Directory) for child in self.entries().values())


class ObjectDirectory(Directory):
    """A directory with a few entries of its own (``mgmt``, ``enabled`` ...) and one per
    object of a collection that can be large: ``devices/``, a handler's device links, a
    driver's targets, a LUN set.  The kernel looks up every component of every path it is
    given (its entry cache is off, see fuse_mount), so finding one entry, or counting the
    subdirectories, must not build an entry for each of a thousand objects.

    ``own()`` gives the entries of its own, ``objects()`` the collection by entry name and
    ``node(name, object)`` an object's entry; an object's entry takes the place of an own
    entry of the same name (the tree refuses such names: entry_names).
    """

    def __init__(self, own: Callable[[], Mapping[str, Node]],
                 objects: Callable[[], Mapping[str, Any]],
                 node: Callable[[str, Any], Node], objects_are_directories: bool = True):
        super().__init__(self._all)
        self.own = own
        self.objects = objects
        self.node = node
        self.objects_are_directories = objects_are_directories

    def _all(self) -> dict[str, Node]:
        children = dict(self.own())
        children.update((name, self.node(name, item)) for name, item in self.objects().items())
        return children

    def child(self, name: str) -> Node | None:
        item = self.objects().get(name)
        if item is not None:
            return self.node(name, item)
        return self.own().get(name)

    def subdirectory_count(self) -> int:
        own = sum(isinstance(child, Directory) for child in self.own().values())
        return own + (len(self.objects()) if self.objects_are_directories else 0)


class NodeCache:
    """The directory of each model object (a device, a target), built once: its entries are
    the same nodes for the object's whole life (their texts are computed at every read),
    and building them at each lookup of each path was most of what a lookup cost."""

    def __init__(self) -> None:
        self._nodes: dict[int, tuple[object, Directory]] = {}  # id(owner) -> owner, node

    def get(self, owner: object, build: Callable[[], Directory]) -> Directory:
        known = self._nodes.get(id(owner))
        if known is None or known[0] is not owner:
            known = (owner, build())
            self._nodes[id(owner)] = known
        return known[1]

    def forget(self, owner: object) -> None:
        """``owner`` is gone (its id may be given to a new object)."""
        self._nodes.pop(id(owner), None)


def constant(text: str) -> Callable[[], str]:
    return lambda: text


def fixed(children: Mapping[str, Node]) -> Callable[[], Mapping[str, Node]]:
    return lambda: children


class Tree:
    """The root directory and the two locks of the tree.

    ``commands`` makes management work one command at a time, as SCST serialises it: every
    write holds it from start to end (re-entrant: a restore's or the udev watcher's writes
    run inside their own hold).  ``lock`` guards the tree's state: readers hold it while
    they look something up or render a file, a command while it validates and while it
    commits its change.  A command's slow part (a data-plane worker starting, seconds) runs
    in :meth:`unlocked`, so reads never wait behind it; the command changes nothing before
    that part and commits after it, and since no other command can run meanwhile nothing
    it validated can change under it.  Lock order: ``commands`` before ``lock``.
    """

    def __init__(self, root: Directory):
        self.root = root
        self.commands = threading.RLock()
        self.lock = threading.RLock()

    def lookup(self, path: str) -> Node:
        """The node at ``path`` ("/handlers/vdisk_fileio/mgmt"); links are not followed."""
        node: Node = self.root
        with self.lock:  # no command commits while a directory's entries are computed
            for part in [part for part in path.split("/") if part]:
                if not isinstance(node, Directory):
                    raise OSError(errno.ENOTDIR, f"{path}: not a directory")
                child = node.child(part)
                if child is None:
                    raise OSError(errno.ENOENT, f"{path}: no such file or directory")
                node = child
        return node

    def read(self, path: str) -> str:
        return self.render(self.lookup(path), path)

    def render(self, node: Node, path: str) -> str:
        """The text a read of ``node`` (found at ``path``) shows."""
        if isinstance(node, Directory):
            raise OSError(errno.EISDIR, f"{path}: is a directory")
        if not isinstance(node, Attribute) or node.read is None:
            raise OSError(errno.EACCES, f"{path}: not readable")
        with self.lock:
            return node.read()

    def snapshot(self, path: str) -> dict[str, tuple[int, str | OSError | None]]:
        """Every entry of the directory at ``path`` with its mode and what a reader gets of
        it: a file's text (or the error its read gives), a link's target; None for a
        directory and for ``mgmt`` (a help text, long and the same in every directory of
        its kind: a reader who wants it reads it).  Under one hold of the lock, so one
        consistent picture."""
        with self.lock:
            node = self.lookup(path)
            if not isinstance(node, Directory):
                raise OSError(errno.ENOTDIR, f"{path}: not a directory")
            entries: dict[str, tuple[int, str | OSError | None]] = {}
            for name, child in node.entries().items():
                shown: str | OSError | None = None
                if isinstance(child, Link):
                    shown = child.target
                elif isinstance(child, Attribute) and name != MGMT:
                    try:
                        shown = self.render(child, f"{path.rstrip('/')}/{name}")
                    except OSError as error:
                        shown = error
                entries[name] = child.mode, shown
            return entries

    def write(self, path: str, text: str) -> None:
        with self.commands, self.lock:
            try:
                node = self.lookup(path)
                if isinstance(node, Directory):
                    raise OSError(errno.EISDIR, f"{path}: is a directory")
                if not isinstance(node, Attribute) or node.write is None:
                    raise OSError(errno.EACCES, f"{path}: not writable")
                check_command(text)  # one command, refused whole otherwise: nothing runs
                node.write(text)
            except OSError as error:
                self.finished(path, error)
                raise
            self.finished(path, None)

    def finished(self, path: str, error: OSError | None) -> None:
        """Called at the end of every write, under both locks (``error`` None: it worked)."""

    @contextmanager
    def unlocked(self) -> Iterator[None]:
        """Inside a write: run the slow part of the command with the state lock released
        (readers get in; ``commands`` stays held, so no other command does)."""
        self.lock.release()
        try:
            yield
        finally:
            self.lock.acquire()

    def listdir(self, path: str) -> list[str]:
        node = self.lookup(path)
        if not isinstance(node, Directory):
            raise OSError(errno.ENOTDIR, f"{path}: not a directory")
        return sorted(node.entries())
