"""Read a running SCST tree into the configuration model, as ``-write_config`` saves it.

Only what SysfsRules call configuration is kept: attributes marked ``[key]`` (read-only ones
only when the ``mgmt`` help lists them as creation parameters, since nothing else could set
them again), the ``enabled`` switches, LUNs, groups and initiators.  Multi-instance
attributes (``IncomingUser``, ``IncomingUser1``, ...) are saved under their stripped name when
the ``mgmt`` help names that as a dynamic attribute.  Nothing here is specific to our tree:
everything is learnt from the files, so a real SCST kernel's tree reads the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .model import (
    Attributes,
    Device,
    DeviceGroup,
    Driver,
    Group,
    GroupTarget,
    Handler,
    Lun,
    ScstConfig,
    Target,
    TargetGroup,
)
from .sysfs import AttributeValue, MgmtHelp, ScstSysfs, SysfsError

DRIVER_DYNAMIC = "target driver attributes"
TARGET_DYNAMIC = "target attributes"
HANDLER_DYNAMIC = "dev handler attributes"
DEVICE_DYNAMIC = "device attributes"
# files that describe rather than configure (never saved, never compared)
NOT_CONFIGURATION = {"mgmt", "last_sysfs_mgmt_res", "version", "type", "trace_level"}
TARGET_SUBDIRECTORIES = ("luns", "ini_groups", "sessions")
DEVICE_GROUPS = "device_groups"
_INSTANCE = re.compile(r"^(.*?)(\d+)$")


def instance_base(name: str, dynamic: tuple[str, ...]) -> str:
    """``IncomingUser1`` -> ``IncomingUser`` when that is a dynamic attribute, else ``name``."""
    match = _INSTANCE.match(name)
    if match and match.group(1) in dynamic:
        return match.group(1)
    return name


@dataclass
class RunningTree:
    """One reading session of a tree; ``mgmt`` help texts are read once each."""

    sysfs: ScstSysfs
    # False: read only what -config and -check_config compare against (a device's creation
    # parameters, a target's enabled switch, sessions, LUNs, groups and initiators); the
    # values they set are read where they are set.  A running target has a score of files
    # the comparison never asks about, and each read is a round trip through the tree.
    every_attribute: bool = True
    _help: dict[str, MgmtHelp] = field(default_factory=dict)

    def help(self, directory: str) -> MgmtHelp:
        """The parsed ``mgmt`` help of ``directory`` (empty when it has no ``mgmt``)."""
        if directory not in self._help:
            path = f"{directory}/mgmt"
            self._help[directory] = (self.sysfs.mgmt_help(path) if self.sysfs.is_file(path)
                                     else MgmtHelp(()))
        return self._help[directory]

    def handler_help(self, handler: str) -> MgmtHelp:
        return self.help(f"handlers/{handler}")

    def driver_help(self, driver: str) -> MgmtHelp:
        return self.help(f"targets/{driver}")

    def lun_help(self, luns_directory: str) -> MgmtHelp:
        """SCST prints one help text for every ``luns/mgmt`` (a target's and its groups'),
        so it is read once per driver, not once per target and group."""
        parts = luns_directory.split("/")
        if len(parts) > 2 and parts[0] == "targets":
            key = f"luns of {parts[1]}"
            if key not in self._help:
                self._help[key] = self.help(luns_directory)
            return self._help[key]
        return self.help(luns_directory)

    # -- names -------------------------------------------------------------------------------

    def handlers(self) -> list[str]:
        return self.sysfs.subdirectories("handlers")

    def handler_devices(self, handler: str) -> list[str]:
        return self.sysfs.links(f"handlers/{handler}")

    def device_handler(self, device: str) -> str | None:
        if not self.sysfs.is_link(f"devices/{device}/handler"):
            return None
        return self.sysfs.readlink(f"devices/{device}/handler")

    def drivers(self) -> list[str]:
        return self.sysfs.subdirectories("targets")

    def targets(self, driver: str) -> list[str]:
        return self.sysfs.subdirectories(f"targets/{driver}")

    def is_hardware(self, driver: str, target: str) -> bool:
        """SysfsRules III: hardware if it says ``hw_target`` or its driver cannot add targets."""
        return (self.sysfs.exists(f"targets/{driver}/{target}/hw_target")
                or not self.sysfs.is_file(f"targets/{driver}/mgmt"))

    def luns(self, luns_directory: str) -> dict[int, str]:
        """LUN number -> device name for a ``luns`` directory."""
        found = {}
        for name in self.sysfs.subdirectories(luns_directory):
            if name.isdigit() and self.sysfs.is_link(f"{luns_directory}/{name}/device"):
                found[int(name)] = self.sysfs.readlink(f"{luns_directory}/{name}/device")
        return found

    def groups(self, driver: str, target: str) -> list[str]:
        return self.sysfs.subdirectories(f"targets/{driver}/{target}/ini_groups")

    def initiators(self, driver: str, target: str, group: str) -> list[str]:
        directory = f"targets/{driver}/{target}/ini_groups/{group}/initiators"
        return [name for name in self.sysfs.files(directory) if name != "mgmt"]

    def sessions(self, driver: str, target: str) -> list[str]:
        return self.sysfs.subdirectories(f"targets/{driver}/{target}/sessions")

    def device_groups(self) -> list[str]:
        return self.sysfs.subdirectories(DEVICE_GROUPS)

    def group_devices(self, group: str) -> list[str]:
        return self.sysfs.links(f"{DEVICE_GROUPS}/{group}/devices")

    def target_groups(self, group: str) -> list[str]:
        return self.sysfs.subdirectories(f"{DEVICE_GROUPS}/{group}/target_groups")

    def group_targets(self, group: str, target_group: str) -> dict[str, bool]:
        """The members of a target group, each True when it is a local target (a link to
        it) and False for a port of another node (a directory with its rel_tgt_id)."""
        directory = f"{DEVICE_GROUPS}/{group}/target_groups/{target_group}"
        members = dict.fromkeys(self.sysfs.links(directory), True)
        members.update(dict.fromkeys(self.sysfs.subdirectories(directory), False))
        return dict(sorted(members.items()))

    # -- attributes --------------------------------------------------------------------------

    def values(self, directory: str) -> dict[str, AttributeValue]:
        return self.sysfs.attributes(directory, ignore=NOT_CONFIGURATION)

    def dynamic_values(self, directory: str, base: str) -> list[str]:
        """Values of every instance ``base``, ``base1``, ... of a dynamic attribute (only
        those files are read)."""
        found = []
        names = [name for name in sorted(self.sysfs.files(directory))
                 if instance_base(name, (base,)) == base]
        self.sysfs.read_ahead(directory, names)
        for name in names:
            try:
                value = self.sysfs.attribute(f"{directory}/{name}").value
            except SysfsError:
                continue  # write-only or gone: nothing to compare
            if value:
                found.append(value)
        return found

    def _parameters(self, directory: str, creation: tuple[str, ...]) -> Attributes:
        """The key values of a directory's creation parameters alone (see
        ``every_attribute``): what decides whether an object must be re-created."""
        saved = Attributes()
        present = set(self.sysfs.files(directory))
        names = [name for name in creation if name in present]
        self.sysfs.read_ahead(directory, names)
        for name in names:
            path = f"{directory}/{name}"
            try:
                value = self.sysfs.attribute(path)
            except SysfsError:
                continue
            if value.key:
                saved.add(name, value.value)
        return saved

    def _saved(self, directory: str, creation: tuple[str, ...], dynamic: tuple[str, ...],
               nonkey: Attributes | None = None) -> Attributes:
        saved = Attributes()
        for name, value in self.values(directory).items():
            path = f"{directory}/{name}"
            if value.key:
                if self.sysfs.writable(path) or name in creation:
                    saved.add(instance_base(name, dynamic), value.value)
            elif nonkey is not None and name != "enabled" and self.sysfs.writable(path):
                nonkey.add(name, value.value)
        return saved

    def _enabled(self, directory: str, attributes: Attributes) -> None:
        path = f"{directory}/enabled"
        if self.sysfs.is_file(path) and self.sysfs.writable(path) and "enabled" not in (
                attributes.names()):
            attributes.add("enabled", self.sysfs.attribute(path).value)

    # -- the whole configuration ---------------------------------------------------------

    def read(self, nonkey: ScstConfig | None = None) -> ScstConfig:
        """The running configuration; ``nonkey`` (if given) receives writable non-key values."""
        config = ScstConfig()
        config.attributes = self._saved("", (), (), nonkey.attributes if nonkey else None)
        for handler_name in self.handlers():
            config.handlers[handler_name] = self.handler(handler_name, nonkey)
        for driver_name in self.drivers():
            driver = self.driver(driver_name, nonkey)
            # scstadmin saves a driver's enabled switch even when it is 0 and the driver has
            # no target, so a file saved here holds the same blocks as one saved by SCST's
            if driver.targets or driver.attributes:
                config.drivers[driver_name] = driver
        config.handlers = {name: handler for name, handler in config.handlers.items()
                           if handler.devices or handler.attributes}
        if self.sysfs.is_dir(DEVICE_GROUPS):
            config.alua = self._saved(DEVICE_GROUPS, (), ())
            for name in self.device_groups():
                config.device_groups[name] = self.device_group(name)
        return config

    def device_group(self, name: str) -> DeviceGroup:
        """A device group as scstadmin saves it: key attributes of each target group and of
        each remote port; a local target only by name (its files are the target's, saved
        with it)."""
        directory = f"{DEVICE_GROUPS}/{name}"
        group = DeviceGroup(name, self._saved(directory, (), ()),
                            self.group_devices(name))
        for target_group in self.target_groups(name):
            base = f"{directory}/target_groups/{target_group}"
            saved = TargetGroup(target_group, self._saved(base, (), ()))
            for target, local in self.group_targets(name, target_group).items():
                saved.targets[target] = GroupTarget(target, Attributes() if local else
                                                    self._saved(f"{base}/{target}", (), ()))
            group.target_groups[target_group] = saved
        return group

    def handler(self, name: str, nonkey: ScstConfig | None = None) -> Handler:
        help_ = self.handler_help(name)
        handler = Handler(name, self._saved(f"handlers/{name}", (),
                                            help_.lists.get(HANDLER_DYNAMIC, ())))
        extra = Handler(name)
        for device in self.handler_devices(name):
            handler.devices[device] = self.device(name, device,
                                                  extra if nonkey is not None else None)
        if nonkey is not None:
            nonkey.handlers[name] = extra
        return handler

    def device(self, handler: str, name: str, nonkey: Handler | None = None) -> Device:
        help_ = self.handler_help(handler)
        extra = Attributes() if nonkey is not None else None
        if not self.every_attribute and nonkey is None:
            return Device(name, self._parameters(f"devices/{name}", help_.parameters))
        device = Device(name, self._saved(f"devices/{name}", help_.parameters,
                                          help_.lists.get(DEVICE_DYNAMIC, ()), extra))
        if nonkey is not None and extra is not None:
            nonkey.devices[name] = Device(name, extra)
        return device

    def driver(self, name: str, nonkey: ScstConfig | None = None) -> Driver:
        help_ = self.driver_help(name)
        extra = Attributes() if nonkey is not None else None
        directory = f"targets/{name}"
        driver = Driver(name, self._saved(directory, help_.parameters,
                                          help_.lists.get(DRIVER_DYNAMIC, ()), extra))
        self._enabled(directory, driver.attributes)
        extra_driver = Driver(name, extra or Attributes())
        for target in self.targets(name):
            # only when asked: collecting non-key values means a stat() of every file
            driver.targets[target] = self.target(name, target,
                                                 extra_driver if nonkey is not None else None)
        if nonkey is not None:
            nonkey.drivers[name] = extra_driver
        return driver

    def target(self, driver: str, name: str, nonkey: Driver | None = None) -> Target:
        help_ = self.driver_help(driver)
        directory = f"targets/{driver}/{name}"
        extra = Attributes() if nonkey is not None else None
        # HW_TARGET as scstadmin writes it: for a target that says hw_target (a driver
        # without add_target, such as copy_manager or fcst, is hardware all the same)
        lean = not self.every_attribute and nonkey is None
        target = Target(name, self.sysfs.exists(f"{directory}/hw_target"),
                        Attributes() if lean else self._saved(
                            directory, help_.parameters, help_.lists.get(TARGET_DYNAMIC, ()),
                            extra))
        self._enabled(directory, target.attributes)
        if "session_name" in help_.parameters:
            for session in self.sessions(driver, name):
                target.attributes.add("session_name", session)
        target.luns = self.lun_set(f"{directory}/luns")
        for group in self.groups(driver, name):
            target.groups[group] = self.group(driver, name, group)
        if nonkey is not None and extra is not None:
            nonkey.targets[name] = Target(name, attributes=extra)
        return target

    def lun_set(self, directory: str) -> dict[int, Lun]:
        luns = {}
        for number, device in sorted(self.luns(directory).items()):
            attributes = Attributes()
            for attribute, value in self.values(f"{directory}/{number}").items():
                if value.key:
                    attributes.add(attribute, value.value)
            luns[number] = Lun(number, device, attributes)
        return luns

    def group(self, driver: str, target: str, name: str) -> Group:
        directory = f"targets/{driver}/{target}/ini_groups/{name}"
        group = Group(name, self._saved(directory, (), ()) if self.every_attribute
                      else Attributes())
        group.luns = self.lun_set(f"{directory}/luns")
        group.initiators = self.initiators(driver, target, name)
        return group


def read_running(sysfs: ScstSysfs, nonkey: bool = False) -> tuple[ScstConfig, ScstConfig | None]:
    """The tree's configuration, and with ``nonkey`` its writable non-key attributes too."""
    extra = ScstConfig() if nonkey else None
    with sysfs.cached():
        return RunningTree(sysfs).read(extra), extra
