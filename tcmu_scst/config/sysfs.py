"""Client side of an SCST sysfs tree, as SCST's own tools use it: through the file system.

The config tool and the shell work on any tree that follows SCST's SysfsRules: ours (FUSE,
``/run/scst_tgt``) or a real SCST kernel's (``/sys/kernel/scst_tgt``).  So they never import
the object model: they read files, follow links, write commands and learn what each handler
and driver accepts from the ``mgmt`` usage texts.

Why the details are as they are:

* An attribute prints its value and, when it is configuration that differs from the default
  (or was set explicitly), a last line ``[key]``.  Only key attributes are saved.
* A write returns the errno; SCST may also answer ``EAGAIN`` while the command still runs in
  its worker, after which ``last_sysfs_mgmt_res`` tells the outcome once it stops failing with
  ``EAGAIN`` itself.  Both end here as one :class:`SysfsError` with the errno and the path.
* Every file-system call on such a tree is a round trip to the kernel's sysfs code or, on
  ours, to the daemon (FUSE with the kernel's entry cache off: each component of a path is
  looked up again, each a request).  A tool that compares a whole configuration therefore
  reads inside :meth:`ScstSysfs.cached`: each directory is listed once (the listing says
  what is a directory, a file or a link, so no entry is stat()ed for that), each file read
  once (a directory's files together) and each mode looked at once, relative to open
  directories, until the next write through the same object forgets it all.  On our tree a
  listing is a snapshot instead (directory_entries): the entries, the files' texts and
  modes, the links' targets and the subdirectories that fit, in one request; SCST's sysfs
  refuses it and is read entry by entry.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tcmu_scst.config.directory_entries import Entry

KEY_MARK = "[key]"
DEFAULT_ROOTS = ("/run/scst_tgt", "/sys/kernel/scst_tgt")
ROOT_ENVIRONMENT = "SCST_SYSFS_ROOT"
RESULT_FILE = "last_sysfs_mgmt_res"
EAGAIN_POLL_SECONDS = 1.0
EAGAIN_LIMIT_SECONDS = 300.0


class SysfsError(OSError):
    """A read or write the tree refused; ``str()`` is one line naming the file."""

    def __init__(self, code: int, message: str, path: str):
        super().__init__(code, message)
        self.path = path

    def __str__(self) -> str:
        return f"{self.path}: {self.strerror} ({errno.errorcode.get(self.errno or 0, '?')})"


@dataclass(frozen=True)
class AttributeValue:
    """An attribute's value (its lines without the key mark) and whether it is a key."""

    value: str
    key: bool

    @classmethod
    def parse(cls, text: str) -> AttributeValue:
        lines = text.split("\n")
        while lines and lines[-1] == "":
            lines.pop()
        key = bool(lines) and lines[-1] == KEY_MARK
        if key:
            lines.pop()
            while lines and lines[-1] == "":
                lines.pop()
        return cls("\n".join(lines), key)


@dataclass(frozen=True)
class MgmtCommand:
    """One usage line: ``verb`` and the words after it (``[parameters]`` included)."""

    verb: str
    arguments: tuple[str, ...]

    @property
    def takes_parameters(self) -> bool:
        return "[parameters]" in self.arguments


_USAGE_LINE = re.compile(r'^\s*(?:Usage:\s*)?echo\s+"([^"]*)"\s*>\s*mgmt\s*$')
_LIST_LINE = re.compile(r"^The following (.+?) available:\s*(.*)$")


@dataclass(frozen=True)
class MgmtHelp:
    """What a ``mgmt`` file says it accepts.

    ``lists`` maps each "The following X available" label to its names, e.g.
    ``parameters`` (creation parameters), ``target driver attributes``, ``target
    attributes``, ``dev handler attributes``, ``device attributes``.
    """

    commands: tuple[MgmtCommand, ...]
    lists: dict[str, tuple[str, ...]] = field(default_factory=dict)
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> MgmtHelp:
        commands = []
        lists: dict[str, tuple[str, ...]] = {}
        for line in text.splitlines():
            usage = _USAGE_LINE.match(line)
            if usage:
                words = usage.group(1).split()
                if words:
                    commands.append(MgmtCommand(words[0].lower(), tuple(words[1:])))
                continue
            listed = _LIST_LINE.match(line.strip())
            if listed:
                names = tuple(name.strip() for name in listed.group(2).split(",") if name.strip())
                lists[listed.group(1)] = lists.get(listed.group(1), ()) + names
        return cls(tuple(commands), lists, text)

    @property
    def verbs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(command.verb for command in self.commands))

    @property
    def parameters(self) -> tuple[str, ...]:
        """Creation parameters (for ``add_device``/``add_target``/``add``)."""
        return self.lists.get("parameters", ())

    def command(self, verb: str) -> MgmtCommand | None:
        for command in self.commands:
            if command.verb == verb.lower():
                return command
        return None


