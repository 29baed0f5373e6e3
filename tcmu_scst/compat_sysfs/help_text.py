"""The usage texts that reading a ``mgmt`` file prints (SCST's self-documentation).

Their layout is what SCST tools parse: the ``Usage:`` lines, the "where parameters" line and
"The following parameters available: a, b, c" (scst_sysfs.md section 3.2).
"""

from __future__ import annotations

from ..handlers.declaration import INERT, HandlerDeclaration
from .names import ACCESS_LIMITS_LABEL, ACCESS_MODE, EXACT_NAMES

PARAMETERS_LINE = "where parameters are one or more param_name=value pairs separated by ';'"


def _usage(commands: list[str]) -> str:
    lines = [f'Usage: echo "{commands[0]}" >mgmt']
    lines += [f'       echo "{command}" >mgmt' for command in commands[1:]]
    return "\n".join(lines) + "\n"


def handler_usage(declaration: HandlerDeclaration) -> str:
    """SCST's usage text, then what each parameter means (from the declaration: its help
    and default), after a blank line so that tools reading SCST's lines see only those."""
    text = _usage(["add_device device_name [parameters]", "del_device device_name"])
    text += f"\n{PARAMETERS_LINE}\n\n"
    text += f"The following parameters available: {', '.join(declaration.advertised)}\n"
    explained = [line for line in map(lambda name: _parameter_line(declaration, name),
                                      declaration.advertised) if line]
    if explained:
        text += "\nParameters:\n" + "".join(explained)
    return text


def _parameter_line(declaration: HandlerDeclaration, name: str) -> str:
    param = declaration.param(name)
    if param is None:
        accepted = INERT.get(name)
        if accepted is None:
            return ""
        shown = " or ".join(repr(value) if value == "" else value for value in accepted)
        return f"  {name}: accepted for SCST configurations, only as {shown}\n"
    default = f" (default {param.default})" if param.default else ""
    return f"  {name}: {param.help or 'no description'}{default}\n"


ACCESS_LIMIT_HELP = {
    EXACT_NAMES: "initiator names are matched exactly; wildcard patterns (*, ?, !) are "
                 "refused",
    ACCESS_MODE: "initiators in no group are refused (a target's access_mode reads acl-only) "
                 "while a group exports a device that the target's own LUNs do not",
}


# A target driver's mgmt verbs and the usage line each one prints (SCST's wording)
TARGET_DRIVER_COMMANDS = {
    "add_target": "add_target target_name [parameters]",
    "del_target": "del_target target_name",
    "add_attribute": "add_attribute <attribute> <value>",
    "del_attribute": "del_attribute <attribute> <value>",
    "add_target_attribute": "add_target_attribute target_name <attribute> <value>",
    "del_target_attribute": "del_target_attribute target_name <attribute> <value>",
    "add_session": "add_session target_name session_name",
    "del_session": "del_session target_name session_name",
}


def target_driver_usage(verbs: tuple[str, ...], creation: tuple[str, ...] = (),
                        driver_attributes: tuple[str, ...] = (),
                        target_attributes: tuple[str, ...] = (),
                        access_limits: tuple[str, ...] = ()) -> str:
    """``targets/<driver>/mgmt``: one usage line per verb, in the order given, then the
    lists of what the verbs take."""
    commands = [TARGET_DRIVER_COMMANDS[verb] for verb in verbs]
    text = _usage(commands) + f"\n{PARAMETERS_LINE}\n\n"
    if creation:
        text += f"The following parameters available: {', '.join(creation)}\n"
    if driver_attributes:
        text += ("The following target driver attributes available: "
                 f"{', '.join(driver_attributes)}\n")
    if target_attributes:
        text += f"The following target attributes available: {', '.join(target_attributes)}\n"
    if access_limits:
        text += (f"The following {ACCESS_LIMITS_LABEL} available: "
                 f"{', '.join(access_limits)}\n")
        text += "".join(f"  {name}: {ACCESS_LIMIT_HELP[name]}\n" for name in access_limits)
    return text + "\n"


LUNS_USAGE = _usage([
    "add H:C:I:L lun [parameters]", "add VNAME lun [parameters]", "del lun",
    "replace H:C:I:L lun [parameters]", "replace VNAME lun [parameters]",
    "replace_no_ua H:C:I:L lun [parameters]", "replace_no_ua VNAME lun [parameters]", "clear",
]) + f"\n{PARAMETERS_LINE}\n\nThe following parameters available: read_only\n"

INI_GROUPS_USAGE = _usage(["create GROUP_NAME", "del GROUP_NAME"])

INITIATORS_USAGE = _usage(["add INITIATOR_NAME", "del INITIATOR_NAME",
                           "move INITIATOR_NAME DEST_GROUP_NAME", "clear"])

# ALUA (device_groups/): SCST's verbs and argument order; the explanations are ours
DEVICE_GROUPS_USAGE = _usage(["create DEVICE_GROUP_NAME", "del DEVICE_GROUP_NAME"]) + (
    "\nThe devices of a device group share its target groups (ALUA); deleting a group takes "
    "its devices out of ALUA.\n")
DEVICE_GROUP_DEVICES_USAGE = _usage(["add DEVICE_NAME", "del DEVICE_NAME"]) + (
    "\nA device is in at most one device group.\n")
TARGET_GROUPS_USAGE = _usage(["create TARGET_GROUP_NAME", "del TARGET_GROUP_NAME"]) + (
    "\nEach target group is one ALUA target port group: group_id, state and preferred "
    "are its files.\n")


def target_group_usage(states: tuple[str, ...]) -> str:
    return _usage(["add TARGET_NAME", "del TARGET_NAME"]) + (
        "\nA local target shows as a link to it; any other name is a port of another node, "
        "whose rel_tgt_id is set in its directory here.  A target is in at most one target "
        f"group of a device group.  state is one of: {', '.join(states)}.\n")
