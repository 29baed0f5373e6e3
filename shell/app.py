"""The shell object: configshell's interpreter over a :class:`RootNode`, with one-line errors.

configshell raises whatever a command raises and leaves error reporting to the caller; this
class turns every failure into a single ``Error: ...`` line (never a traceback) and says
whether a line succeeded, which is what the interactive loop, one-shot commands and script
files all need.
"""

from __future__ import annotations

import os
import readline
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

import pyparsing
from configshell import prefs
from configshell.node import ExecutionError
from configshell.shell import ConfigShell

from tcmu_scst.config.sysfs import ScstSysfs

from .configtool import ConfigTool
from .nodes import RootNode, nearest_existing

HISTORY_FILE = "history.txt"


def _forget_configshell_state() -> None:
    """configshell keeps preferences in a process-wide Borg; start each shell clean."""
    shared = prefs.Prefs()
    shared.__dict__.clear()
    shared._prefs = {}
    shared.filename = None
    shared.autosave = False


def describe_error(error: BaseException) -> str:
    """One line for any failure, whatever raised it."""
    if isinstance(error, pyparsing.ParseBaseException):
        return (f"cannot parse the line at column {error.column} (values cannot contain "
                "spaces or quotes)")
    text = " ".join(str(error).split())
    if not text:
        return type(error).__name__
    if isinstance(error, (KeyError, IndexError, TypeError, AttributeError, RuntimeError)):
        return f"{type(error).__name__}: {text}"
    return text


class ScstShell(ConfigShell):
    """configshell over an SCST tree; prints to the given streams."""

    def __init__(self, sysfs: ScstSysfs, preferences_dir: str | None = None,
                 stdout: TextIO | None = None, stderr: TextIO | None = None):
        _forget_configshell_state()
        super().__init__(preferences_dir)
        self.prefs["logfile"] = None
        if stdout is not None:
            self.con._stdout = stdout
        if stderr is not None:
            self.con._stderr = stderr
        self.errors: TextIO = self.con._stderr
        self.sysfs = sysfs
        self.config_tool = ConfigTool(sysfs.root)
        self.generation = 0
        self.history_file = (Path(preferences_dir).expanduser() / HISTORY_FILE
                             if preferences_dir else None)
        RootNode(self)

    @property
    def current_path(self) -> str:
        return self._current_node.path

    def run_cmdline(self, cmdline: str) -> None:
        """Run one line (raises on error), against a fresh view of the tree."""
        self.generation += 1  # re-list directories and re-read mgmt texts
        cmdline = self._child_as_path(cmdline)
        self._parser.parse_string(cmdline, parse_all=True)  # no silently dropped tail
        try:
            super().run_cmdline(cmdline)
        finally:
            self.generation += 1
            self._current_node = nearest_existing(self._current_node)

    def _child_as_path(self, cmdline: str) -> str:
        """``iqn.2006-10.net.vlnb:tgt enable`` means the child of that name: configshell
        takes a first word as a path only when it holds a ``/``, and SCST names rarely do."""
        first, _, rest = cmdline.strip().partition(" ")
        if not first or "/" in first or first in {".", "..", "*"} or first.startswith("@"):
            return cmdline
        node = self._current_node
        if first in node.list_commands():
            return cmdline
        try:
            node.get_child(first)
        except ValueError:
            return cmdline
        return f"{first}/ {rest}".rstrip()

    def run_line(self, line: str, where: str = "") -> bool:
        """Run one line; on failure print one error line and return False."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        try:
            self.run_cmdline(line)
        except Exception as error:
            self.errors.write(f"Error: {where}{describe_error(error)}\n")
            self.errors.flush()
            return False
        return True

    def run_lines(self, lines: Iterable[str], source: str) -> bool:
        """A script: from the root, line by line, stopping at the first error."""
        self._current_node = self._root_node
        for number, line in enumerate(lines, start=1):
            if not self.run_line(line, where=f"{source}:{number}: "):
                return False
            if self._exit:
                break
        return True

    def _dispatch_completion(self, path, command, pparams, kparams, text, current_token):
        """configshell's completion, without its offer of ``argument=`` for positional
        arguments: with it, TAB could never complete a name or a LUN number on its own."""
        found = super()._dispatch_completion(path, command, pparams, kparams, text,
                                             current_token)
        if current_token != "pparam":
            return found
        try:
            target = self._current_node.get_node(path.partition("*")[0])
            positional = {f"{name}=" for name in target.get_command_signature(command)[0]}
        except (ValueError, ExecutionError):
            return found
        kept = [candidate for candidate in found if candidate not in positional]
        if len(kept) == 1 and not kept[0].endswith(("=", " ", "/")):
            kept[0] += " "
        return kept

    def completions(self, line: str) -> list[str]:
        """What TAB offers at the end of ``line``, as readline would get it (for tests and
        for checking a tree's completions without a terminal)."""
        self.generation += 1
        text = "" if not line or line.endswith(" ") else line.rsplit(" ", maxsplit=1)[-1]
        begin = len(line) - len(text)
        results, path, command, pparams, kparams = self._parse_cmdline(line)
        token = None
        if not text:
            fake = self._parse_cmdline(line + "x")[0]
            if fake.command and fake.command.value == "x":
                token = "command"
            elif "x" in [p.value for p in fake.pparams or []]:
                token = "pparam"
            elif "x" in [k.value for k in fake.kparams or []]:
                token = "kparam"
        elif path and begin == results.path.locn_start:
            token = "path"
        elif command and begin == results.command.locn_start:
            token = "command"
        elif pparams and begin in [p.locn_start for p in results.pparams]:
            token = "pparam"
        elif kparams and begin in [k.locn_start for k in results.kparams]:
            token = "kparam"
        return list(self._dispatch_completion(path, command, pparams, kparams, text, token))

    def interact(self) -> bool:
        """The interactive loop: prompt, completion, history; Ctrl-C drops the line."""
        if self.history_file and self.history_file.is_file():
            readline.read_history_file(str(self.history_file))
        readline.set_completer_delims("\t\n ~!#$^&(){}\\|;'\",?")
        readline.parse_and_bind("tab: complete")
        readline.set_completer(self._complete)
        ok = True
        while not self._exit:
            try:
                line = input(self._get_prompt())
            except EOFError:
                self.con.raw_write("\n", output=self.con._stdout)
                break
            except KeyboardInterrupt:
                self.con.raw_write("\n", output=self.con._stdout)
                continue
            ok = self.run_line(line)
            if self.history_file:
                try:
                    readline.write_history_file(str(self.history_file))
                except OSError:
                    self.history_file = None
        return ok


def preferences_directory(given: str | None) -> str | None:
    """Where bookmarks and history live: ``--prefs-dir``, ``$TCMU_SCST_SHELL_HOME`` or
    ``~/.tcmu_scst_shell``; ``""`` keeps them in memory only."""
    if given is not None:
        return given or None
    return os.environ.get("TCMU_SCST_SHELL_HOME", "~/.tcmu_scst_shell") or None
