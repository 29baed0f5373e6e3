"""The ``-list_*`` queries of scstadmin: tables printed from the tree's files.

Read only; nothing here writes.  Layout follows scstadmin's (a title row, a dashed rule,
one row per object; attribute listings with the columns Attribute, Value, Writable, KEY and
the dynamic attributes the ``mgmt`` help offers).
"""

from __future__ import annotations

from collections.abc import Iterable

from .running import NOT_CONFIGURATION, RunningTree
from .sysfs import SysfsError


def table(headers: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> str:
    rows = list(rows)
    widths = [max([len(header), *(len(row[index]) for row in rows)])
              for index, header in enumerate(headers)]
    line = lambda cells: "\t" + "  ".join(  # noqa: E731
        cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
    out = [line(headers), "\t" + "  ".join("-" * width for width in widths)]
    out += [line(row) for row in rows] or ["\t(none)"]
    return "\n".join(out) + "\n"


def handlers(tree: RunningTree, name: str | None) -> str:
    if name:
        if name not in tree.handlers():
            raise SysfsError(2, f"no handler {name}", f"handlers/{name}")
        return table(("Handler", "Device"),
                     ((name, device) for device in tree.handler_devices(name)))
    return table(("Handler",), ((handler,) for handler in tree.handlers()))


def devices(tree: RunningTree, name: str | None) -> str:
    if name:
        return device_attributes(tree, name)
    rows = [(handler, device) for handler in tree.handlers()
            for device in tree.handler_devices(handler)]
    return table(("Handler", "Device"), rows)


def drivers(tree: RunningTree, name: str | None) -> str:
    names = [name] if name else tree.drivers()
    rows = []
    for driver in names:
        enabled = tree.sysfs.attribute(f"targets/{driver}/enabled").value if (
            tree.sysfs.is_file(f"targets/{driver}/enabled")) else "-"
        rows.append((driver, enabled, str(len(tree.targets(driver)))))
    return table(("Driver", "Enabled", "Targets"), rows)


def targets(tree: RunningTree, name: str | None, driver: str | None) -> str:
    rows = []
    for each in [driver] if driver else tree.drivers():
        for target in tree.targets(each):
            if name and target != name:
                continue
            base = f"targets/{each}/{target}"
            enabled = tree.sysfs.attribute(f"{base}/enabled").value if (
                tree.sysfs.is_file(f"{base}/enabled")) else "-"
            kind = "hardware" if tree.is_hardware(each, target) else "virtual"
            rows.append((each, target, kind, enabled))
    return table(("Driver", "Target", "Kind", "Enabled"), rows)


def groups(tree: RunningTree, name: str | None, driver: str | None,
           target: str | None) -> str:
    out = []
    for each in [driver] if driver else tree.drivers():
        for target_name in [target] if target else tree.targets(each):
            for group in tree.groups(each, target_name):
                if name and group != name:
                    continue
                base = f"targets/{each}/{target_name}/ini_groups/{group}"
                out.append(f"Driver: {each}\nTarget: {target_name}\nGroup : {group}\n")
                out.append(table(("Assigned LUNs", "Device"),
                                 ((str(number), device) for number, device in
                                  sorted(tree.luns(f"{base}/luns").items()))))
                out.append(table(("Assigned Initiators",),
                                 ((initiator,) for initiator in
                                  tree.initiators(each, target_name, group))))
    return "\n".join(out) if out else "\t(no groups)\n"


def device_groups(tree: RunningTree, name: str | None) -> str:
    """All device groups, or one with its devices and target groups."""
    if not name:
        return table(("Device Group",), ((group,) for group in tree.device_groups()))
    if name not in tree.device_groups():
        raise SysfsError(2, f"no device group {name}", f"device_groups/{name}")
    return (table(("Device",), ((device,) for device in tree.group_devices(name))) + "\n"
            + table(("Target Group",), ((group,) for group in tree.target_groups(name))))


def target_groups(tree: RunningTree, device_group: str, name: str | None) -> str:
    """The target groups of a device group, or one target group's targets (local: a target
    of this system; remote: a port of another node)."""
    if not name:
        return table(("Target Group",), ((group,) for group in tree.target_groups(
            device_group)))
    if name not in tree.target_groups(device_group):
        raise SysfsError(2, f"no target group {name} in {device_group}",
                         f"device_groups/{device_group}/target_groups/{name}")
    return table(("Target", "Kind"), (
        (target, "local" if local else "remote")
        for target, local in tree.group_targets(device_group, name).items()))


def sessions(tree: RunningTree, driver: str | None, target: str | None) -> str:
    out = []
    for each in [driver] if driver else tree.drivers():
        for target_name in [target] if target else tree.targets(each):
            for session in tree.sessions(each, target_name):
                base = f"targets/{each}/{target_name}/sessions/{session}"
                out.append(f"Driver: {each}\nTarget: {target_name}\nSession: {session}\n")
                rows = [(name, value.value.replace("\n", " "))
                        for name, value in tree.values(base).items()]
                out.append(table(("Attribute", "Value"), rows))
    return "\n".join(out) if out else "\t(no sessions)\n"


def attributes(tree: RunningTree, directory: str, dynamic_help: str | None = None,
               dynamic_list: str | None = None) -> str:
    """Attribute table of one directory; dynamic attributes from ``dynamic_help``'s mgmt."""
    if not (tree.sysfs.is_dir(directory) or tree.sysfs.is_link(directory)):
        raise SysfsError(2, "no such object", directory)  # a link: a target group's target
    rows = []
    for name, value in tree.sysfs.attributes(directory).items():
        if name in NOT_CONFIGURATION and name != "type":
            continue
        shown = value.value.replace("\n", " ") or "<n/a>"
        rows.append((name, shown, "Yes" if tree.sysfs.writable(f"{directory}/{name}") else "No",
                     "Yes" if value.key else "No"))
    out = table(("Attribute", "Value", "Writable", "KEY"), rows)
    if dynamic_help is not None and dynamic_list is not None:
        names = tree.help(dynamic_help).lists.get(dynamic_list, ())
        out += "\n\tDynamic attributes available:\n" + "".join(
            f"\t  {name}\n" for name in names) if names else ""
    return out


def device_attributes(tree: RunningTree, device: str) -> str:
    return attributes(tree, f"devices/{device}")