def default_root() -> Path:
    """``$SCST_SYSFS_ROOT``, else ours if mounted, else the real SCST kernel's path."""
    given = os.environ.get(ROOT_ENVIRONMENT)
    if given:
        return Path(given)
    for candidate in DEFAULT_ROOTS:
        if os.path.isdir(os.path.join(candidate, "handlers")):
            return Path(candidate)
    return Path(DEFAULT_ROOTS[0])


class TreeAccess(Protocol):
    """How :class:`ScstSysfs` reaches a tree: the file system, or an SCST tree in this process.

    The daemon saves its configuration with the same code the config tool uses, but it must
    not read its own FUSE mount while it serves a write (the write holds the tree's lock and
    the FUSE thread that would answer the read waits for it), so it reads the tree object
    directly.  Paths are relative to the tree's root; errors are OSError with the errno.
    """

    def kind(self, relative: str) -> str | None:
        """``"dir"``, ``"file"``, ``"link"`` or None for nothing there (links not followed)."""
        ...

    def scan(self, relative: str) -> dict[str, str]:
        """A directory's entries with their kinds (as :meth:`kind` says them), in one call."""
        ...

    def mode(self, relative: str) -> int: ...
    def readable(self, relative: str) -> bool: ...
    def readlink(self, relative: str) -> str: ...
    def read(self, relative: str) -> str: ...
    def write(self, relative: str, text: str) -> None: ...

    def read_many(self, relative: str, names: list[str]) -> dict[str, str | OSError]:
        """The files ``names`` of directory ``relative``, each as :meth:`read` gives it (or
        the error it raised); in any order, possibly at once."""
        ...

    def snapshot(self, relative: str) -> dict[str, Entry] | None:
        """All entries of a directory with their modes, files' texts and links' targets, in
        one call where the tree can answer so (our FUSE tree, while held); else None."""
        ...

    def hold(self) -> None:
        """From now on the access may keep directories open (see FileAccess)."""
        ...

    def release(self, keep: Collection[str] = ()) -> None:
        """Close what :meth:`hold` kept, except the directories ``keep`` (relative paths
        known to exist still): the tree may have changed under it."""
        ...


READ_SIZE = 1 << 16  # more than any attribute or help text (sysfs: one page)
HELD_DIRECTORIES = 32  # enough for a depth-first walk of an SCST tree
PARALLEL_READS = 4  # files of one directory read at once (each read is four round trips)


def _outcome(read: Callable[..., str], *arguments: object) -> str | OSError:
    try:
        return read(*arguments)
    except OSError as error:
        return error


