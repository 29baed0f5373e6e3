"""``get``/``set`` of a directory's attribute files (configshell group ``attribute``).

The files are read when the command runs, so whatever a handler or driver adds is there.
Values are not checked here: the tree itself accepts or refuses a write, and its errno is
what the user sees, named, with the file that refused it.
"""

from __future__ import annotations

import errno

from configshell.node import ConfigNode, ExecutionError

from tcmu_scst.config.sysfs import ScstSysfs, SysfsError

from .candidates import entry_files, finish

GROUP = "attribute"
GLOBAL = "global"


def errno_name(code: int | None) -> str:
    return errno.errorcode.get(code or 0, str(code))


def refused(action: str, error: SysfsError, sysfs: ScstSysfs) -> ExecutionError:
    """One line: what was attempted, the tree's errno (named) and which file answered."""
    where = error.path
    root = str(sysfs.root).rstrip("/")
    if where.startswith(root + "/"):
        where = where[len(root):]
    return ExecutionError(f"{action}: {error.strerror} ({errno_name(error.errno)}) "
                          f"from {where}")


class AttributeCommands(ConfigNode):
    """``get attribute [name...]`` and ``set attribute name=value...`` for a tree node."""

    sysfs: ScstSysfs
    relative: str

    def attribute_names(self, writable: bool | None = None) -> list[str]:
        """Attribute files of this directory (not ``mgmt``, not list entries)."""
        entries = set(entry_files(self.sysfs, self.relative))
        names = []
        for name in self.sysfs.files(self.relative):
            if name == "mgmt" or name in entries:
                continue
            if writable is not None and self.sysfs.writable(self._file(name)) != writable:
                continue
            names.append(name)
        return names

    def _file(self, name: str) -> str:
        return f"{self.relative}/{name}" if self.relative else name

    def _show(self, name: str) -> str:
        path = self._file(name)
        flags = []
        if not self.sysfs.readable(path):
            return f"{name}=<write-only> [wo]"
        try:
            value = self.sysfs.attribute(path)
        except SysfsError as error:
            return f"{name}=<unreadable: {error.strerror} ({errno_name(error.errno)})>"
        if value.key:
            flags.append("[key]")
        if not self.sysfs.writable(path):
            flags.append("[ro]")
        text = value.value.replace("\n", "\n    ")
        return " ".join([f"{name}={text}", *flags])

    def _require(self, name: str) -> None:
        if name not in self.attribute_names():
            raise ExecutionError(f"No attribute '{name}' in {self.path} "
                                 f"(see 'get {GROUP}').")

    def ui_command_get(self, group=None, *parameter):
        """
        Shows attributes: 'get attribute' lists every attribute file of this node
        with its value, 'get attribute NAME...' only those. [key] marks a value SCST
        saves (configuration that differs from the default), [ro] one that cannot be
        written, [wo] one that cannot be read. 'get global' shows the shell's own
        preferences.
        """
        if group != GROUP:
            super().ui_command_get(group, *parameter)
            return
        names = list(parameter) or self.attribute_names()
        for name in names:
            self._require(name)
        for name in names:
            self.shell.con.display(self._show(name))

    def ui_command_set(self, group=None, **parameter):
        """
        Writes attributes: 'set attribute NAME=VALUE...' writes each value to its file,
        in order, and shows what the file reads afterwards. The tree checks the value:
        a refused write stops here with the errno it returned. 'set global ...' changes
        the shell's own preferences.
        """
        if group != GROUP:
            super().ui_command_set(group, **parameter)
            return
        if not parameter:
            for name in self.attribute_names(writable=True):
                self.shell.con.display(self._show(name))
            return
        for name in parameter:
            self._require(name)
        for name, value in parameter.items():
            try:
                self.sysfs.write(self._file(name), value)
            except SysfsError as error:
                raise refused(f"set {name}={value}", error, self.sysfs) from None
            self.shell.con.display(self._show(name))

    def ui_complete_get(self, parameters, text, current_param):
        if current_param == "group":
            return finish([GROUP, GLOBAL], text)
        if parameters.get("group") == GROUP:
            given = set(parameters.values())
            return finish([name for name in self.attribute_names() if name not in given],
                          text)
        return super().ui_complete_get(parameters, text, current_param)

    def ui_complete_set(self, parameters, text, current_param):
        if current_param == "group":
            return finish([GROUP, GLOBAL], text)
        if parameters.get("group") != GROUP:
            return super().ui_complete_set(parameters, text, current_param)
        if current_param == "*" or current_param not in self.attribute_names():
            return finish([f"{name}=" for name in self.attribute_names(writable=True)
                           if name not in parameters], text)
        try:
            current = self.sysfs.attribute(self._file(current_param)).value
        except SysfsError:
            return []
        return finish(["0", "1"] if current in {"0", "1"} else [current], text)
