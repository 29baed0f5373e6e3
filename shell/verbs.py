"""Shell commands derived from one ``mgmt`` usage text.

Nothing here knows a handler or a driver by name: every command comes from the verbs the help
text lists, so a handler or driver that appears in the tree later gets its commands for free.
The only vocabulary built in is SCST's own placeholder style (``device_name``, ``VNAME``,
``H:C:I:L``, ``lun``, ``target_name``, ``INITIATOR_NAME``, ``<attribute>``...), which is what
lets completion offer the right kind of name for each argument.

Two friendly names are added on top of the verbs, as targetcli users expect: ``create`` for
the verb on the first usage line when it makes something (``add_device``, ``add_target``,
``add``, ``create``) and ``delete`` for its counterpart (``del_device``, ``del``...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from tcmu_scst.config.sysfs import MgmtCommand, MgmtHelp

PARAMETERS_WORD = "[parameters]"
CREATE_ALIAS = "create"
DELETE_ALIAS = "delete"


class Kind(Enum):
    """What an argument names, which decides what completion offers for it."""

    DEVICE = "device"
    LUN = "lun"
    TARGET = "target"
    SESSION = "session"
    INITIATOR = "initiator"
    GROUP = "group"
    ATTRIBUTE = "attribute"
    VALUE = "value"
    OTHER = "other"


def _kind_of(identifier: str) -> Kind:
    if identifier in {"vname", "h_c_i_l"} or "device" in identifier:
        return Kind.DEVICE
    for word, kind in (("lun", Kind.LUN), ("target", Kind.TARGET), ("session", Kind.SESSION),
                       ("initiator", Kind.INITIATOR), ("group", Kind.GROUP),
                       ("attribute", Kind.ATTRIBUTE), ("value", Kind.VALUE)):
        if word in identifier:
            return kind
    return Kind.OTHER


def identifier_of(word: str) -> str:
    """A usage word as a Python identifier (configshell names arguments after them)."""
    name = re.sub(r"[^0-9a-zA-Z]+", "_", word.strip("<>[]")).strip("_").lower()
    if not name:
        return "argument"
    return name if not name[0].isdigit() else f"arg_{name}"


@dataclass(frozen=True)
class Argument:
    """One positional argument of a command."""

    name: str
    kind: Kind
    rest_of_line: bool = False  # ``<value>`` at the end: SCST takes every remaining word


@dataclass(frozen=True)
class Verb:
    """A shell command backed by one ``mgmt`` verb."""

    command: str            # the name typed in the shell
    verb: str               # the word written to mgmt
    arguments: tuple[Argument, ...]
    takes_parameters: bool  # ``[parameters]``: name=value pairs joined with "; "
    usages: tuple[str, ...]  # the help text's lines for this verb, as written there
    role: str | None = None  # CREATE_ALIAS or DELETE_ALIAS for the pair that makes/unmakes
    new_name_first: bool = False  # the first argument names a new object (nothing to offer)

    def render(self, positional: list[str], parameters: dict[str, str]) -> str:
        """The line to write to ``mgmt``."""
        words = [self.verb, *positional]
        if parameters:
            words.append("; ".join(f"{key}={value}" for key, value in parameters.items()))
        return " ".join(words)


def _merge_arguments(commands: list[MgmtCommand]) -> tuple[tuple[Argument, ...], bool]:
    """One argument list for a verb that has several usage lines (``add H:C:I:L lun`` and
    ``add VNAME lun``): alternatives of one kind share the kind's name."""
    takes_parameters = any(command.takes_parameters for command in commands)
    columns: list[list[str]] = []
    for command in commands:
        words = [word for word in command.arguments if word != PARAMETERS_WORD]
        for index, word in enumerate(words):
            if index == len(columns):
                columns.append([])
            if identifier_of(word) not in columns[index]:
                columns[index].append(identifier_of(word))
    arguments = []
    for index, names in enumerate(columns):
        kinds = {_kind_of(name) for name in names}
        if len(names) == 1:
            name = names[0]
        elif len(kinds) == 1 and Kind.OTHER not in kinds:
            name = kinds.pop().value
        else:
            name = "_or_".join(names)
        last = index == len(columns) - 1
        original = commands[0].arguments[index] if index < len(commands[0].arguments) else ""
        rest = last and not takes_parameters and original.startswith("<")
        arguments.append(Argument(name, _kind_of(name), rest))
    seen: dict[str, int] = {}
    unique = []
    for argument in arguments:  # configshell needs distinct names
        count = seen.get(argument.name, 0)
        seen[argument.name] = count + 1
        unique.append(argument if not count else
                      Argument(f"{argument.name}{count + 1}", argument.kind,
                               argument.rest_of_line))
    return tuple(unique), takes_parameters


def _counterpart(verb: str, verbs: tuple[str, ...]) -> str | None:
    """The verb that undoes ``verb``: ``add_x`` ↔ ``del_x``, ``create`` ↔ ``del``."""
    if verb.startswith("add"):
        candidate = "del" + verb[len("add"):]
    elif verb.startswith("create"):
        candidate = "del" + verb[len("create"):]
    else:
        return None
    return candidate if candidate in verbs else None


def _usage_lines(help_text: MgmtHelp, verb: str) -> tuple[str, ...]:
    return tuple(" ".join((command.verb, *command.arguments)) for command in help_text.commands
                 if command.verb == verb)


def derive_verbs(help_text: MgmtHelp, reserved: frozenset[str] = frozenset()) -> list[Verb]:
    """Every command a ``mgmt`` text offers, plus ``create``/``delete`` where they fit.

    ``reserved`` are the shell's own command names; a verb that collides with one is offered
    as ``mgmt_<verb>`` so that neither hides the other.
    """
    verbs = help_text.verbs
    derived: list[Verb] = []
    create_verb = verbs[0] if verbs else None
    delete_verb = _counterpart(create_verb, verbs) if create_verb else None
    for verb in verbs:
        commands = [command for command in help_text.commands if command.verb == verb]
        arguments, takes_parameters = _merge_arguments(commands)
        role = None
        new_name = False
        if delete_verb and verb in {create_verb, delete_verb}:
            role = CREATE_ALIAS if verb == create_verb else DELETE_ALIAS
            other = delete_verb if verb == create_verb else create_verb
            other_arguments, _ = _merge_arguments(
                [command for command in help_text.commands if command.verb == other])
            # "add_device device_name" / "del_device device_name": a new name;
            # "add VNAME lun" / "del lun": VNAME refers to something else (a device)
            new_name = (role == CREATE_ALIAS and bool(arguments) and bool(other_arguments)
                        and other_arguments[0].name == arguments[0].name)
        name = verb if verb not in reserved else f"mgmt_{verb}"
        usages = _usage_lines(help_text, verb)
        derived.append(Verb(name, verb, arguments, takes_parameters, usages, role, new_name))
        if role:
            derived.append(Verb(role, verb, arguments, takes_parameters, usages, role, new_name))
    unique: dict[str, Verb] = {}
    for command in derived:  # "create GROUP_NAME" is its own alias
        unique.setdefault(command.command, command)
    return list(unique.values())