def _as_read(text: str) -> str:
    """Line ends as a text-mode open() reads them."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


class _OpenDirectories:
    """Directories kept open (the most recently used ones), each opened relative to its
    parent.  A call on ``dir/name`` with ``dir`` open makes the kernel look up ``name``
    alone; a path from the root makes it look up every component, and with FUSE and its
    entry cache off each of those is a request to the daemon."""

    def __init__(self, root: Path):
        self.root = root
        self._open: OrderedDict[str, int] = OrderedDict()
        # modes of the files read meanwhile: fstat() of an open file costs no request (the
        # kernel keeps the attributes its lookup fetched), a stat() by name is a lookup
        self.modes: dict[str, int] = {}

    def fd(self, relative: str) -> int:
        fd = self._open.get(relative)
        if fd is not None:
            self._open.move_to_end(relative)
            return fd
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
        if relative:
            parent, _, name = relative.rpartition("/")
            fd = os.open(name, flags, dir_fd=self.fd(parent))
        else:
            fd = os.open(self.root, flags)
        self._open[relative] = fd
        while len(self._open) > HELD_DIRECTORIES:
            os.close(self._open.popitem(last=False)[1])
        return fd

    def close(self, keep: Collection[str] = ()) -> None:
        """Close every directory but those in ``keep``; forget the modes."""
        for relative in [relative for relative in self._open if relative not in keep]:
            os.close(self._open.pop(relative))
        self.modes.clear()


class FileAccess:
    """A tree reached through the file system (a FUSE mount or a real SCST kernel's sysfs)."""

    def __init__(self, root: Path):
        self.root = root
        self._held: _OpenDirectories | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._together = True  # the tree answers DIRECTORY_XATTR, until it says not

    def path(self, relative: str) -> Path:
        return self.root / relative.strip("/") if relative.strip("/") else self.root

    def hold(self) -> None:
        if self._held is None:
            self._held = _OpenDirectories(self.root)

    def release(self, keep: Collection[str] = ()) -> None:
        if self._held is None:
            return
        self._held.close(keep)
        if not keep:
            self._held = None

    def _at(self, relative: str) -> tuple[str | Path, int | None]:
        """``(path, dir_fd)`` for the os functions: the name in its open parent directory
        while held, else the whole path."""
        relative = relative.strip("/")
        if self._held is None or not relative:
            return self.path(relative), None
        parent, _, name = relative.rpartition("/")
        return name, self._held.fd(parent)

    def kind(self, relative: str) -> str | None:
        path, directory = self._at(relative)
        try:
            mode = os.lstat(path, dir_fd=directory).st_mode
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(mode):
            return "link"
        return "dir" if stat.S_ISDIR(mode) else "file"

    def scan(self, relative: str) -> dict[str, str]:
        # the directory entries carry their types (d_type): no stat() per entry
        relative = relative.strip("/")
        where: int | Path = self._held.fd(relative) if self._held else self.path(relative)
        with os.scandir(where) as entries:
            return {entry.name: "link" if entry.is_symlink() else
                    "dir" if entry.is_dir(follow_symlinks=False) else "file"
                    for entry in entries}

    def mode(self, relative: str) -> int:
        known = self._held.modes.get(relative.strip("/")) if self._held else None
        if known is not None:
            return known
        path, directory = self._at(relative)
        return os.stat(path, dir_fd=directory).st_mode

    def readable(self, relative: str) -> bool:
        path, directory = self._at(relative)
        return os.access(path, os.R_OK, dir_fd=directory) and bool(self.mode(relative) & 0o444)

    def readlink(self, relative: str) -> str:
        path, directory = self._at(relative)
        return os.readlink(path, dir_fd=directory)

    def read(self, relative: str) -> str:
        return self._read(relative.strip("/"), *self._at(relative))

    def read_many(self, relative: str, names: list[str]) -> dict[str, str | OSError]:
        """While held, the files are read by a few threads at once: a read of a FUSE tree
        is four round trips (lookup, open, read, release), and they overlap."""
        if self._held is None or len(names) < 2:
            return {name: _outcome(self.read, f"{relative}/{name}") for name in names}
        directory = self._held.fd(relative.strip("/"))  # stays open: only this thread evicts
        if self._readers is None:
            self._readers = ThreadPoolExecutor(PARALLEL_READS, thread_name_prefix="sysfs-read")
        base = relative.strip("/")
        outcomes = self._readers.map(
            lambda name: _outcome(self._read, f"{base}/{name}".lstrip("/"), name, directory),
            names)
        return dict(zip(names, outcomes, strict=True))

    def snapshot(self, relative: str) -> dict[str, Entry] | None:
        """While held, on our tree: the directory's entries from one request (see
        directory_entries); None where the tree cannot answer so."""
        if not self._together or self._held is None:
            return None
        # on first use: ctypes is a tenth of --help's start in a TCG guest
        from tcmu_scst.config.directory_entries import (  # noqa: PLC0415
            Unsupported,
            directory_entries,
        )
        try:
            return directory_entries(self._held.fd(relative.strip("/")))
        except Unsupported:
            self._together = False
            return None

    def _read(self, relative: str, path: str | Path, directory: int | None) -> str:
        # os.open rather than open(): open() calls fstat() twice (no request while the
        # attributes are kept, but held or not: see _OpenDirectories.modes)
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC, dir_fd=directory)
        try:
            held = self._held
            if held is not None:
                held.modes[relative] = os.fstat(fd).st_mode
            chunks = []
            while True:
                chunk = os.read(fd, READ_SIZE)
                chunks.append(chunk)
                if len(chunk) < READ_SIZE:  # sysfs and our tree return all there is at once
                    break
        finally:
            os.close(fd)
        return _as_read(b"".join(chunks).decode("utf-8", errors="replace"))

    def write(self, relative: str, text: str) -> None:
        # one write(2) call: SCST executes what a single write delivers
        path, directory = self._at(relative)
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC, dir_fd=directory)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)


