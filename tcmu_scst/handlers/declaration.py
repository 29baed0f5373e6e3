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

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from .values import Parser, as_text, invalid, one_bit

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

    ``parse`` turns the text into the value ``create`` gets (see ``values``); a flag's is
    SCST's one-bit rule, anything else's the text as given unless the Param names one.
    ``default`` is text, as the attribute file shows it; an empty default of a parsed
    parameter means "none" (the value is None: the handler decides, e.g. from the disk).
    """

    name: str
    default: str = ""
    creation: bool = True
    access: Access = Access.READ_ONLY
    key: Key = Key.NON_DEFAULT
    flag: bool = False  # 0/1, only the lowest bit counts (SCST's one-bit fields)
    help: str = ""
    parse: Parser | None = None

    @property
    def parser(self) -> Parser:
        if self.parse is not None:
            return self.parse
        return one_bit if self.flag else as_text

    def value(self, text: str) -> Any:
        """``text`` parsed; OSError(EINVAL) saying what is wrong."""
        return self.parser(self.name, text)

    @property
    def default_value(self) -> Any:
        if self.default == "" and self.parser is not as_text:
            return None
        return self.value(self.default)


def flag_param(name: str, help: str, default: str = "0", creation: bool = True,
               access: Access = Access.READ_ONLY) -> Param:
    """A 0/1 parameter, a ``[key]`` when it differs from its default (most of SCST's)."""
    return Param(name, default, creation, access, Key.NON_DEFAULT, flag=True, help=help)


class Parameters(Mapping[str, Any]):
    """A device's parameters as its handler's ``create`` gets them: every declared one with
    its parsed value (given, or the default), and the names given without a declaration
    (``accepted_extra``, or what the daemon adds for the worker) as their text."""

    def __init__(self, values: Mapping[str, Any], given: Mapping[str, str]):
        self._values = dict(values)
        self._given = dict(given)

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def was_given(self, name: str) -> bool:
        """Whether ``name`` was set (at creation or written since), not defaulted."""
        return name in self._given

    @property
    def given(self) -> Mapping[str, str]:
        """The text of what was set, as it was given."""
        return self._given


Check = Callable[[Parameters], None]  # a rule across parameters; raises OSError(EINVAL)


@dataclass(frozen=True)
class OpenedDevice:
    """What a device reported once its handler opened it (in its worker): its effective
    attribute values, which the tree shows; always with ``size`` and ``blocksize``."""

    values: Mapping[str, str]

    @property
    def size(self) -> int:
        return int(self.values["size"])

    @property
    def block_size(self) -> int:
        return int(self.values["blocksize"])


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

DeviceFactory = Callable[[str, Parameters], "ScsiDevice"]

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
    them (SCST's fileio parses with no allow-list).
    """

    name: str  # the SCST handler name: handlers/<name>, the LIO user backstore subtype
    scsi_type: ScsiType
    vendor: str  # the INQUIRY vendor unless t10_vend_id says otherwise
    params: tuple[Param, ...]  # every creation parameter and attribute file, in file order
    advertised: tuple[str, ...]
    create: DeviceFactory  # (device name, parsed parameters) -> device; runs in the worker
    accepted_extra: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()  # rules across parameters, run by parse()
    filename_required: bool = False  # add_device refuses a missing or relative filename
    always_read_only: bool = False  # read-only whatever its parameters (SCST's rd_only)

    def __post_init__(self) -> None:
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

    def parse(self, given: Mapping[str, str], creation: bool = True) -> Parameters:
        """Check and parse a device's parameters without opening anything.

        ``creation``: they come from ``add_device`` (or a configuration being applied), so
        only the accepted names may appear and a required filename must be there;
        otherwise they are a device's recorded parameters (its spec in the worker, or the
        tree's memory of what was set), which also hold attributes written since and what
        the daemon adds for the worker.  Inert parameters are checked and left out.
        OSError(EINVAL) names what is wrong.
        """
        values: dict[str, Any] = {}
        kept: dict[str, str] = {}
        for name, text in given.items():
            if name in INERT:
                if text not in INERT[name]:
                    raise invalid(f"{name}={text} is not supported here; accepted: "
                                  f"{', '.join(repr(v) for v in INERT[name])}")
                continue
            param = self.param(name)
            if creation and name not in self.accepted:
                raise invalid(f"Unknown parameter {name!r} for {self.name}; the parameters "
                              f"are: {', '.join(self.advertised)}")
            values[name] = text if param is None else param.value(text)
            kept[name] = text
        if creation and self.filename_required:
            filename = given.get("filename")
            if not filename:
                raise invalid("File name required: add filename=/absolute/path")
            if not filename.startswith("/"):
                raise invalid(f"filename {filename!r} must be an absolute path")
        for param in self.params:
            if param.name not in values:
                values[param.name] = param.default_value
        parameters = Parameters(values, kept)
        for check in self.checks:
            check(parameters)
        return parameters

    def build(self, name: str, given: Mapping[str, str]) -> ScsiDevice:
        """A device from its recorded parameters (text), as the worker opens it."""
        return self.create(name, self.parse(given, creation=False))
