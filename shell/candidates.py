"""What tab completion offers for each kind of argument, read from the tree.

Objects are found where SCST's layout puts them: devices in ``devices/``, a directory's own
objects as its links (a handler's devices), subdirectories (a driver's targets, LUNs, groups)
or entry files (an ``initiators/`` directory's names), sessions under a target's
``sessions/``, groups under the nearest ``ini_groups/``.
"""

from __future__ import annotations

import glob
import os

from tcmu_scst.config.sysfs import MgmtHelp, ScstSysfs, SysfsError

from .verbs import CREATE_ALIAS, DELETE_ALIAS, Argument, Kind, Verb


def entry_files(sysfs: ScstSysfs, relative: str) -> list[str]:
    """Read-only files whose content is their own name: the entries of a list directory
    (``initiators/``).  Only directories with a ``mgmt`` file hold such lists."""
    if not sysfs.exists(f"{relative}/mgmt"):
        return []
    found = []
    for name in sysfs.files(relative):
        path = f"{relative}/{name}"
        if name == "mgmt" or sysfs.writable(path):
            continue
        try:
            if sysfs.read(path).strip() == name:
                found.append(name)
        except SysfsError:
            continue
    return found


def objects_of(sysfs: ScstSysfs, relative: str) -> list[str]:
    """The names a ``delete`` in this directory can take."""
    names = set(sysfs.links(relative)) | set(sysfs.subdirectories(relative))
    names |= set(entry_files(sysfs, relative))
    return sorted(names)


def _groups_near(sysfs: ScstSysfs, relative: str) -> list[str]:
    parts = relative.split("/")
    for index in range(len(parts), 0, -1):
        if parts[index - 1] == "ini_groups":
            groups_dir = "/".join(parts[:index])
            own = parts[index] if index < len(parts) else None
            return [name for name in sysfs.subdirectories(groups_dir) if name != own]
    return []


def _lun_numbers(sysfs: ScstSysfs, relative: str) -> list[int]:
    return sorted(int(name) for name in sysfs.subdirectories(relative) if name.isdigit())


def _attribute_list(help_text: MgmtHelp, verb: str) -> list[str]:
    """Names from the "The following ... attributes available" line that fits ``verb``."""
    if "target_attribute" in verb:
        wanted = ["target attributes"]
    elif "device_attribute" in verb:
        wanted = ["device attributes"]
    else:
        wanted = [label for label in help_text.lists
                  if label.endswith(("driver attributes", "handler attributes"))]
    names: list[str] = []
    for label in wanted:
        names.extend(help_text.lists.get(label, ()))
    if not names:  # an unknown driver's wording: offer every attribute it lists
        for label, listed in help_text.lists.items():
            if "attribute" in label:
                names.extend(listed)
    return list(dict.fromkeys(names))


def for_argument(sysfs: ScstSysfs, relative: str, help_text: MgmtHelp, verb: Verb,
                 argument: Argument, given: dict[str, str]) -> list[str]:
    """Candidates for one positional argument of ``verb`` run in ``relative``."""
    first = bool(verb.arguments) and argument == verb.arguments[0]
    if first and verb.new_name_first:
        return []
    if first and verb.role == DELETE_ALIAS:
        return objects_of(sysfs, relative)
    kind = argument.kind
    if kind is Kind.DEVICE:
        return sysfs.subdirectories("devices")
    if kind is Kind.LUN:
        numbers = _lun_numbers(sysfs, relative)
        if verb.role == CREATE_ALIAS:
            return [str(next(n for n in range(len(numbers) + 1) if n not in numbers))]
        return [str(number) for number in numbers]
    if kind is Kind.TARGET:
        return sysfs.subdirectories(relative)
    if kind is Kind.SESSION:
        targets = [given[a.name] for a in verb.arguments
                   if a.kind is Kind.TARGET and a.name in given]
        return sysfs.entries(f"{relative}/{targets[0]}/sessions") if targets else []
    if kind is Kind.INITIATOR:
        return entry_files(sysfs, relative)
    if kind is Kind.GROUP:
        return _groups_near(sysfs, relative)
    if kind is Kind.ATTRIBUTE:
        return _attribute_list(help_text, verb.verb)
    return []


def names_a_file(parameter: str) -> bool:
    """``filename``, ``dif_filename``, ``pr_file_name``...: values that are paths."""
    return "file" in parameter or "path" in parameter


def file_paths(text: str) -> list[str]:
    """File-system paths for ``filename=`` values; directories end with ``/``."""
    matches = sorted(glob.glob(glob.escape(os.path.expanduser(text)) + "*"))
    return [match + "/" if os.path.isdir(match) else match for match in matches]


def finish(candidates: list[str], text: str) -> list[str]:
    """Keep what starts with ``text``; a single full name gets configshell's trailing space."""
    matching = [candidate for candidate in candidates if candidate.startswith(text)]
    if len(matching) == 1 and not matching[0].endswith(("=", "/")):
        return [matching[0] + " "]
    return matching
