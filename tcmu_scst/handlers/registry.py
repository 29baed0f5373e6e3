"""Which dev handlers exist: the entry-point group ``tcmu_scst.handlers``.

Each entry point names a :class:`~tcmu_scst.handlers.declaration.HandlerDeclaration` (``name =
"package.module:DECLARATION"``), so a separately installed distribution adds a handler by
declaring one there; the built-in handlers are registered the same way in pyproject.toml.
The declarations are loaded once and kept.  A plugin that cannot be imported, that names
something other than a declaration, or whose declaration has another name than its entry
point is logged and left out: one broken distribution must not keep the daemon from
serving the others.  A name is served by the first handler that claims it (the built-ins
first, so a plugin cannot replace one); later claims are refused with a log line.

A worker asks for its own handler only (:func:`declaration_of`), and only that handler's
module is imported; for a built-in one the installed metadata is not even read, since the
built-ins come first whatever the metadata says.
"""

from __future__ import annotations

import importlib
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from .declaration import HandlerDeclaration
from .disk import BlockDevice, ScsiDevice
from .identity import Identity
from .params import identity

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

log = logging.getLogger(__name__)

GROUP = "tcmu_scst.handlers"
# The built-in handlers, exactly as pyproject.toml registers them.  Listed here as well
# because the installed metadata may not have the group: a checkout run with PYTHONPATH=.,
# or an editable install made before the group existed (tools/setup-host reinstalls when
# pyproject.toml changes).  tests/unit/test_handler_registry.py keeps the two lists equal.
BUILT_IN_HANDLERS: dict[str, str] = {
    "vdisk_fileio": "tcmu_scst.handlers.vdisk_fileio:DECLARATION",
    "vdisk_blockio": "tcmu_scst.handlers.vdisk_blockio:DECLARATION",
    "vdisk_nullio": "tcmu_scst.handlers.vdisk_nullio:DECLARATION",
    "vcdrom": "tcmu_scst.handlers.vcdrom:DECLARATION",
}
# a handler name is a directory of the tree and a LIO user backstore subtype
HANDLER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class UnknownHandlerError(ValueError):
    pass


@dataclass(frozen=True)
class Registration:
    """One claim of a handler name: an entry point, or a built-in one."""

    name: str
    reference: str  # "module:attribute", as an entry point's value
    load: Callable[[], object]


def _import_reference(reference: str) -> object:
    module_name, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def _built_in(name: str) -> Registration:
    reference = BUILT_IN_HANDLERS[name]
    return Registration(name, reference, lambda: _import_reference(reference))


def discovered_entry_points() -> Iterable[EntryPoint]:
    """The group's entry points in the installed metadata.  Imported here, not at the top:
    a worker of a built-in handler never reads the metadata."""
    from importlib import metadata  # noqa: PLC0415

    return metadata.entry_points(group=GROUP)


def registrations() -> list[Registration]:
    """Every claim, in the order claims are honoured: the built-ins, then the installed
    entry points in the metadata's order (those that repeat a built-in are the built-in)."""
    claims = [_built_in(name) for name in BUILT_IN_HANDLERS]
    listed: set[str] = set()
    for entry in discovered_entry_points():
        if BUILT_IN_HANDLERS.get(entry.name) == entry.value:
            listed.add(entry.name)
            continue
        claims.append(Registration(entry.name, entry.value, entry.load))
    missing = [name for name in BUILT_IN_HANDLERS if name not in listed]
    if missing:
        log.debug("the installed metadata has no %s entry point for %s (a stale install); "
                  "using the built-in list", GROUP, ", ".join(missing))
    return claims


