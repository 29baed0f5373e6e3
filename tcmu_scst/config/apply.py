"""Make a running SCST tree match a configuration, writing only what differs.

The order is SCST's (SysfsRules III, scstadmin ``-config``): with ``force``, removals first;
then handlers and devices; then per driver its attributes and per target its attributes,
LUNs and groups (initiators that leave a group before LUN changes, the others after); then
the ALUA device groups (:mod:`.alua_apply`); then target ``enabled``, driver ``enabled`` and
the root attributes.  What the file asks for is
compared with what the tree shows; equal values are not written again, so applying the same
file twice writes nothing the second time.

What the tree accepts is learnt from its ``mgmt`` help: creation parameters go into
``add_device``/``add_target``/``add``, dynamic attributes (``IncomingUser``) are added and
deleted by value with ``add_attribute``/``add_target_attribute``, and everything else is
written to its file.  A change that needs re-creation (a read-only creation parameter, a LUN
that points at another device) and removals of things the file does not mention happen only
with ``force``; otherwise they are reported as warnings.

Every check that can be made before a change (handlers and drivers exist, LUNs name known
devices, hardware targets exist, attributes exist) is made first, so a file that cannot be
applied is refused with its line number before the first write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..compat_sysfs.names import (
    ACCESS_LIMITS_LABEL,
    ACCESS_MODE,
    COPY_MANAGER,
    EXACT_NAMES,
    WILDCARDS,
)
from ..lio.access_plan import GroupSpec, LunExport, consequence, plan_access
from . import alua_apply, copy_manager
from .model import Attributes, Device, Driver, Group, Handler, Lun, ScstConfig, Target
from .running import DRIVER_DYNAMIC, TARGET_DYNAMIC, RunningTree
from .scst_conf import ConfigError
from .sysfs import ScstSysfs, SysfsError

LAST_CREATION_PARAMETER = "cluster_mode"  # SCST honours t10_dev_id only if set before it


def access_consequence(target: Target) -> str | None:
    """The warning the tree will log for ``target`` as the file configures it, if any."""
    def luns(entries: dict[int, Lun]) -> dict[int, LunExport]:
        return {number: LunExport(lun.device, lun.attributes.get("read_only") not in
                                  (None, "0"))
                for number, lun in entries.items()}

    default = luns(target.luns)
    groups = {name: GroupSpec(tuple(group.initiators), luns(group.luns))
              for name, group in target.groups.items()}
    return consequence(target.name, plan_access(default, groups), default)


def handler_settings(handler: Handler) -> Attributes:
    """A HANDLER block's attributes to set: without a line that only names one of its
    devices, which scstadmin's ``-write_config -nonkey`` writes (the handler's device links
    listed as attributes with no value) and which it skips itself when it reads them."""
    kept = Attributes()
    for name, value in handler.attributes.items:
        if not (value == "" and name in handler.devices):
            kept.add(name, value, handler.attributes.lines.get(name, 0))
    return kept


def same_value(wanted: str, live: str) -> bool:
    """Equal as SCST reads them: the same text, the same number in another base, or the
    same comma list in another order or case (iSCSI shows ``HeaderDigest CRC32C,None`` as
    ``None,CRC32C``)."""
    if wanted.strip() == live.strip():
        return True
    if "," in wanted or "," in live:
        def items(text: str) -> list[str]:
            return sorted(part.strip().lower() for part in text.split(",") if part.strip())
        return items(wanted) == items(live)
    try:
        return int(wanted, 0) == int(live, 0)
    except ValueError:
        return False


@dataclass(frozen=True)
class Write:
    path: str
    text: str


@dataclass
class Applier:
    """Applies configurations to one tree; ``writes`` lists what it wrote (or would write).

    ``dry_run`` writes nothing and lists what it would write (a new object's attributes are
    then all listed, since it cannot be read before it exists).  ``continue_on_error``
    records a failed write in ``errors`` and goes on (the daemon's restore: bring back what
    can be brought back); otherwise the first failure raises.
    """

    sysfs: ScstSysfs
    force: bool = False
    dry_run: bool = False
    continue_on_error: bool = False
    log: Callable[[str], None] | None = None
    writes: list[Write] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    created: set[str] = field(default_factory=set)  # devices this run creates
    # the devices created by this run up to its last re-creation of a device, after which
    # scstadmin reads the tree again (and so finds their automatic copy manager LUNs)
    rescanned: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.tree = RunningTree(self.sysfs, every_attribute=False)

    # -- primitive -------------------------------------------------------------------------

    def write(self, path: str, text: str, warn_on: tuple[int, str] | None = None) -> bool:
        """Write (or list, in a dry run); False if it failed.  ``warn_on`` (errno, why):
        a refusal with that errno is a warning saying why, not an error."""
        self.writes.append(Write(path, text))
        if self.log:
            self.log(f"write {path}: {text}")
        if self.dry_run:
            return True
        try:
            self.sysfs.write(path, text)
        except SysfsError as error:
            if warn_on is not None and error.errno == warn_on[0]:
                self.writes.pop()
                self.warn(f"{path}: {text}: {error.strerror}: {warn_on[1]}")
                return False
            if not self.continue_on_error:
                raise
            self.errors.append(f"{path}: {text}: {error.strerror}")
            return False
        return True

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def live_value(self, path: str) -> str | None:
        if not self.sysfs.is_file(path):
            return None
        try:
            return self.sysfs.attribute(path).value
        except SysfsError:
            return None

    def set_attribute(self, path: str, value: str, fresh: bool = False) -> None:
        """Write ``value`` unless the file already shows it (a new object in a dry run: write)."""
        if fresh and self.dry_run:
            self.write(path, value)
            return
        live = self.live_value(path)
        if live is None or not same_value(value, live):
            self.write(path, value)

    # -- entry points ----------------------------------------------------------------------

    def apply(self, config: ScstConfig, source: str = "") -> int:
        """Apply ``config``; returns the number of writes made.

        The tree is read once (:meth:`ScstSysfs.cached`): the comparisons below ask for the
        same files again, and those answers hold until the next write."""
        with self.sysfs.cached():
            return self._apply(config, source)

    def _apply(self, config: ScstConfig, source: str) -> int:
        running = self.tree.read()
        self.validate(config, running, source)
        if self.force:
            self.remove_unlisted(config, running)
        else:
            self.report_unlisted(config, running)
        recreated = self.apply_devices(config, running)
        for name, driver in config.drivers.items():
            self.apply_driver(driver, running.drivers.get(name), recreated)
        if self.force:
            copy_manager.apply_unlisted(self, config, running)
        alua_apply.apply(self, config)
        # SCST gives a target without rel_tgt_id the next free one when it is enabled;
        # scstadmin enables in name order, so the same file numbers the same targets alike
        for driver_name, driver in sorted(config.drivers.items()):
            for target_name, target in sorted(driver.targets.items()):
                wanted = target.attributes.get("enabled")
                if wanted is not None:
                    self.set_enabled(driver_name, target_name, wanted,
                                     fresh=target_name not in running.drivers.get(
                                         driver_name, Driver(driver_name)).targets)
        for driver_name, driver in config.drivers.items():
            wanted = driver.attributes.get("enabled")
            if wanted is not None:
                self.set_attribute(f"targets/{driver_name}/enabled", wanted)
        for name, value in config.attributes.items:
            self.set_attribute(name, value)
        return len(self.writes)

    def set_enabled(self, driver: str, target: str, wanted: str, fresh: bool) -> None:
        """A target's ``enabled``, if its driver has the switch: SCST makes none for drivers
        that cannot enable targets (scst_local), and files saved where one was shown still
        say ``enabled 0``, which is then no reason to fail."""
        base = f"targets/{driver}/{target}"
        if not (fresh and self.dry_run) and self.sysfs.is_dir(base) and not (
                self.sysfs.is_file(f"{base}/enabled")):
            self.warn(f"{base} has no enabled switch (its driver has none); enabled {wanted} "
                      "ignored")
            return
        self.set_attribute(f"{base}/enabled", wanted, fresh=fresh)

    # -- validation ------------------------------------------------------------------------

    def validate(self, config: ScstConfig, running: ScstConfig, source: str) -> None:
        def refuse(message: str, line: int) -> ConfigError:
            return ConfigError(message, line, source)

        for name in config.attributes.names():
            if not self.sysfs.is_file(name):
                raise refuse(f"the tree has no root attribute {name!r}",
                             config.attributes.lines.get(name, 0))
        known = set(self.tree.handlers())
        live_devices = {device: handler for handler in known
                        for device in self.tree.handler_devices(handler)}
        for name, handler in config.handlers.items():
            if name not in known:
                raise refuse(f"handler {name!r} does not exist here (available: "
                             f"{', '.join(sorted(known))})", handler.line)
            for attribute in handler_settings(handler).names():
                if not self.sysfs.is_file(f"handlers/{name}/{attribute}"):
                    raise refuse(f"handler {name} has no attribute {attribute!r}",
                                 handler.attributes.lines.get(attribute, handler.line))
            parameters = self.tree.handler_help(name).parameters
            for device in handler.devices.values():
                if device.name not in live_devices:
                    if "add_device" not in self.tree.handler_help(name).verbs:
                        raise refuse(f"handler {name} cannot create devices", device.line)
                    for attribute, value in device.attributes.items:
                        if attribute in parameters and (
                                not value or any(char.isspace() or char in ";="
                                                 for char in value)):
                            raise refuse(f"{attribute} {value!r}: a creation parameter cannot "
                                         "be empty or hold blanks, ';' or '='",
                                         device.attributes.lines.get(attribute, device.line))
                    continue
                for attribute in device.attributes.names():
                    if attribute not in parameters and not self.sysfs.exists(
                            f"devices/{device.name}/{attribute}"):
                        raise refuse(f"device {device.name} has no attribute {attribute!r}",
                                     device.attributes.lines.get(attribute, device.line))
        alua_apply.validate(self, config, live_devices, refuse)
        available = config.device_names() | (
            set() if self.force else set(live_devices))
        drivers = set(self.tree.drivers())
        for name, driver in config.drivers.items():
            if name not in drivers:
                raise refuse(f"target driver {name!r} is not loaded here (available: "
                             f"{', '.join(sorted(drivers))})", driver.line)
            help_ = self.tree.driver_help(name)
            live_targets = set(self.tree.targets(name))
            for target in driver.targets.values():
                if name == COPY_MANAGER:
                    copy_manager.check_target(target, source)
                if target.name not in live_targets and (
                        target.hardware or "add_target" not in help_.verbs):
                    raise refuse(f"hardware target {target.name} of {name} does not exist",
                                 target.line)
                dynamic = help_.lists.get(TARGET_DYNAMIC, ())
                for attribute in target.attributes.names():
                    if attribute in dynamic and "add_target_attribute" not in help_.verbs:
                        raise refuse(f"{name} cannot add {attribute}",
                                     target.attributes.lines.get(attribute, target.line))
                for lun in [*target.luns.values(),
                            *(lun for group in target.groups.values()
                              for lun in group.luns.values())]:
                    if lun.device not in available:
                        raise refuse(f"LUN {lun.number}: device {lun.device!r} is not defined "
                                     "in the configuration" + (
                                         "" if self.force else " nor present"), lun.line)
                limits = help_.lists.get(ACCESS_LIMITS_LABEL, ())
                if EXACT_NAMES in limits:
                    self.check_exact_names(target, refuse)
                if ACCESS_MODE in limits:
                    message = access_consequence(target)
                    if message:
                        self.warn(message)

    @staticmethod
    def check_exact_names(target: Target,
                          refuse: Callable[[str, int], ConfigError]) -> None:
        """What a tree that matches initiator names exactly (LIO ACLs) would refuse halfway
        through: wildcard patterns (the parser already refuses a name in two groups)."""
        for group in target.groups.values():
            for initiator in group.initiators:
                if any(character in initiator for character in WILDCARDS):
                    raise refuse(f"target {target.name}, group {group.name}: {initiator!r} is "
                                 "a pattern; this tree matches initiator names exactly "
                                 "(LIO ACLs): list each initiator by name", group.line)

    # -- removals --------------------------------------------------------------------------

    def _unlisted(self, config: ScstConfig, running: ScstConfig) -> list[tuple[str, str]]:
        """(kind, description) of what the tree has and the file does not."""
        found = []
        for handler in running.handlers.values():
            for device in handler.devices:
                if config.device(device) is None:
                    found.append(("device", device))
        for driver in running.drivers.values():
            wanted = config.drivers.get(driver.name, Driver(driver.name))
            for target in driver.targets.values():
                if driver.name == COPY_MANAGER:
                    continue  # its LUNs come and go with devices
                if target.name not in wanted.targets:
                    found.append(("target", f"{driver.name}/{target.name}"))
        return found

    def report_unlisted(self, config: ScstConfig, running: ScstConfig) -> None:
        for kind, name in self._unlisted(config, running):
            self.warn(f"{kind} {name} is not in the configuration; use -force to remove it")

    def remove_unlisted(self, config: ScstConfig, running: ScstConfig) -> None:
        copy_manager.remove_unlisted(self, config, running)
        for driver in running.drivers.values():
            wanted = config.drivers.get(driver.name, Driver(driver.name))
            for target in driver.targets.values():
                if target.name in wanted.targets:
                    continue
                if driver.name != COPY_MANAGER:  # (its LUNs: copy_manager.remove_unlisted)
                    self.remove_target(driver.name, target)
        for handler in running.handlers.values():
            for device in handler.devices:
                if config.device(device) is None:
                    self.write(f"handlers/{handler.name}/mgmt", f"del_device {device}")

    def remove_target(self, driver: str, target: Target) -> None:
        """Disable, then delete a virtual target (a hardware one is only disabled)."""
        base = f"targets/{driver}/{target.name}"
        if target.attributes.get("enabled") == "1":
            self.write(f"{base}/enabled", "0")
        if self.tree.is_hardware(driver, target.name):
            return
        self.write(f"targets/{driver}/mgmt", f"del_target {target.name}")

    # -- devices ---------------------------------------------------------------------------

    def apply_devices(self, config: ScstConfig, running: ScstConfig) -> set[str]:
        """Create, update or (with force) re-create devices; returns the re-created names."""
        recreated: set[str] = set()
        # in scstadmin's order (handlers, then devices, by name): the copy manager numbers
        # the devices' LUNs in the order they are created
        for name, handler in sorted(config.handlers.items()):
            for attribute, value in handler_settings(handler).items:
                self.set_attribute(f"handlers/{name}/{attribute}", value)
            for _, device in sorted(handler.devices.items()):
                located = running.device(device.name)
                if located is None:
                    self.create_device(name, device)
                    continue
                live_handler, live_device = located
                reasons = self.recreation_reasons(name, device, live_device)
                if live_handler.name != name:
                    reasons.insert(0, f"its handler is {live_handler.name}, not {name}")
                if reasons and self.force:
                    self.delete_device_luns(running, device.name)
                    self.write(f"handlers/{live_handler.name}/mgmt", f"del_device {device.name}")
                    self.create_device(name, device)
                    recreated.add(device.name)
                    self.rescanned = set(self.created)
                    continue
                if reasons:
                    self.warn(f"device {device.name} needs -force to be re-created: "
                              + "; ".join(reasons))
                self.update_device(name, device)
        return recreated

    def recreation_reasons(self, handler: str, device: Device, live: Device) -> list[str]:
        """Why ``device`` can only be changed by deleting and re-creating it."""
        parameters = self.tree.handler_help(handler).parameters
        reasons = []
        base = f"devices/{device.name}"
        for name, value in device.attributes.single().items():
            path = f"{base}/{name}"
            if self.sysfs.is_file(path) and self.sysfs.writable(path):
                continue
            current = self.live_value(path)
            if current is None or not same_value(value, current):
                if name in parameters:
                    reasons.append(f"{name} is {current!r}, wanted {value!r}")
                else:
                    self.warn(f"device {device.name}: {name} is read-only and no creation "
                              "parameter; left as it is")
        for name, value in live.attributes.single().items():
            path = f"{base}/{name}"
            if name not in device.attributes.names() and name in parameters and not (
                    self.sysfs.writable(path)):
                reasons.append(f"{name} is {value!r} and not in the configuration")
        return reasons

    def create_device(self, handler: str, device: Device) -> None:
        parameters = self.tree.handler_help(handler).parameters
        creation = [(name, value) for name, value in device.attributes.items
                    if name in parameters]
        creation.sort(key=lambda item: item[0] == LAST_CREATION_PARAMETER)
        text = f"add_device {device.name}"
        if creation:
            text += " " + "".join(f"{name}={value};" for name, value in creation)
        if not self.write(f"handlers/{handler}/mgmt", text):
            return
        self.created.add(device.name)
        for name, value in device.attributes.items:
            if name not in parameters:
                self.set_attribute(f"devices/{device.name}/{name}", value, fresh=True)

    def update_device(self, handler: str, device: Device) -> None:
        for name, value in device.attributes.items:
            path = f"devices/{device.name}/{name}"
            if self.sysfs.writable(path):
                self.set_attribute(path, value)

    def delete_device_luns(self, running: ScstConfig, device: str) -> None:
        """Remove the LUNs of a device about to be re-created; the LUN pass adds them back."""
        for driver in running.drivers.values():
            for target in driver.targets.values():
                base = f"targets/{driver.name}/{target.name}"
                for number, lun in list(target.luns.items()):
                    if lun.device == device:
                        self.write(f"{base}/luns/mgmt", f"del {number}")
                        del target.luns[number]
                for group in target.groups.values():
                    for number, lun in list(group.luns.items()):
                        if lun.device == device:
                            self.write(f"{base}/ini_groups/{group.name}/luns/mgmt",
                                       f"del {number}")
                            del group.luns[number]

    # -- drivers and targets ---------------------------------------------------------------

    def apply_driver(self, driver: Driver, live: Driver | None, recreated: set[str]) -> None:
        base = f"targets/{driver.name}"
        help_ = self.tree.driver_help(driver.name)
        dynamic = help_.lists.get(DRIVER_DYNAMIC, ())
        attributes = driver.attributes.without("enabled")
        self.apply_dynamic(base, attributes, dynamic,
                           lambda verb, name, value: (f"{base}/mgmt",
                                                      f"{verb}_attribute {name} {value}"))
        for name, value in attributes.single().items():
            if name not in dynamic:
                self.set_static(base, name, value)
        live_targets = live.targets if live else {}
        for target in driver.targets.values():
            self.apply_target(driver.name, target, live_targets.get(target.name))

    def apply_dynamic(self, base: str, attributes: Attributes, dynamic: tuple[str, ...],
                      command: Callable[[str, str, str], tuple[str, str]],
                      fresh: bool = False) -> None:
        """Add and delete instances of dynamic attributes by value.

        An instance is named by its first word (SCST deletes ``IncomingUser joe`` by the user
        name), so a live value the file lacks is either gone from the file or replaced by
        another value of the same name (a changed secret).  Either way it is removed only
        with ``force``, deletions first (LIO keeps one CHAP account per target, so the old
        secret must go before the new); without, it is a warning, and a replacing value is
        not added either (the tree would refuse the second account of that user).  Warnings
        name the user, never the secret.
        """
        for name in dynamic:
            wanted = attributes.values(name)
            live = [] if fresh else self.tree.dynamic_values(base, name)
            stale = [value for value in live if value not in wanted]
            kept: set[str] = set()
            for value in stale:
                if self.force:
                    self.write(*command("del", name, value))
                    continue
                identity = _first_word(value)
                kept.add(identity)
                if any(_first_word(other) == identity for other in wanted):
                    self.warn(f"{base}: {name} {identity} has another value in the "
                              "configuration; use -force to replace it")
                else:
                    self.warn(f"{base}: {name} {identity} is not in the configuration; use "
                              "-force to remove it")
            for value in wanted:
                if value not in live and _first_word(value) not in kept:
                    self.write(*command("add", name, value))

    def set_static(self, base: str, name: str, value: str, fresh: bool = False) -> None:
        path = f"{base}/{name}"
        if not fresh and not self.sysfs.is_file(path):
            self.warn(f"{path} does not exist; {name} ignored")
            return
        if not fresh and not self.sysfs.writable(path):
            live = self.live_value(path)
            if live is None or not same_value(value, live):
                self.warn(f"{path} is read-only ({live!r}, wanted {value!r}); left as it is")
            return
        self.set_attribute(path, value, fresh)

    def apply_target(self, driver: str, target: Target, live: Target | None) -> None:
        base = f"targets/{driver}/{target.name}"
        help_ = self.tree.driver_help(driver)
        parameters = help_.parameters
        dynamic = help_.lists.get(TARGET_DYNAMIC, ())
        fresh = live is None
        if live is None:
            # one value per creation parameter: add_target makes one session, the other
            # session_name lines are add_session below
            creation: dict[str, str] = {}
            for name, value in target.attributes.items:
                if name in parameters:
                    creation.setdefault(name, value)
            text = f"add_target {target.name}"
            if creation:
                text += " " + "".join(f"{name}={value};" for name, value in creation.items())
            if not self.write(f"targets/{driver}/mgmt", text):
                return
            live = Target(target.name)
            for name, value in creation.items():
                live.attributes.add(name, value)
        elif target.attributes.get("enabled") == "0" and live.attributes.get("enabled") == "1":
            self.write(f"{base}/enabled", "0")  # disable first when the file says so
        if "session_name" in parameters:
            self.apply_sessions(driver, target, live)
        self.apply_dynamic(base, target.attributes, dynamic,
                           lambda verb, name, value: (
                               f"targets/{driver}/mgmt",
                               f"{verb}_target_attribute {target.name} {name} {value}"),
                           fresh=fresh)
        for name, value in target.attributes.single().items():
            if name in dynamic or name == "enabled" or name in parameters:
                continue
            self.set_static(base, name, value, fresh and self.dry_run)
        if driver == COPY_MANAGER:
            copy_manager.apply_luns(self, f"{base}/luns", target.luns, live.luns)
        else:
            self.apply_luns(f"{base}/luns", target.luns, live.luns)
        for group in target.groups.values():
            self.apply_group(driver, target, group, live)
        if self.force:
            for name in live.groups:
                if name not in target.groups:
                    self.write(f"{base}/ini_groups/mgmt", f"del {name}")
        else:
            for name in live.groups:
                if name not in target.groups:
                    self.warn(f"group {name} of {target.name} is not in the configuration; "
                              "use -force to remove it")
        # initiators that move between groups of this target go last (they need both groups)
        for group in target.groups.values():
            self.add_initiators(driver, target, group, live)

    def apply_sessions(self, driver: str, target: Target, live: Target) -> None:
        wanted = target.attributes.values("session_name")
        current = live.attributes.values("session_name")
        for session in current:
            if session in wanted:
                continue
            if self.force:
                self.write(f"targets/{driver}/mgmt", f"del_session {target.name} {session}")
            else:
                self.warn(f"session {session} of {target.name} is not in the configuration; "
                          "use -force to remove it")
        for session in wanted:
            if session not in current:
                self.write(f"targets/{driver}/mgmt", f"add_session {target.name} {session}")

    def apply_luns(self, directory: str, wanted: dict[int, Lun], live: dict[int, Lun]) -> None:
        parameters = self.tree.lun_help(directory).parameters if self.sysfs.is_file(
            f"{directory}/mgmt") else ("read_only",)
        for number, lun in sorted(wanted.items()):
            creation = "".join(f"{name}={value};" for name, value in lun.attributes.items
                               if name in parameters)
            current = live.get(number)
            if current is None:
                self.write(f"{directory}/mgmt",
                           f"add {lun.device} {number}" + (f" {creation}" if creation else ""))
            elif current.device != lun.device or self._lun_differs(lun, current, parameters):
                what = (f"points at {current.device}, wanted {lun.device}"
                        if current.device != lun.device else "has other attributes")
                if self.force:
                    self.write(f"{directory}/mgmt", f"replace {lun.device} {number}"
                               + (f" {creation}" if creation else ""))
                else:
                    self.warn(f"{directory}/{number} {what}; use -force to replace it")
                    continue
            for name, value in lun.attributes.items:
                if name not in parameters:
                    self.set_static(f"{directory}/{number}", name, value, current is None)
        for number in sorted(set(live) - set(wanted)):
            if self.force:
                self.write(f"{directory}/mgmt", f"del {number}")
            else:
                self.warn(f"{directory}/{number} is not in the configuration; use -force to "
                          "remove it")

    @staticmethod
    def _lun_differs(wanted: Lun, live: Lun, parameters: tuple[str, ...]) -> bool:
        want = {name: value for name, value in wanted.attributes.single().items()
                if name in parameters}
        have = {name: value for name, value in live.attributes.single().items()
                if name in parameters}
        for name in set(want) | set(have):
            if not same_value(want.get(name, "0"), have.get(name, "0")):
                return True
        return False

    def apply_group(self, driver: str, target: Target, group: Group, live: Target) -> None:
        base = f"targets/{driver}/{target.name}/ini_groups"
        current = live.groups.get(group.name)
        if current is None:
            if not self.write(f"{base}/mgmt", f"create {group.name}"):
                return
            current = Group(group.name)
            live.groups[group.name] = current
        for name, value in group.attributes.single().items():
            self.set_static(f"{base}/{group.name}", name, value)
        elsewhere = {initiator for other in target.groups.values()
                     for initiator in other.initiators}
        for initiator in list(current.initiators):
            if initiator in group.initiators or initiator in elsewhere:
                continue
            if self.force:
                self.write(f"{base}/{group.name}/initiators/mgmt", f"del {initiator}")
                current.initiators.remove(initiator)
            else:
                self.warn(f"initiator {initiator} of group {group.name} is not in the "
                          "configuration; use -force to remove it")
        self.apply_luns(f"{base}/{group.name}/luns", group.luns, current.luns)

    def add_initiators(self, driver: str, target: Target, group: Group, live: Target) -> None:
        base = f"targets/{driver}/{target.name}/ini_groups"
        current = live.groups.setdefault(group.name, Group(group.name))
        for initiator in group.initiators:
            if initiator in current.initiators:
                continue
            source = next((other for other in live.groups.values()
                           if other is not current and initiator in other.initiators), None)
            if source is not None:
                self.write(f"{base}/{source.name}/initiators/mgmt",
                           f"move {initiator} {group.name}")
                source.initiators.remove(initiator)
            else:
                self.write(f"{base}/{group.name}/initiators/mgmt", f"add {initiator}")
            current.initiators.append(initiator)


def _first_word(value: str) -> str:
    """What names one instance of a dynamic attribute: the user of ``joe 12charsecret``."""
    return value.split(maxsplit=1)[0] if value.split() else value


def clear(sysfs: ScstSysfs, log: Callable[[str], None] | None = None) -> list[Write]:
    """scstadmin ``-clear_config``: remove every device group, initiator group, LUN, dynamic
    attribute, virtual target and device; disable every target and driver.  Other attributes
    keep their values.  A virtual target goes with one ``del_target``; a hardware one,
    which stays, is emptied object by object."""
    with sysfs.cached():
        return _clear(Applier(sysfs, force=True, log=log))


def _clear(applier: Applier) -> list[Write]:
    sysfs, tree = applier.sysfs, applier.tree
    alua_apply.clear(applier)
    for driver in tree.drivers():
        help_ = tree.driver_help(driver)
        for target in tree.targets(driver):
            base = f"targets/{driver}/{target}"
            if not tree.is_hardware(driver, target):
                # as in SCST, del_target takes the target's LUNs, groups, accounts and
                # sessions with it: one command instead of one per object (each a round
                # trip and, on LIO, a change the daemon saves)
                applier.write(f"targets/{driver}/mgmt", f"del_target {target}")
                continue
            if applier.live_value(f"{base}/enabled") == "1":
                applier.write(f"{base}/enabled", "0")
            for group in tree.groups(driver, target):
                if tree.initiators(driver, target, group):
                    applier.write(f"{base}/ini_groups/{group}/initiators/mgmt", "clear")
                if tree.luns(f"{base}/ini_groups/{group}/luns"):
                    applier.write(f"{base}/ini_groups/{group}/luns/mgmt", "clear")
                applier.write(f"{base}/ini_groups/mgmt", f"del {group}")
            if tree.luns(f"{base}/luns"):
                applier.write(f"{base}/luns/mgmt", "clear")
            for name in help_.lists.get(TARGET_DYNAMIC, ()):
                for value in tree.dynamic_values(base, name):
                    applier.write(f"targets/{driver}/mgmt",
                                  f"del_target_attribute {target} {name} {value}")
        for name in help_.lists.get(DRIVER_DYNAMIC, ()):
            for value in tree.dynamic_values(f"targets/{driver}", name):
                applier.write(f"targets/{driver}/mgmt", f"del_attribute {name} {value}")
        if applier.live_value(f"targets/{driver}/enabled") == "1" and sysfs.writable(
                f"targets/{driver}/enabled"):
            applier.write(f"targets/{driver}/enabled", "0")
    for handler in tree.handlers():
        for device in tree.handler_devices(handler):
            applier.write(f"handlers/{handler}/mgmt", f"del_device {device}")
    return applier.writes

