"""Names of objects that become directory entries of the tree, and the names they cannot be.

A device, target, initiator group, initiator or local session appears as an entry named
after it, in a directory that also has entries of its own (``mgmt``, ``enabled``,
attributes).  An object named like one of those would replace it for as long as the object
lives: a device called ``mgmt`` takes the place of the handler's ``mgmt`` file, so nothing can
delete it any more, and the saved configuration cannot be restored.  A name that is no single
path component (empty, ``.``, ``..``, or holding ``/``) gives an entry nobody can reach and
makes listing the directory fail.  Both are refused before anything changes.

Which entries a directory has for itself is read from the directory, minus its objects, so
the functions that build the tree stay the only place that says which files it holds.
"""

from __future__ import annotations

from collections.abc import Collection

from .grammar import invalid
from .iscsi_params import CHAP_ATTRIBUTES
from .nodes import Directory, Node, ObjectDirectory

NOT_COMPONENTS = frozenset({"", ".", ".."})


def own_entries(directory: Directory, objects: Collection[str]) -> set[str]:
    """The names ``directory`` lists that are not among its ``objects``."""
    if isinstance(directory, ObjectDirectory):
        return set(directory.own())  # without building an entry per object
    return set(directory.entries()) - set(objects)


def check_entry_name(what: str, name: str, directory: Directory | None = None,
                     objects: Collection[str] = ()) -> None:
    """Refuse ``name`` for a new ``what`` ("device", "group", ...) that will appear in
    ``directory`` (whose current ``objects`` are allowed: they fail later as duplicates)."""
    if name in NOT_COMPONENTS:
        raise invalid(f"{what} name {name!r} cannot be a directory entry; choose another name")
    if "/" in name:
        raise invalid(f"{what} name {name!r} contains '/': the name becomes one directory "
                      "entry of the tree; choose another name")
    if directory is not None and name in own_entries(directory, objects):
        raise invalid(f"{what} name {name!r} is reserved: its directory has its own entry "
                      f"{name!r}; choose another name")


def chap_account_file(name: str) -> bool:
    """Whether ``name`` is one of the files ``add_attribute`` makes for CHAP accounts
    (IncomingUser, IncomingUser1, ..., OutgoingUser), even one that does not exist yet."""
    return name.rstrip("0123456789") in CHAP_ATTRIBUTES


def check_target_name(name: str, driver_directory: Node, targets: Collection[str]) -> None:
    """A new target's name: an entry of ``targets/<driver>/``, which later also holds the
    driver's CHAP account files."""
    directory = driver_directory if isinstance(driver_directory, Directory) else None
    check_entry_name("target", name, directory, targets)
    if chap_account_file(name):
        raise invalid(f"target name {name!r} is reserved for the driver's CHAP account files; "
                      "choose another name")


def subdirectory(directory: Directory, *names: str) -> Directory:
    """The directory at ``names`` below ``directory`` (its entries are built on demand)."""
    node: Node = directory
    for name in names:
        assert isinstance(node, Directory)
        found = node.child(name)
        assert found is not None
        node = found
    assert isinstance(node, Directory)
    return node