def _declaration(claim: Registration) -> HandlerDeclaration | None:
    """The declaration ``claim`` names, or None (logged) when it is unusable."""
    try:
        declaration = claim.load()
    except Exception as error:  # a broken plugin: whatever its import raised
        log.error("handler %s (%s) cannot be loaded, left out: %s: %s", claim.name,
                  claim.reference, type(error).__name__, error)
        return None
    if not isinstance(declaration, HandlerDeclaration):
        log.error("handler %s (%s) names a %s, not a HandlerDeclaration; left out",
                  claim.name, claim.reference, type(declaration).__name__)
        return None
    if declaration.name != claim.name:
        log.error("handler %s (%s) declares the handler %r: the entry point must have the "
                  "handler's name; left out", claim.name, claim.reference, declaration.name)
        return None
    if not HANDLER_NAME.fullmatch(declaration.name):
        log.error("handler %r (%s): a handler name is letters, digits, '_', '.' and '-'; "
                  "left out", declaration.name, claim.reference)
        return None
    return declaration


def _load_all() -> dict[str, HandlerDeclaration]:
    loaded: dict[str, HandlerDeclaration] = {}
    sources: dict[str, str] = {}
    for claim in registrations():
        if claim.name in loaded:
            log.error("handler %s (%s) is already served by %s; this claim is refused",
                      claim.name, claim.reference, sources[claim.name])
            continue
        declaration = _declaration(claim)
        if declaration is not None:
            loaded[claim.name] = declaration
            sources[claim.name] = claim.reference
    return loaded


def _load_one(name: str) -> HandlerDeclaration | None:
    """The declaration that :func:`_load_all` would give ``name``, loading no other."""
    if name in BUILT_IN_HANDLERS:
        return _declaration(_built_in(name))
    for claim in registrations():
        if claim.name == name:
            declaration = _declaration(claim)
            if declaration is not None:
                return declaration
    return None


class _Loaded:
    """What has been loaded so far: everything, or the handlers asked for one by one."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.all: Mapping[str, HandlerDeclaration] | None = None
        self.single: dict[str, HandlerDeclaration | None] = {}


_loaded = _Loaded()


def declarations() -> Mapping[str, HandlerDeclaration]:
    """Every usable handler, by name, built-ins first (loaded on the first call)."""
    with _loaded.lock:
        if _loaded.all is None:
            _loaded.all = MappingProxyType(_load_all())
        return _loaded.all


def handler_names() -> tuple[str, ...]:
    return tuple(declarations())


def declaration_of(handler: str) -> HandlerDeclaration:
    """The declaration of ``handler``; UnknownHandlerError names the known ones."""
    with _loaded.lock:
        if _loaded.all is not None:
            found = _loaded.all.get(handler)
        else:
            if handler not in _loaded.single:
                _loaded.single[handler] = _load_one(handler)
            found = _loaded.single[handler]
    if found is None:
        raise UnknownHandlerError(
            f"unknown handler {handler!r}; known: {', '.join(handler_names())}")
    return found


def forget_loaded() -> None:
    """Load again on the next call (for tests that change what is installed)."""
    with _loaded.lock:
        _loaded.all = None
        _loaded.single.clear()


def open_scsi_device(handler: str, name: str, params: Mapping[str, str]) -> ScsiDevice:
    """A device of ``handler`` from its recorded parameters (text)."""
    return declaration_of(handler).build(name, params)


def device_identity(handler: str, name: str, params: Mapping[str, str]) -> Identity:
    """The identity a device of ``handler`` reports, from its parameters alone (without
    opening its backing store): what names it in EXTENDED COPY."""
    declaration = declaration_of(handler)
    return identity(name, declaration.parse(params, creation=False), declaration.vendor)


def effective_values(device: ScsiDevice) -> dict[str, str]:
    """What an opened device reports for the tree: its effective attribute
    values; a device that says nothing of its size has none (0, 512-byte blocks)."""
    values = dict(device.effective_attributes())
    values.setdefault("size", "0")
    values.setdefault("blocksize", "512")
    return values


def open_disk(handler: str, name: str, params: Mapping[str, str]) -> BlockDevice:
    """A disk to copy to or from (EXTENDED COPY); ValueError for a device that is none."""
    device = open_scsi_device(handler, name, params)
    if not isinstance(device, BlockDevice):
        raise ValueError(f"{name} is no disk ({handler})")
    return device
