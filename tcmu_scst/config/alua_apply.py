"""The ALUA part of ``-config``, ``-check_config`` and ``-clear_config``: ``device_groups/``.

It follows scstadmin's ``applyConfigDeviceGroups``: after devices and targets (a local
target must exist when it is added to a target group, or SCST takes it for a port of
another node) and before targets are enabled.  The tree's device groups are read at that
point, not at the start, so a device re-created or a target deleted meanwhile (which SCST
takes out of its groups) is seen as it is now.  First what the tree has and the file does
not: removed with ``force``, otherwise a warning; then, by name, each device group is
created, gets its devices, and each target group is created, gets its targets (with their
attributes) and then its own attributes.

A ``TARGET`` of a target group that is a local target has the target's files: its
attributes are written to the target's directory, where the link in the tree leads.

What can be checked before the first write is checked in :func:`validate`: device names,
devices that would have to move from another device group or targets from another target
group (only with ``force``: the tree refuses a second membership), and attribute names,
against the files of the object or, for one not made yet, of a sibling that exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from .model import Attributes, DeviceGroup, ScstConfig, TargetGroup
from .running import DEVICE_GROUPS, NOT_CONFIGURATION
from .scst_conf import ConfigError

if TYPE_CHECKING:
    from .apply import Applier

Refuse = Callable[[str, int], ConfigError]


def _live(applier: Applier) -> dict[str, DeviceGroup]:
    if not applier.sysfs.is_dir(DEVICE_GROUPS):
        return {}
    return {name: applier.tree.device_group(name) for name in applier.tree.device_groups()}


def _files(applier: Applier, directories: Iterable[str]) -> set[str] | None:
    """The attribute files of the first of ``directories`` that exists (None: none does)."""
    for directory in directories:
        if applier.sysfs.is_dir(directory):
            return {name for name in applier.sysfs.files(directory)
                    if name not in NOT_CONFIGURATION}
    return None


def _check_names(attributes: Attributes, known: set[str] | None, what: str,
                 refuse: Refuse, line: int) -> None:
    if known is None:
        return
    for name in attributes.names():
        if name not in known:
            raise refuse(f"{what} has no attribute {name!r} (it has: "
                         f"{', '.join(sorted(known)) or 'none'})",
                         attributes.lines.get(name, line))


def _local_driver(applier: Applier, config: ScstConfig, target: str) -> str | None:
    """The driver of a local target of that name: in the tree, or made by this file."""
    for driver in applier.tree.drivers():
        if target in applier.tree.targets(driver):
            return driver
    return next((name for name, driver in config.drivers.items() if target in driver.targets),
                None)


def alua_settings(config: ScstConfig) -> Attributes:
    """The ALUA block's attributes to set: without a line that only names one of the file's
    device groups, which scstadmin's ``-write_config -nonkey`` writes (the entries of
    ``device_groups/`` listed as attributes with no value) and which it passes over itself
    when it reads them (as :func:`.apply.handler_settings` does for a handler's devices)."""
    kept = Attributes()
    for name, value in config.alua.items:
        if not (value == "" and name in config.device_groups):
            kept.add(name, value, config.alua.lines.get(name, 0))
    return kept


def validate(applier: Applier, config: ScstConfig, live_devices: Iterable[str],
             refuse: Refuse) -> None:
    if not (config.device_groups or config.alua):
        return
    verbs = applier.tree.help(DEVICE_GROUPS).verbs
    if "create" not in verbs and "add" not in verbs:
        first = min([group.line for group in config.device_groups.values()]
                    or [config.alua.lines.get(name, 0) for name in config.alua.names()])
        raise refuse("this tree cannot create device groups (ALUA); remove the "
                     "DEVICE_GROUP blocks", first)
    _check_names(alua_settings(config), _files(applier, [DEVICE_GROUPS]), DEVICE_GROUPS,
                 refuse, 0)
    live = _live(applier)
    available = config.device_names() | (set() if applier.force else set(live_devices))
    for name, group in config.device_groups.items():
        for device in group.devices:
            line = group.device_lines.get(device, group.line)
            if device not in available:
                raise refuse(f"DEVICE_GROUP {name}: device {device!r} is not defined in the "
                             "configuration" + ("" if applier.force else " nor present"), line)
            holder = next((other for other in live.values()
                           if device in other.devices and other.name != name), None)
            if holder is not None and not applier.force:
                raise refuse(f"device {device} is in device group {holder.name}; use -force "
                             f"to move it to {name}", line)
        _check_names(group.attributes, _files(applier, [f"{DEVICE_GROUPS}/{each}"
                                                        for each in [name, *live]]),
                     f"device group {name}", refuse, group.line)
        for target_group in group.target_groups.values():
            _validate_target_group(applier, live, name, target_group, refuse)


def _validate_target_group(applier: Applier, live: dict[str, DeviceGroup], name: str,
                           group: TargetGroup, refuse: Refuse) -> None:
    siblings = [f"{DEVICE_GROUPS}/{name}/target_groups/{group.name}", *(
        f"{DEVICE_GROUPS}/{each}/target_groups/{other}"
        for each, device_group in live.items() for other in device_group.target_groups)]
    _check_names(group.attributes, _files(applier, siblings), f"target group {group.name}",
                 refuse, group.line)
    live_group = live.get(name)
    if live_group is None or applier.force:
        return
    for target in group.targets.values():
        holder = next((other for other in live_group.target_groups.values()
                       if target.name in other.targets and other.name != group.name), None)
        if holder is not None:
            raise refuse(f"target {target.name} is in target group {holder.name} of {name}; "
                         f"use -force to move it to {group.name}", target.line)


def remove_unlisted(applier: Applier, config: ScstConfig,
                    live: dict[str, DeviceGroup]) -> None:
    """What the tree has and the file does not: removed with force, otherwise a warning."""
    def remove(path: str, text: str, what: str) -> None:
        if applier.force:
            applier.write(path, text)
        else:
            applier.warn(f"{what} is not in the configuration; use -force to remove it")

    for name, group in live.items():
        wanted = config.device_groups.get(name)
        if wanted is None:
            remove(f"{DEVICE_GROUPS}/mgmt", f"del {name}", f"device group {name}")
            continue
        base = f"{DEVICE_GROUPS}/{name}"
        for device in group.devices:
            if device not in wanted.devices:
                remove(f"{base}/devices/mgmt", f"del {device}",
                       f"device {device} of device group {name}")
        for target_group in group.target_groups.values():
            kept = wanted.target_groups.get(target_group.name)
            if kept is None:
                remove(f"{base}/target_groups/mgmt", f"del {target_group.name}",
                       f"target group {name}/{target_group.name}")
                continue
            for target in target_group.targets:
                if target not in kept.targets:
                    remove(f"{base}/target_groups/{target_group.name}/mgmt", f"del {target}",
                           f"target {name}/{target_group.name}/{target}")


def apply(applier: Applier, config: ScstConfig) -> None:
    for name, value in alua_settings(config).single().items():
        applier.set_attribute(f"{DEVICE_GROUPS}/{name}", value)
    if not config.device_groups and not applier.sysfs.is_dir(DEVICE_GROUPS):
        return
    live = _live(applier)
    remove_unlisted(applier, config, live)  # what they remove, no addition below looks for
    for name in sorted(config.device_groups):
        group = config.device_groups[name]
        current = live.get(name)
        base = f"{DEVICE_GROUPS}/{name}"
        if current is None:
            if not applier.write(f"{DEVICE_GROUPS}/mgmt", f"create {name}"):
                continue
            current = DeviceGroup(name)
        for device in group.devices:
            if device not in current.devices:
                applier.write(f"{base}/devices/mgmt", f"add {device}")
        for target_group in sorted(group.target_groups):
            _apply_target_group(applier, config, base, group.target_groups[target_group],
                                current.target_groups.get(target_group))
        for attribute, value in group.attributes.single().items():
            applier.set_attribute(f"{base}/{attribute}", value, fresh=name not in live)


def _apply_target_group(applier: Applier, config: ScstConfig, base: str, group: TargetGroup,
                        current: TargetGroup | None) -> None:
    directory = f"{base}/target_groups/{group.name}"
    fresh = current is None
    if current is None:
        if not applier.write(f"{base}/target_groups/mgmt", f"create {group.name}"):
            return
        current = TargetGroup(group.name)
    for name in sorted(group.targets):
        target = group.targets[name]
        added = name not in current.targets
        if added:
            applier.write(f"{directory}/mgmt", f"add {name}")
        where = f"{directory}/{name}"  # a port of another node: its own directory
        if not applier.sysfs.is_dir(where):  # a local target's link (or, in a dry run, none)
            driver = _local_driver(applier, config, name)
            where = f"targets/{driver}/{name}" if driver else where
        for attribute, value in target.attributes.single().items():
            applier.set_attribute(f"{where}/{attribute}", value, fresh=added)
    for attribute, value in group.attributes.single().items():
        applier.set_attribute(f"{directory}/{attribute}", value, fresh=fresh)


def clear(applier: Applier) -> None:
    """Delete every device group: SCST takes its devices and target groups with it."""
    if applier.sysfs.is_dir(DEVICE_GROUPS):
        for name in applier.tree.device_groups():
            applier.write(f"{DEVICE_GROUPS}/mgmt", f"del {name}")
