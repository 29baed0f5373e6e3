"""SCST devices and the ``handlers/`` side of the tree: add_device, del_device, attributes.

Every handler is known from its declaration alone (``handlers.declaration``, found through
``handlers.registry``): its directory, parameters, attribute files and rules come from there,
so nothing here names a handler.

A device's parameters are checked and parsed by its handler's declaration before anything
changes; then the realizer has the handler open it where it will be served (its worker),
which finds what the parameters cannot say (a missing file, a FIFO or a directory, a
regular file given to vdisk_blockio fail there; the size; what the disk is), makes the LIO
backstore and serves it.  The tree shows the values the opened device reported (its
effective ``rotational``, ``thin_provisioned``, ...), not the declared defaults.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

from ..handlers.backing_files import check_backing_path
from ..handlers.declaration import Access, HandlerDeclaration, Key, Param
from ..handlers.registry import declaration_of, declarations, device_identity
from .entry_names import check_entry_name
from .grammar import invalid, next_word, parameters, split_command, words
from .help_text import handler_usage
from .nodes import Attribute, Directory, Link, Node, NodeCache, ObjectDirectory, fixed
from .realizer import DeviceRequest, OpenedDevice, Realizer

log = logging.getLogger(__name__)

DEVICE_NAME_LIMIT = 64


@dataclass
class Export:
    """One LUN that maps a device, as its ``exported/exportN`` link shows it."""

    number: int
    lun_path: str  # from the tree root, e.g. targets/iscsi/<iqn>/luns/0
    # the LUN set's driver, target and group (None: the target's own set)
    owner: tuple[str, str, str | None] = ("", "", None)


@dataclass
class Device:
    name: str
    handler: str
    params: dict[str, str]  # given at creation or written since (the "was set" memory)
    size: int
    block_size: int
    exports: list[Export] = field(default_factory=list)
    export_counter: int = 0
    offline: bool = False  # its block device is gone (the udev watcher says)
    # what the opened device reported (OpenedDevice.values): shown where nothing was set
    effective: dict[str, str] = field(default_factory=dict)

    def value(self, param: Param) -> str:
        """What the attribute file shows: what was set, else what the device found, else
        the declared default."""
        if param.name in self.params:
            return self.params[param.name]
        return self.effective.get(param.name, param.default)

    @property
    def read_only(self) -> bool:
        return self.params.get("read_only", "0") not in ("0", "")


def _key(param: Param, device: Device, shown: str) -> bool:
    """Whether the file of ``param``, showing ``shown``, ends with ``[key]``.  A default is
    compared with what the file shows, not with what was given: a nullio device made with
    ``size_mb=16`` shows a ``size`` that is not the default, and only ``size`` is saved."""
    if param.key is Key.ALWAYS:
        return True
    if param.name not in device.params and param.name in device.effective:
        # found by the device (blockio's rotational and thin_provisioned, from the disk):
        # no key, since the same configuration finds it again, and a configuration that
        # does not say it must not look different from the running device
        return False
    if param.key is Key.WHEN_SET:
        return param.name in device.params
    if param.key is Key.NON_DEFAULT:
        if param.flag:
            return (int(shown or "0", 0) & 1) != (int(param.default or "0", 0) & 1)
        return shown != param.default
    return False


class HandlerDevices(Mapping[str, Device]):
    """The devices of one handler, as a view of all devices: one is found by name without
    looking at the others."""

    def __init__(self, devices: dict[str, Device], handler: str):
        self._devices = devices
        self._handler = handler

    def __getitem__(self, name: str) -> Device:
        device = self._devices[name]
        if device.handler != self._handler:
            raise KeyError(name)
        return device

    def __iter__(self) -> Iterator[str]:
        return (name for name, device in self._devices.items() if device.handler == self._handler)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class DeviceRegistry:
    """All SCST devices of every handler (names are unique across handlers)."""

    def __init__(self, realizer: Realizer):
        self.realizer = realizer
        self.devices: dict[str, Device] = {}
        # called in order before a device goes: it leaves its ALUA device group, its LUNs are
        # removed (SCST allows deleting a mapped device and does both first); one that raises
        # stops the deletion
        self.before_delete: list[Callable[[Device], None]] = []
        # called after a device was added (the udev watcher learns what backs it, the copy
        # manager gives it a LUN) and after one was deleted
        self.after_add: list[Callable[[Device], None]] = []
        self.after_delete: list[Callable[[Device], None]] = []
        # the slow part of add_device (opening the backing file, starting the worker) runs
        # inside this; the tree lets its readers in meanwhile (Tree.unlocked)
        self.outside_lock: Callable[[], AbstractContextManager[None]] = nullcontext
        self._directories = NodeCache()

    # --- mgmt -----------------------------------------------------------------------------

    def mgmt(self, handler: str, text: str) -> None:
        verb, rest = split_command(text)
        name, tail = next_word(rest)
        if verb == "add_device":
            if name is None:
                raise invalid("Device name required: add_device NAME [param=value; ...]")
            self.add_device(handler, name, tail)
        elif verb == "del_device":
            if name is None:
                raise invalid("Device name required: del_device NAME")
            if words(tail):
                raise invalid(f"Syntax error: del_device takes only a name, not {tail.strip()!r}")
            self.del_device(handler, name)
        else:
            raise invalid(f"Unknown action {verb!r}: use add_device or del_device "
                          f"(read handlers/{handler}/mgmt for the usage)")

    def add_device(self, handler: str, name: str, parameter_text: str) -> Device:
        if len(name) > DEVICE_NAME_LIMIT:
            raise invalid(f"device name {name!r} is longer than {DEVICE_NAME_LIMIT} characters")
        # a device is an entry of handlers/<handler>/ (a link) and of devices/
        check_entry_name("device", name, self.handler_directory(handler), self.devices)
        check_entry_name("device", name, self.devices_directory(), self.devices)
        if name in self.devices:
            raise OSError(errno.EEXIST, f"device {name!r} already exists "
                          f"(handler {self.devices[name].handler})")
        params = self._checked_params(declaration_of(handler), parameters(parameter_text))
        # nothing has changed yet, and nothing is changed until the worker serves: a failed
        # start leaves the tree as it was (the realizer undoes its own steps)
        with self.outside_lock():
            opened = self.realizer.create_device(DeviceRequest(name, handler, params))
        device = self._device(name, handler, params, opened)
        self.devices[name] = device
        log.info("Added device %s to handler %s", name, handler)
        for listener in self.after_add:
            listener(device)
        return device

    def del_device(self, handler: str, name: str) -> None:
        device = self.devices.get(name)
        if device is None or device.handler != handler:
            raise invalid(f"Device {name!r} not found in handler {handler}")
        for listener in self.before_delete:
            listener(device)
        self.realizer.delete_device(name)
        del self.devices[name]
        self._directories.forget(device)
        log.info("Deleted device %s", name)
        for listener in self.after_delete:
            listener(device)

    @staticmethod
    def _checked_params(declaration: HandlerDeclaration,
                        pairs: list[tuple[str, str]]) -> dict[str, str]:
        """The parameters as given, once the declaration parsed and checked them all."""
        params: dict[str, str] = {}
        for name, value in pairs:
            if name == "filename" and name in params:
                raise invalid("filename given twice")
            params[name] = value
        declaration.parse(params)
        return params

    @staticmethod
    def _device(name: str, handler: str, params: dict[str, str],
                opened: OpenedDevice) -> Device:
        """The tree's record of a device: what was given, and what the device found
        where it differs from that (the size, a value found on the disk)."""
        effective = {key: value for key, value in opened.values.items()
                     if key not in params and key not in ("size", "blocksize")}
        return Device(name, handler, params, opened.size, opened.block_size,
                      effective=effective)

    # --- attributes -----------------------------------------------------------------------

    def write_attribute(self, device: Device, param: Param, text: str) -> None:
        value = text.strip().split("\n")[0].strip()
        if param.name == "resync_size":
            self.realizer.set_device_attribute(device.name, "resync_size", "1")
            return
        if param.name == "filename":
            # only a removable medium's filename is writable (see api.Param)
            if value and not value.startswith("/"):
                raise invalid(f"filename {value!r} must be an absolute path (empty ejects)")
            if value:
                check_backing_path(value)  # before the worker is asked to open it
            self.realizer.set_device_attribute(device.name, "filename", value)
            if value:
                device.params["filename"] = value
            else:
                device.params.pop("filename", None)
            return
        param.value(value)  # its parser refuses what the file may not hold
        self.realizer.set_device_attribute(device.name, param.name, value)
        device.params[param.name] = value

    def read_attribute(self, device: Device, param: Param) -> str:
        if param.name == "size":
            value = str(device.size)
        elif param.name == "size_mb":
            value = str(device.size >> 20)
        elif param.name == "blocksize":
            value = str(device.block_size)
        elif param.name == "offline":
            value = str(int(device.offline))
        elif param.name == "filename":
            value = device.params.get("filename") or "none"
            key = "\n[key]" if "filename" in device.params else ""
            return f"{value}{key}\n\n"  # SCST prints one extra newline here
        elif param.name in ("t10_dev_id", "usn", "t10_vend_id", "prod_id"):
            value = device.params.get(param.name) or self._identity_default(device, param.name)
        else:
            value = device.value(param)
            if param.flag:
                value = str(int(value or "0", 0) & 1)
        return value + ("\n[key]\n" if _key(param, device, value) else "\n")

    @staticmethod
    def _identity_default(device: Device, name: str) -> str:
        ident = device_identity(device.handler, device.name, device.params)
        return {"t10_dev_id": ident.t10_dev_id, "usn": ident.usn, "t10_vend_id": ident.vendor,
                "prod_id": ident.product}[name]

    # --- tree -----------------------------------------------------------------------------

    def device_directory(self, device: Device) -> Directory:
        return self._directories.get(device, lambda: self._new_device_directory(device))

    def _new_device_directory(self, device: Device) -> Directory:
        declaration = declaration_of(device.handler)
        children: dict[str, Node] = {
            "type": Attribute(read=lambda: declaration.scsi_type.sysfs_text + "\n"),
            "handler": Link(f"../../handlers/{device.handler}"),
            "exported": Directory(lambda: {
                f"export{export.number}": Link(f"../../../{export.lun_path}")
                for export in device.exports}),
        }
        for param in declaration.params:
            if param.access is Access.NONE:
                continue
            children[param.name] = self._attribute_node(device, param)
        return Directory(fixed(children))

    def _attribute_node(self, device: Device, param: Param) -> Attribute:
        def read() -> str:
            return self.read_attribute(device, param)

        def write(text: str) -> None:
            self.write_attribute(device, param, text)

        if param.access is Access.WRITE_ONLY:
            return Attribute(write=write)
        if param.access is Access.READ_WRITE:
            return Attribute(read=read, write=write)
        return Attribute(read=read)

    def devices_directory(self) -> Directory:
        return ObjectDirectory(dict, lambda: self.devices,
                               lambda name, device: self.device_directory(device))

    def handler_directory(self, handler: str) -> Directory:
        declaration = declaration_of(handler)

        def own() -> dict[str, Node]:
            return {
                "mgmt": Attribute(read=lambda: handler_usage(declaration),
                                  write=lambda text: self.mgmt(handler, text)),
                "type": Attribute(read=lambda: declaration.scsi_type.sysfs_text + "\n"),
                "trace_level": Attribute(read=lambda: "out_of_mem | minor | pid | line | "
                                         "function | special | mgmt | mgmt_dbg\n"),
            }

        return ObjectDirectory(own, lambda: HandlerDevices(self.devices, handler),
                               lambda name, device: Link(f"../../devices/{name}"),
                               objects_are_directories=False)

    def handlers_directory(self) -> Directory:
        return Directory(fixed({handler: self.handler_directory(handler)
                                for handler in declarations()}))
