"""configshell nodes that mirror an SCST tree, directory by directory.

Each node is a view of one directory, read through :class:`ScstSysfs`.  Children are
re-listed once per command line (the shell bumps a generation counter), so objects made by
a command, by a script or by someone else's ``echo`` appear at the next prompt.  A node's
commands are those of its ``mgmt`` help text (see :mod:`.verbs`), plus ``get``/``set`` for
its attribute files, ``enable``/``disable`` where it has an ``enabled`` file, and
``saveconfig``/``restoreconfig`` at the root.
"""

from __future__ import annotations

import inspect
import posixpath
from typing import TYPE_CHECKING

from configshell.node import ConfigNode, ExecutionError

from tcmu_scst.config.sysfs import MgmtHelp, ScstSysfs, SysfsError

from . import candidates
from .attributes import GROUP, AttributeCommands, refused
from .summaries import summarize
from .verbs import Verb, derive_verbs

if TYPE_CHECKING:
    from .app import ScstShell

# Links whose target the owner's summary already shows.
SUMMARISED_LINKS = frozenset({"handler", "device"})
ENABLED = "enabled"


class VerbCall:
    """A configshell command backed by one ``mgmt`` verb.

    configshell reads a command's syntax from its signature, so each call object carries a
    signature built from the usage text: the verb's arguments as positional parameters,
    ``[parameters]`` as ``**parameters``, a trailing ``<value>`` as ``value *more``.
    """

    def __init__(self, node: TreeNode, verb: Verb, help_text: MgmtHelp):
        self.node = node
        self.verb = verb
        self.help_text = help_text
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        parameters = [inspect.Parameter("self", kind)]
        parameters += [inspect.Parameter(argument.name, kind) for argument in verb.arguments]
        if verb.arguments and verb.arguments[-1].rest_of_line:
            parameters.append(inspect.Parameter("more", inspect.Parameter.VAR_POSITIONAL))
        if verb.takes_parameters:
            parameters.append(inspect.Parameter("parameters", inspect.Parameter.VAR_KEYWORD))
        self.__signature__ = inspect.Signature(parameters)
        self.__doc__ = self.describe()

    @property
    def mgmt(self) -> str:
        return f"{self.node.relative}/mgmt"

    def describe(self) -> str:
        """``help <command>``: the usage lines and lists of the ``mgmt`` text itself."""
        lines = [f'Writes to {self.node.path.rstrip("/")}/mgmt, whose help text says:', ""]
        lines += [f'    echo "{usage}" >mgmt' for usage in self.verb.usages]
        if self.verb.command != self.verb.verb:
            lines += ["", f"'{self.verb.command}' is this node's name for "
                      f"'{self.verb.verb}'."]
        if self.verb.takes_parameters:
            lines += ["", "[parameters] are given as NAME=VALUE words; they are written "
                      "to mgmt joined with '; '."]
            listed = self.help_text.parameters
            if listed:
                lines += ["", "The following parameters available: " + ", ".join(listed)]
        if self.verb.arguments and self.verb.arguments[-1].rest_of_line:
            lines += ["", f"{self.verb.arguments[-1].name} is the rest of the line: "
                      "every word from there on is written as it is."]
        for label, names in self.help_text.lists.items():
            if label != "parameters" and "attribute" in label and any(
                    argument.name == "attribute" for argument in self.verb.arguments):
                lines += ["", f"The following {label} available: " + ", ".join(names)]
        return "\n".join(lines) + "\n"

    def syntax(self) -> str:
        words = [self.verb.command, *(argument.name for argument in self.verb.arguments)]
        if self.verb.arguments and self.verb.arguments[-1].rest_of_line:
            words.append("[more...]")
        if self.verb.takes_parameters:
            words.append("[NAME=VALUE...]")
        return " ".join(words)

    def __call__(self, *positional: str, **keywords: str) -> None:
        words = list(positional)
        keywords = dict(keywords)
        for argument in self.verb.arguments[len(words):]:
            if argument.name not in keywords:
                raise ExecutionError(f"Missing {argument.name}; see 'help {self.verb.command}'.")
            words.append(keywords.pop(argument.name))
        listed = self.help_text.parameters
        unknown = [name for name in keywords if listed and name not in listed]
        if unknown:
            raise ExecutionError(f"Unknown parameter {unknown[0]} for {self.verb.verb} "
                                 f"(available: {', '.join(listed)}).")
        line = self.verb.render(words, keywords)
        try:
            self.node.sysfs.write(self.mgmt, line)
        except SysfsError as error:
            raise refused(line, error, self.node.sysfs) from None
        self.node.shell.con.display(f"Done: {line}")

    def complete(self, parameters: dict[str, str], text: str, current: str) -> list[str]:
        """configshell's completion hook for this command."""
        sysfs, listed = self.node.sysfs, self.help_text.parameters
        if current == "*":
            names = [argument.name for argument in self.verb.arguments]
            typing_last = bool(names) and text != "" and parameters.get(names[-1]) == text
            if not self.verb.takes_parameters or typing_last or \
                    any(name not in parameters for name in names):
                return []  # NAME= words come after the positional arguments
            return candidates.finish([f"{name}=" for name in listed
                                      if name not in parameters], text)
        if current in listed and self.verb.takes_parameters:
            return candidates.file_paths(text) if candidates.names_a_file(current) else []
        for argument in self.verb.arguments:
            if argument.name == current:
                found = candidates.for_argument(sysfs, self.node.relative, self.help_text,
                                                self.verb, argument, parameters)
                return candidates.finish(found, text)
        return []