@dataclass
class _Remembered:
    """What one :meth:`ScstSysfs.cached` scope has learnt of the tree, by relative path
    (a stored OSError is the answer too: the path is not there, or not readable)."""

    listings: dict[str, dict[str, str] | OSError] = field(default_factory=dict)
    texts: dict[str, str | SysfsError] = field(default_factory=dict)
    modes: dict[str, int | OSError] = field(default_factory=dict)
    readable: dict[str, bool] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    # after a write a question about one entry is asked of that entry: listing its parent
    # again for each would be O(N) per write (a driver's thousand targets, each added)
    after_write: bool = False


class ScstSysfs:
    """Access to one SCST tree; every path is relative to ``root``.

    ``access`` replaces the file system (see :class:`TreeAccess`); by default the tree is
    reached through the files under ``root``.  Outside :meth:`cached` every question goes to
    the tree, so a long-lived object (the shell's) always sees the tree as it is now.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None,
                 eagain_limit: float = EAGAIN_LIMIT_SECONDS,
                 access: TreeAccess | None = None):
        self.root = Path(root) if root is not None else default_root()
        self.eagain_limit = eagain_limit
        self.access: TreeAccess = access or FileAccess(self.root)
        self._remembered: _Remembered | None = None

    @contextmanager
    def cached(self) -> Iterator[None]:
        """Within: each listing, file text and mode is asked of the tree once, and forgotten
        at every write through this object (a write may change anything: ``enabled`` sets
        ``rel_tgt_id``, ``add_device`` adds entries in two directories).  Changes made by
        others meanwhile are not seen, as with any tool that reads before it writes.
        Nested scopes share the outer one's memory."""
        if self._remembered is not None:
            yield
            return
        self._remembered = _Remembered()
        self.access.hold()
        try:
            yield
        finally:
            self._remembered = None
            self.access.release()

    def _forget(self, written: str) -> None:
        """Before a write: forget all that was learnt.  The written file's directories stay
        open: a command removes objects below the directory it is written in (or, for a
        device, its LUNs elsewhere), never that directory or one above it."""
        if self._remembered is not None:
            self._remembered = _Remembered(after_write=True)
            parts = written.strip("/").split("/")[:-1]
            self.access.release(keep=["/".join(parts[:depth]) for depth in range(len(parts) + 1)])
            self.access.hold()

    def path(self, relative: str) -> Path:
        return self.root / relative.strip("/") if relative.strip("/") else self.root

    def _error(self, error: OSError, relative: str) -> SysfsError:
        return SysfsError(error.errno or errno.EIO, error.strerror or str(error),
                          str(self.path(relative)))

    def check(self) -> None:
        """Refuse early, with a clear message, a root that is no SCST tree."""
        if not self.is_dir("handlers") or not self.is_dir("targets"):
            raise SysfsError(errno.ENOENT, "no SCST sysfs tree here (is tcmu-scstd running, or "
                             f"set --root / {ROOT_ENVIRONMENT})", str(self.root))

    # -- reading -------------------------------------------------------------------------------

    def _kind(self, relative: str) -> str | None:
        relative = relative.strip("/")
        parent, _, name = relative.rpartition("/")
        if self._remembered is None or not relative or self._listing_too_costly(parent):
            try:
                return self.access.kind(relative)
            except OSError:
                return None
        # the parent's listing answers
        try:
            return self._scan(parent).get(name)
        except OSError:
            return None

    def _list_parent(self, relative: str) -> None:
        """In a scope, list the directory of ``relative`` (a snapshot of it brings its
        files' texts and links' targets along), unless that is the question a write made
        too costly to ask (see ``_Remembered.after_write``)."""
        parent = relative.strip("/").rpartition("/")[0]
        if self._remembered is None or self._listing_too_costly(parent):
            return
        with contextlib.suppress(OSError):  # the entry's own call says why
            self._scan(parent)

    def _listing_too_costly(self, directory: str) -> bool:
        """After a write, a directory not listed since is not listed for one entry of it
        (see ``_Remembered.after_write``)."""
        remembered = self._remembered
        return (remembered is not None and remembered.after_write
                and directory not in remembered.listings)

    def _scan(self, relative: str) -> dict[str, str]:
        """Names and kinds in a directory (remembered in a :meth:`cached` scope)."""
        relative = relative.strip("/")
        remembered = self._remembered
        if remembered is None:
            return self.access.scan(relative)
        known = remembered.listings.get(relative)
        if known is None:
            try:
                snapshot = self.access.snapshot(relative)
                known = (self._learn(remembered, relative, snapshot) if snapshot is not None
                         else self.access.scan(relative))
            except OSError as error:
                known = error
            remembered.listings[relative] = known
        if isinstance(known, OSError):
            raise known
        return known

    def _learn(self, remembered: _Remembered, relative: str,
               snapshot: dict[str, Entry]) -> dict[str, str]:
        """Remember a directory's snapshot: its files' texts and modes, its links' targets,
        the subdirectories that came with it; the listing is returned.  A file that
        answered EAGAIN, or that came without its text (``mgmt``), is read when asked."""
        for name, entry in snapshot.items():
            path = f"{relative}/{name}".lstrip("/")
            if isinstance(entry.shown, dict):  # a subdirectory that came along
                if path not in remembered.listings:
                    remembered.listings[path] = self._learn(remembered, path, entry.shown)
            elif entry.kind == "link" and isinstance(entry.shown, str):
                remembered.links.setdefault(path, entry.shown)
            elif entry.kind == "file":
                remembered.modes.setdefault(path, entry.mode)
                if path in remembered.texts:
                    continue  # read earlier in this scope: the first answer stands
                if isinstance(entry.shown, str):
                    remembered.texts[path] = _as_read(entry.shown)
                elif isinstance(entry.shown, OSError) and entry.shown.errno != errno.EAGAIN:
                    remembered.texts[path] = self._error(entry.shown, path)
        return {name: entry.kind for name, entry in snapshot.items()}

    def _remember(self, table: dict[str, int | OSError], relative: str,
                  ask: Callable[[], int]) -> int:
        """``ask()`` once per scope for ``relative``; an OSError is remembered and raised."""
        if self._remembered is None:
            return ask()
        known = table.get(relative)
        if known is None:
            try:
                known = ask()
            except OSError as error:
                known = error
            table[relative] = known
        if isinstance(known, OSError):
            raise known
        return known

    def exists(self, relative: str) -> bool:
        return self._kind(relative) is not None

    def is_dir(self, relative: str) -> bool:
        return self._kind(relative) == "dir"

    def is_link(self, relative: str) -> bool:
        return self._kind(relative) == "link"

    def is_file(self, relative: str) -> bool:
        return self._kind(relative) == "file"

    def readlink(self, relative: str) -> str:
        """The name a link points at (its last component, as SCST links name objects)."""
        return os.path.basename(self.link_target(relative))

    def link_target(self, relative: str) -> str:
        """The whole (relative) path a link points at."""
        if self._remembered is not None:
            self._list_parent(relative)  # the directory's snapshot may bring it
            known = self._remembered.links.get(relative.strip("/"))
            if known is not None:
                return known
        try:
            return self.access.readlink(relative)
        except OSError as error:
            raise self._error(error, relative) from None

    def _kinds(self, relative: str) -> dict[str, str]:
        """A directory's entries and their kinds; an absent directory has none."""
        try:
            return self._scan(relative)
        except OSError as error:
            if error.errno in (errno.ENOENT, errno.ENOTDIR):
                return {}
            raise self._error(error, relative) from None

    def entries(self, relative: str) -> list[str]:
        """Names in a directory, sorted; an absent directory has none."""
        return sorted(self._kinds(relative))

    def _of_kind(self, relative: str, kind: str) -> list[str]:
        return sorted(name for name, found in self._kinds(relative).items() if found == kind)

    def subdirectories(self, relative: str) -> list[str]:
        return self._of_kind(relative, "dir")

    def links(self, relative: str) -> list[str]:
        return self._of_kind(relative, "link")

    def files(self, relative: str) -> list[str]:
        """Regular files (attributes and ``mgmt``) in a directory."""
        return self._of_kind(relative, "file")

    def read(self, relative: str) -> str:
        remembered = self._remembered
        if remembered is not None:
            relative = relative.strip("/")
            if relative not in remembered.texts:
                self._list_parent(relative)  # the directory's snapshot may bring the text
            known = remembered.texts.get(relative)
            if isinstance(known, SysfsError):
                raise known
            if known is not None:
                return known
        try:
            text = self._read_now(relative)
        except SysfsError as error:
            if remembered is not None:
                remembered.texts[relative] = error
            raise
        if remembered is not None:
            remembered.texts[relative] = text
        return text

    def _read_now(self, relative: str) -> str:
        deadline = time.monotonic() + self.eagain_limit
        while True:
            try:
                return self.access.read(relative)
            except OSError as error:
                if error.errno == errno.EAGAIN and time.monotonic() < deadline:
                    time.sleep(EAGAIN_POLL_SECONDS)
                    continue
                raise self._error(error, relative) from None

    def attribute(self, relative: str) -> AttributeValue:
        return AttributeValue.parse(self.read(relative))

    def readable(self, relative: str) -> bool:
        remembered = self._remembered
        if remembered is not None and relative in remembered.readable:
            return remembered.readable[relative]
        try:
            found = self.access.readable(relative)
        except OSError:
            found = False
        if remembered is not None:
            remembered.readable[relative] = found
        return found

    def writable(self, relative: str) -> bool:
        table = self._remembered.modes if self._remembered is not None else {}
        try:
            return bool(self._remember(table, relative,
                                       lambda: self.access.mode(relative)) & 0o222)
        except OSError:
            return False

    def key_attributes(self, relative: str) -> dict[str, str]:
        """Every readable attribute of a directory marked ``[key]``, by file name."""
        return {name: value.value for name, value in self.attributes(relative).items()
                if value.key}

    def attributes(self, relative: str,
                   ignore: Collection[str] = ()) -> dict[str, AttributeValue]:
        """Every readable attribute file of a directory (``mgmt`` and ``ignore`` excluded,
        and not read), by name."""
        found = {}
        names = [name for name in self.files(relative) if name != "mgmt" and name not in ignore]
        self.read_ahead(relative, names)
        for name in names:
            try:  # a write-only or secret file refuses the open (EACCES): no stat() first
                found[name] = self.attribute(f"{relative}/{name}")
            except SysfsError:
                continue
        return found

    def read_ahead(self, relative: str, names: list[str]) -> None:
        """In a :meth:`cached` scope, read the files of one directory together (the access
        may read them at once); a file that answered EAGAIN is read again when asked."""
        remembered = self._remembered
        if remembered is None:
            return
        paths = {name: f"{relative}/{name}".strip("/") for name in names}
        wanted = [name for name, path in paths.items() if path not in remembered.texts]
        for name, outcome in self.access.read_many(relative, wanted).items():
            if isinstance(outcome, OSError):
                if outcome.errno != errno.EAGAIN:
                    remembered.texts[paths[name]] = self._error(outcome, paths[name])
            else:
                remembered.texts[paths[name]] = outcome

    def mgmt_help(self, relative: str) -> MgmtHelp:
        """The usage text of ``relative`` (a ``mgmt`` file, or a directory holding one)."""
        if self.is_dir(relative) or relative.strip("/") == "":
            relative = f"{relative}/mgmt"
        return MgmtHelp.parse(self.read(relative))

    # -- writing -------------------------------------------------------------------------------

    def write(self, relative: str, text: str) -> None:
        """Write one command or value; return when SCST has finished it, raise if it failed."""
        if not text.endswith("\n"):
            text += "\n"
        self._forget(relative)
        try:
            self.access.write(relative, text)
        except OSError as error:
            if error.errno != errno.EAGAIN:
                raise self._error(error, relative) from None
            self._wait_for_result(str(self.path(relative)))

    def _wait_for_result(self, path: str) -> None:
        """SCST answered EAGAIN: the command still runs; its result comes later."""
        deadline = time.monotonic() + self.eagain_limit
        while time.monotonic() < deadline:
            try:
                result = int(self.access.read(RESULT_FILE).split()[0])
            except OSError as error:
                if error.errno != errno.EAGAIN:
                    raise SysfsError(error.errno or errno.EIO, "cannot read the command's result",
                                     path) from None
                time.sleep(EAGAIN_POLL_SECONDS)
                continue
            if result < 0:
                raise SysfsError(-result, os.strerror(-result), path)
            return
        raise SysfsError(errno.ETIMEDOUT, f"no result after {self.eagain_limit:.0f} s", path)

    def walk(self, relative: str = "") -> Iterator[str]:
        """Every path under ``relative`` (links listed, not followed), depth first, sorted."""
        for name in self.entries(relative):
            child = f"{relative}/{name}".lstrip("/")
            yield child
            if self.is_dir(child):
                yield from self.walk(child)
