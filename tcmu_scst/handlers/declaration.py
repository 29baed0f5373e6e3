"""The public handler API: what a dev handler declares so that the SCST tree can offer it.

A handler is one :class:`HandlerDeclaration`, made in the handler's own module and
registered under the entry-point group ``tcmu_scst.handlers`` (see ``registry``): the tree
learns from it alone the handler's directory (``handlers/<name>/mgmt`` and its help
text, ``type``), which creation parameters ``add_device`` accepts, the attribute files of
its devices with their modes and ``[key]`` rules, and how to build a device.  Nothing
else in the management layer names a handler, so a separately installed distribution adds
one without changing this package.

This module is imported by the daemon and by every worker, so it imports nothing heavy:
the device classes are named for type checking only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .disk import ScsiDevice


class Key(Enum):
    """When an attribute's file ends with ``[key]``: the marker that tells SCST's config
    tools (``-write_config``, scstadmin) that the value belongs in a saved configuration."""

    NEVER = "never"
    NON_DEFAULT = "non_default"  # its value differs from the default
    WHEN_SET = "when_set"  # given at creation or written since, whatever the value
    ALWAYS = "always"


class Access(Enum):
    """What the attribute file of a parameter allows (SCST's sysfs modes)."""

    NONE = "none"  # a creation parameter without a file
    READ_ONLY = "ro"
    READ_WRITE = "rw"  # may change at run time: the write reaches the running device
    WRITE_ONLY = "wo"  # an action, not a value (resync_size)


@dataclass(frozen=True)
class Param:
    """One creation parameter or attribute file of a handler's devices.

    ``creation`` marks one of SCST's creation parameters of the handler: it must be among
    the declaration's ``advertised`` names (which also hold the inert ones, declared by no
    Param, see INERT); attributes that are no creation parameter are shown, not taken by
    ``add_device`` unless the declaration's ``accepted_extra`` says so.  A ``filename`` declared
    READ_WRITE is a removable medium: writing it inserts or swaps the image, writing an
    empty value ejects it.
    """

    name: str
    default: str = ""
    creation: bool = True
    access: Access = Access.READ_ONLY
    key: Key = Key.NON_DEFAULT
    flag: bool = False  # 0/1, only the lowest bit counts (SCST's one-bit fields)
    help: str = ""


def flag_param(name: str, help: str, default: str = "0", creation: bool = True,
               access: Access = Access.READ_ONLY) -> Param:
    """A 0/1 parameter, a ``[key]`` when it differs from its default (most of SCST's)."""
    return Param(name, default, creation, access, Key.NON_DEFAULT, flag=True, help=help)


@dataclass(frozen=True)
class ScsiType:
    """A SCSI peripheral device type, as INQUIRY reports it and as SCST's ``type`` files
    show it: the number, then SCST's description of it."""

    number: int
    description: str

    @property
    def sysfs_text(self) -> str:
        """What ``handlers/<name>/type`` and ``devices/<name>/type`` read, without the
        newline."""
        return f"{self.number} - {self.description}"


DIRECT_ACCESS_DEVICE = ScsiType(0x00, "Direct-access device (e.g., magnetic disk)")
CD_ROM_DEVICE = ScsiType(0x05, "CD-ROM device")

DeviceFactory = Callable[[str, Mapping[str, str]], "ScsiDevice"]

# SCST parameters accepted for compatibility with SCST configurations, only with these values
# (anything else names a feature this target does not have: DIF, DLM clustering, inactive
# devices).  A framework rule, not a handler's: a handler advertises the names it takes, and
# they are removed before its ``create`` sees the parameters.
INERT: dict[str, tuple[str, ...]] = {
    "active": ("1",), "async": ("0", "1"), "bind_alua_state": ("0", "1"),
    "cluster_mode": ("0",), "dif_type": ("0",), "dif_mode": ("",), "dif_filename": ("",),
    "dif_static_app_tag": ("",), "numa_node_id": ("-1", "0"),
}


def without_inert(params: Mapping[str, str]) -> dict[str, str]:
    """The parameters a handler's ``create`` is given: the inert ones taken out."""
    return {name: value for name, value in params.items() if name not in INERT}


@dataclass(frozen=True)
class HandlerDeclaration:
    """Everything the management layer knows about one dev handler.

    ``advertised`` is SCST's "The following parameters available" line, in SCST's order
    (tools parse it); ``accepted_extra`` are names ``add_device`` also takes without listing
    them (SCST's fileio parses with no allow-list).  A handler whose devices are not
    ``opened_at_creation`` is not opened by the daemon to learn its size (a CD-ROM drive
    starts empty): its devices have size 0 and ``fixed_block_size`` until a medium is in.
    """

    name: str  # the SCST handler name: handlers/<name>, the LIO user backstore subtype
    scsi_type: ScsiType
    vendor: str  # the INQUIRY vendor unless t10_vend_id says otherwise
    params: tuple[Param, ...]  # every creation parameter and attribute file, in file order
    advertised: tuple[str, ...]
    create: DeviceFactory  # (device name, parameters without the inert ones) -> device
    accepted_extra: tuple[str, ...] = ()
    filename_required: bool = False  # add_device refuses a missing or relative filename
    always_read_only: bool = False  # read-only whatever its parameters (SCST's rd_only)
    opened_at_creation: bool = True
    fixed_block_size: int = 0  # the block size of devices not opened at creation

    def __post_init__(self) -> None:
        if not self.opened_at_creation and self.fixed_block_size <= 0:
            raise ValueError(f"handler {self.name}: a device not opened at creation needs a "
                             "fixed_block_size")
        names = [param.name for param in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"handler {self.name}: a parameter is declared twice")
        unlisted = [param.name for param in self.params
                    if param.creation and param.name not in self.advertised]
        if unlisted:
            raise ValueError(f"handler {self.name}: creation parameters missing from "
                             f"advertised: {', '.join(unlisted)}")

    @property
    def accepted(self) -> frozenset[str]:
        """Every name ``add_device`` takes."""
        return frozenset(self.advertised) | frozenset(self.accepted_extra)

    def param(self, name: str) -> Param | None:
        """The declaration of parameter ``name``, or None if the handler has none."""
        return next((param for param in self.params if param.name == name), None)