class LeafNode(ConfigNode):
    """A link or a list entry: shown by ``ls``, nothing to configure."""

    def __init__(self, name: str, parent: TreeNode, relative: str):
        super().__init__(name, parent)
        self.relative = relative

    @property
    def sysfs(self) -> ScstSysfs:
        return self.shell.sysfs

    def summary(self) -> tuple[str, bool | None]:
        if self.sysfs.is_link(self.relative):
            try:
                target = self.sysfs.access.readlink(self.relative)
            except OSError:
                return "unreadable link", False
            inside = posixpath.normpath(posixpath.join(posixpath.dirname(self.relative), target))
            healthy = self.sysfs.exists(inside) if not inside.startswith("..") else None
            return f"-> /{inside}" if not inside.startswith("..") else f"-> {target}", healthy
        return "", None


class TreeNode(AttributeCommands):
    """One directory of the SCST tree."""

    help_intro = """
        TCMU-SCST SHELL
        ===============
        Every node is a directory of the SCST sysfs tree; 'ls' shows it with a
        summary per object, 'cd PATH' moves (bookmarks: 'bookmarks add NAME', then
        'cd @NAME').

        A node with a 'mgmt' file has that file's verbs as commands, read from its
        own help text: 'create' and 'delete' for the verbs that make and remove its
        objects (add_device/del_device, add_target/del_target, add/del, create/del)
        and every other verb under its own name. 'help COMMAND' shows the usage text
        and the parameters it lists; TAB completes commands, names and NAME=.

        'get attribute [NAME...]' and 'set attribute NAME=VALUE...' read and write
        the node's attribute files; the tree itself accepts or refuses a value.
        'saveconfig' and 'restoreconfig' (at /) use the scst.conf config tool.

        COMMAND SYNTAX
        ==============
        [PATH] COMMAND [ARGUMENT...] [NAME=VALUE...]
        Values cannot contain spaces or quotes.
        """

    def __init__(self, name: str, parent: TreeNode | None, relative: str,
                 shell: ScstShell | None = None):
        super().__init__(name, parent, shell)
        self.relative = relative
        self._synced = -1
        self._verbs: tuple[int, dict[str, VerbCall]] = (-1, {})

    @property
    def sysfs(self) -> ScstSysfs:
        return self.shell.sysfs

    @property
    def generation(self) -> int:
        return self.shell.generation

    # -- children, kept in step with the tree ---------------------------------------------

    def _child_path(self, name: str) -> str:
        return f"{self.relative}/{name}" if self.relative else name

    def _wanted(self) -> dict[str, type[ConfigNode]]:
        wanted: dict[str, type[ConfigNode]] = {}
        for name in self.sysfs.subdirectories(self.relative):
            wanted[name] = TreeNode
        for name in self.sysfs.links(self.relative):
            if name not in SUMMARISED_LINKS:
                wanted[name] = LeafNode
        for name in candidates.entry_files(self.sysfs, self.relative):
            wanted[name] = LeafNode
        return wanted

    def sync(self) -> None:
        """Make the children match the directory (once per command line)."""
        if self._synced == self.generation:
            return
        self._synced = self.generation
        wanted = self._wanted()
        for child in list(self._children):
            if type(child) is not wanted.get(child.name):
                self.remove_child(child)
        present = {child.name for child in self._children}
        for name, node_type in wanted.items():
            if name not in present:
                node_type(name, self, self._child_path(name))

    @property
    def children(self):
        self.sync()
        return self._children

    def get_child(self, name):
        self.sync()
        return super().get_child(name)

    def summary(self) -> tuple[str, bool | None]:
        return summarize(self.sysfs, self.relative)

    # -- commands ---------------------------------------------------------------------------

    def help_text(self) -> MgmtHelp | None:
        if not self.sysfs.exists(self._child_path("mgmt")):
            return None
        try:
            return self.sysfs.mgmt_help(self._child_path("mgmt"))
        except SysfsError:
            return None

    def verb_calls(self) -> dict[str, VerbCall]:
        """The commands of this directory's ``mgmt`` text (read once per command line)."""
        generation, calls = self._verbs
        if generation != self.generation:
            help_text = self.help_text()
            own = frozenset(self._own_commands())
            calls = {}
            if help_text is not None:
                for verb in derive_verbs(help_text, own):
                    calls[verb.command] = VerbCall(self, verb, help_text)
            self._verbs = (self.generation, calls)
        return calls

    def _own_commands(self) -> list[str]:
        names = list(super().list_commands())
        if not self.sysfs.exists(self._child_path(ENABLED)):
            names = [name for name in names if name not in {"enable", "disable"}]
        return names

    def list_commands(self):
        return tuple(self._own_commands()) + tuple(self.verb_calls())

    def get_command_method(self, command):
        calls = self.verb_calls()
        if command in calls:
            return calls[command]
        if command not in self._own_commands():
            raise ValueError(f'No command named "{command}".')
        return super().get_command_method(command)

    def get_completion_method(self, command):
        calls = self.verb_calls()
        if command in calls:
            return calls[command].complete
        return super().get_completion_method(command)

    def get_command_syntax(self, command):
        calls = self.verb_calls()
        if command in calls:
            return calls[command].syntax(), [], ""
        return super().get_command_syntax(command)

    def execute_command(self, command, pparams=(), kparams=None):
        if command not in self.list_commands():
            raise ExecutionError(f"Command not found: {command} (in {self.path}; "
                                 "'help' lists this node's commands).")
        return super().execute_command(command, list(pparams), dict(kparams or {}))

    def list_config_groups(self):
        return [GROUP, *super().list_config_groups()]

    def ui_command_cd(self, path=None):
        """
        Changes the current node: 'cd PATH' (absolute, relative, '..', or
        '@bookmark'), 'cd <' and 'cd >' step through the history, plain 'cd' goes
        to the root. Bookmarks are kept with 'bookmarks add NAME'.
        """
        return super().ui_command_cd("/" if path is None else path)

    def ui_command_enable(self):
        """
        Writes 1 to this node's 'enabled' file (a target or a target driver).
        """
        self._write_enabled("1")

    def ui_command_disable(self):
        """
        Writes 0 to this node's 'enabled' file (a target or a target driver).
        """
        self._write_enabled("0")

    def _write_enabled(self, value: str) -> None:
        try:
            self.sysfs.write(self._child_path(ENABLED), value)
        except SysfsError as error:
            raise refused(f"set {ENABLED}={value}", error, self.sysfs) from None
        self.shell.con.display(f"{self.path}: {'enabled' if value == '1' else 'disabled'}")


class RootNode(TreeNode):
    """The tree's root: also where the whole configuration is saved and restored."""

    def __init__(self, shell: ScstShell):
        super().__init__("/", None, "", shell=shell)

    def ui_command_saveconfig(self, savefile=None):
        """
        Writes the whole configuration as an scst.conf file (default /etc/scst.conf)
        with the scstadmin-compatible config tool (its -write_config).
        """
        self.shell.config_tool.save(savefile, self.shell.con.display)

    def ui_command_restoreconfig(self, savefile=None):
        """
        Applies an scst.conf file (default /etc/scst.conf) to the tree with the
        scstadmin-compatible config tool (its -config): what differs is changed.
        """
        self.shell.config_tool.restore(savefile, self.shell.con.display)

    def ui_complete_saveconfig(self, parameters, text, current_param):
        return candidates.file_paths(text) if current_param == "savefile" else []

    ui_complete_restoreconfig = ui_complete_saveconfig


def nearest_existing(node: ConfigNode) -> ConfigNode:
    """``node`` if its directory still exists, else its closest ancestor that does."""
    while isinstance(node, TreeNode | LeafNode) and node.relative and \
            not node.sysfs.exists(node.relative):
        node = node.parent
    return node

