"""The building blocks of the emulated configfs tree: groups, attributes and symlinks.

A :class:`Group` is a configfs directory.  It is either a *default group* (made by the kernel
together with its parent, never removable) or an *item* made by ``mkdir``.  Kernel objects
subclass it and override the hooks the kernel's configfs callbacks stand for: what ``mkdir``
inside creates (:meth:`Group.make_item`), which symlinks it accepts (:meth:`Group.allow_link`)
and what happens when they go.  The generic rules (EEXIST, EPERM on default groups, EBUSY for
a symlink target, ENOTEMPTY) live in :mod:`.filesystem`, once for every object.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import NoReturn


class Refused(Exception):
    """The kernel said no: ``code`` is the errno, ``reason`` what dmesg would explain."""

    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


def refuse(code: int, reason: str) -> NoReturn:
    raise Refused(code, reason)


class Node:
    def __init__(self, name: str, parent: Group | None):
        self.name = name
        self.parent = parent

    @property
    def path(self) -> PurePosixPath:
        parts: list[str] = []
        node: Node | None = self
        while node is not None and node.parent is not None:
            parts.append(node.name)
            node = node.parent
        return PurePosixPath(*reversed(parts)) if parts else PurePosixPath("")


Show = Callable[[], str]
Store = Callable[[str], None]


class Attribute(Node):
    """A configfs attribute file; ``show``/``store`` are None when it cannot be read/written."""

    def __init__(self, name: str, parent: Group, show: Show | None, store: Store | None):
        super().__init__(name, parent)
        self.show = show
        self.store = store


class Link(Node):
    def __init__(self, name: str, parent: Group, target: Group):
        super().__init__(name, parent)
        self.target = target


class Group(Node):
    """A configfs directory; subclasses stand for kernel objects."""

    def __init__(self, name: str, parent: Group | None, default: bool = False):
        super().__init__(name, parent)
        self.default = default
        self.children: dict[str, Node] = {}
        self.inbound: set[Link] = set()  # symlinks elsewhere that point at this group

    # -- building the kernel's default content --------------------------------------------

    def group(self, name: str) -> Group:
        """Add a plain default group (for groups with no behaviour of their own)."""
        return self.adopt(Group(name, self, default=True))

    def adopt(self, child: Group) -> Group:
        self.children[child.name] = child
        return child

    def attribute(self, name: str, show: Show | None = None, store: Store | None = None) -> None:
        self.children[name] = Attribute(name, self, show, store)

    def value(self, name: str, initial: str, parse: Callable[[str], str] | None = None,
              newline: bool = True) -> None:
        """A read-write attribute that keeps what was stored (after ``parse`` checked it)."""
        cell = [initial]

        def store(text: str) -> None:
            cell[0] = parse(text) if parse else text

        self.attribute(name, lambda: cell[0] + ("\n" if newline else ""), store)

    def constant(self, name: str, text: str) -> None:
        """A read-only attribute with fixed content."""
        self.attribute(name, lambda: text)

    # -- the configfs callbacks, overridden by kernel objects -----------------------------

    def make_item(self, name: str) -> Group:
        """``mkdir name`` inside this group: the new (not yet attached) item."""
        refuse(errno.EPERM, f"{self.path}: no items can be made here")

    def allow_link(self, name: str, target: Group) -> None:
        """Refuse (with :func:`refuse`) a symlink ``name`` -> ``target`` made in this group."""
        refuse(errno.EPERM, f"{self.path}: symlinks are not allowed here")

    def after_link(self) -> None:
        """A symlink accepted by :meth:`allow_link` is now in place."""

    def link_dropped(self, link: Link) -> None:
        """A symlink in this group was removed."""

    def before_drop(self) -> None:
        """Refuse ``rmdir`` of this item for reasons beyond the generic ones."""

    def dropped(self) -> None:
        """This item was removed by ``rmdir``."""

    # -- helpers --------------------------------------------------------------------------

    def link_in(self) -> Link | None:
        """The (first) symlink inside this group, for items that hold one."""
        for child in self.children.values():
            if isinstance(child, Link):
                return child
        return None


_UNSIGNED = re.compile(r"\+?[0-9]+")
_SIGNED = re.compile(r"[+-]?[0-9]+")


def parse_int(text: str, low: int | None = None, high: int | None = None,
              signed: bool = False, what: str = "value") -> int:
    """Decimal number as the kernel's ``kstrto*`` reads it (one trailing newline allowed)."""
    body = text[:-1] if text.endswith("\n") else text
    if not (_SIGNED if signed else _UNSIGNED).fullmatch(body):
        refuse(errno.EINVAL, f"{what}: {text!r} is not a number")
    number = int(body)
    if (low is not None and number < low) or (high is not None and number > high):
        refuse(errno.EINVAL, f"{what}: {number} outside {low}..{high}")
    return number


def item_number(name: str, prefix: str, high: int) -> int:
    """The N of an item named ``<prefix>N`` (``tpgt_1``, ``lun_0``); EINVAL otherwise."""
    if not name.startswith(prefix) or not _UNSIGNED.fullmatch(name[len(prefix):]):
        refuse(errno.EINVAL, f"{name!r}: expected {prefix}<number>")
    number = int(name[len(prefix):])
    if number > high:
        refuse(errno.EINVAL, f"{name!r}: number above {high}")
    return number
