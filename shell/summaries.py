"""One-line summaries for ``ls``, from SCST's generic layout (not from driver names).

SCST fixes where things are for every handler and driver: ``devices/<d>`` with a ``handler``
link and size attributes, ``targets/<driver>/<target>`` with ``enabled``, ``luns/<n>`` with a
``device`` link, ``ini_groups/<g>/initiators``, ``sessions/<s>``.  The summaries rely on that
layout alone, so a driver the shell has never heard of is summarised the same way.
"""

from __future__ import annotations

from tcmu_scst.compat_sysfs.names import COPY_MANAGER
from tcmu_scst.config.sysfs import ScstSysfs, SysfsError

Summary = tuple[str, bool | None]


def _value(sysfs: ScstSysfs, relative: str) -> str | None:
    """An attribute's value, or None when it is absent or unreadable."""
    if not sysfs.exists(relative) or sysfs.is_dir(relative):
        return None
    try:
        return sysfs.attribute(relative).value
    except (SysfsError, OSError):
        return None


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def human_size(size: int) -> str:
    """Bytes as the largest binary unit that keeps a number ≥ 1 (``256.0 MiB``)."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - the loop always returns


def _enabled(sysfs: ScstSysfs, relative: str) -> tuple[str, bool | None] | None:
    value = _value(sysfs, f"{relative}/enabled")
    if value is None:
        return None
    on = value.strip().startswith("1")
    return ("enabled" if on else "disabled"), (True if on else None)


def device_summary(sysfs: ScstSysfs, relative: str) -> Summary:
    words = []
    if sysfs.is_link(f"{relative}/handler"):
        words.append(sysfs.readlink(f"{relative}/handler"))
    size = _value(sysfs, f"{relative}/size")
    size_mb = _value(sysfs, f"{relative}/size_mb")
    if size is not None and size.strip().isdigit():
        words.append(human_size(int(size)))
    elif size_mb is not None and size_mb.strip().isdigit():
        words.append(human_size(int(size_mb) << 20))
    filename = _value(sysfs, f"{relative}/filename")
    if filename:
        words.append(filename)
    # the copy manager's LUN (every device has one on SCST) exports it to no initiator
    exported = [name for name in sysfs.links(f"{relative}/exported")
                if f"/targets/{COPY_MANAGER}/" not in
                sysfs.link_target(f"{relative}/exported/{name}")]
    words.append("exported" if exported else "not exported")
    return ", ".join(words), True


def _state(sysfs: ScstSysfs, relative: str) -> tuple[list[str], bool | None]:
    """The first words of a target's or driver's summary (its enabled state) and health."""
    state = _enabled(sysfs, relative)
    return ([state[0]], state[1]) if state else ([], None)


def target_summary(sysfs: ScstSysfs, relative: str) -> Summary:
    words, health = _state(sysfs, relative)
    words.append(_count(len(sysfs.subdirectories(f"{relative}/luns")), "LUN"))
    groups = sysfs.subdirectories(f"{relative}/ini_groups")
    if groups:
        words.append(_count(len(groups), "group"))
    words.append(_count(len(sysfs.entries(f"{relative}/sessions")), "session"))
    return ", ".join(words), health


def driver_summary(sysfs: ScstSysfs, relative: str) -> Summary:
    words, health = _state(sysfs, relative)
    words.append(_count(len(sysfs.subdirectories(relative)), "target"))
    return ", ".join(words), health


def lun_summary(sysfs: ScstSysfs, relative: str) -> Summary:
    if not sysfs.is_link(f"{relative}/device"):
        return "no device", False
    words = [sysfs.readlink(f"{relative}/device")]
    if (_value(sysfs, f"{relative}/read_only") or "0").strip() == "1":
        words.append("read-only")
    return ", ".join(words), True


def group_summary(sysfs: ScstSysfs, relative: str) -> Summary:
    initiators = [name for name in sysfs.files(f"{relative}/initiators") if name != "mgmt"]
    luns = sysfs.subdirectories(f"{relative}/luns")
    return f"{_count(len(initiators), 'initiator')}, {_count(len(luns), 'LUN')}", None


def session_summary(sysfs: ScstSysfs, relative: str) -> Summary:
    words = []
    initiator = _value(sysfs, f"{relative}/initiator_name")
    if initiator:
        words.append(initiator)
    addresses = sysfs.subdirectories(relative)
    if addresses:
        words.append("from " + ", ".join(addresses))
    commands = _value(sysfs, f"{relative}/active_commands")
    if commands is not None:
        words.append(f"{commands.strip()} active commands")
    return ", ".join(words), True


def summarize(sysfs: ScstSysfs, relative: str) -> Summary:
    """The ``ls`` text of the directory ``relative`` and its health (True/False/None)."""
    parts = relative.split("/") if relative else []
    try:
        return _summarize(sysfs, relative, parts)
    except (SysfsError, OSError):
        return "gone", False


def _summarize(sysfs: ScstSysfs, relative: str, parts: list[str]) -> Summary:
    if not parts:
        version = _value(sysfs, "version") or ""
        return (version.splitlines()[0] if version else "SCST tree"), None
    if len(parts) == 1:
        if parts[0] == "handlers" or parts[0] == "devices":
            noun = "handler" if parts[0] == "handlers" else "device"
            return _count(len(sysfs.subdirectories(relative)), noun), None
        if parts[0] == "targets":
            return _count(len(sysfs.subdirectories(relative)), "driver"), None
        return "", None
    if parts[0] == "devices" and len(parts) == 2:
        return device_summary(sysfs, relative)
    if parts[0] == "handlers" and sysfs.exists(f"{relative}/mgmt"):
        return _count(len(sysfs.links(relative)), "device"), None
    if parts[0] == "targets" and len(parts) == 2:
        return driver_summary(sysfs, relative)
    if parts[0] == "targets" and len(parts) == 3:
        return target_summary(sysfs, relative)
    parent = parts[-2]
    if parts[-1] == "luns":
        return _count(len(sysfs.subdirectories(relative)), "LUN"), None
    if parent == "luns":
        return lun_summary(sysfs, relative)
    if parts[-1] == "ini_groups":
        return _count(len(sysfs.subdirectories(relative)), "group"), None
    if parent == "ini_groups":
        return group_summary(sysfs, relative)
    if parts[-1] == "initiators":
        count = len([name for name in sysfs.files(relative) if name != "mgmt"])
        return _count(count, "initiator"), None
    if parts[-1] == "sessions":
        return _count(len(sysfs.entries(relative)), "session"), None
    if parent == "sessions":
        return session_summary(sysfs, relative)
    return "", None
