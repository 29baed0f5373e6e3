"""``tcmu-scst-admin`` (also installed as ``scstadmin``): scstadmin's commands on any SCST tree.

Works through the file system only, on the tree given by ``--root`` or ``$SCST_SYSFS_ROOT``
(default: ours at /run/scst_tgt if mounted, else a real SCST kernel's /sys/kernel/scst_tgt).
Options keep scstadmin's single-dash spelling so scripts written for SCST keep working:

  -config FILE [-force]      apply the file, writing only what differs
  -check_config FILE         parse and validate against the tree; list what would change
  -write_config FILE [-nonkey]  save the running configuration (key attributes)
  -clear_config -force       remove every device, target, LUN, group, device group and
                             dynamic attribute
  -list_handler [h] -list_device [d] -list_driver [drv] -list_target [t] -list_group [g]
  -list_sessions -list_scst_attr -list_hnd_attr h -list_dev_attr d -list_drv_attr drv
  -list_tgt_attr t -list_grp_attr g -list_lun_attr n -list_init_attr i
  -open_dev d -handler h [-attributes k=v,...]   -close_dev d -handler h   -resync_dev d
  -set_scst_attr / -set_hnd_attr h / -set_dev_attr d / -set_drv_attr drv / -set_tgt_attr t /
  -set_grp_attr g / -set_lun_attr n / -set_init_attr i    (all with -attributes k=v,...)
  -add_drv_attr / -rem_drv_attr drv, -add_tgt_attr / -rem_tgt_attr t   (-attributes)
  -add_target / -rem_target t -driver d   -enable_target / -disable_target t -driver d
  -add_group / -rem_group g -driver d -target t
  -add_init / -rem_init i -driver d -target t -group g   -move_init i ... -to g2
  -clear_inits -driver d -target t -group g
  -add_lun / -replace_lun n -driver d -target t [-group g] -device dev [-attributes ...]
  -rem_lun n ...   -clear_luns -driver d -target t [-group g]
  ALUA: -list_dgrp [dg]  -list_tgrp [tg] -dev_group dg  -list_dgrp_attr dg
  -list_tgrp_attr tg -dev_group dg  -list_ttgt_attr t -dev_group dg -tgt_group tg
  -add_dgrp / -rem_dgrp dg   -add_dgrp_dev / -rem_dgrp_dev d -dev_group dg
  -add_tgrp / -rem_tgrp tg -dev_group dg   -add_tgrp_tgt / -rem_tgrp_tgt t -dev_group dg
  -tgt_group tg   -set_dgrp_attr dg / -set_tgrp_attr tg / -set_ttgt_attr t  (-attributes)

Modifiers: -force, -noprompt, -nonkey, -dry_run (or -debug: print the writes, make none),
-v (print each write made), -cont_on_err.  Errors are one line on stderr; exit status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from . import listing
from .apply import Applier, clear
from .files import has_secrets, save_atomically
from .model import ScstConfig
from .running import (
    DEVICE_GROUPS,
    DRIVER_DYNAMIC,
    TARGET_DYNAMIC,
    RunningTree,
    read_running,
)
from .scst_conf import ConfigError, format_config, parse_file
from .sysfs import ROOT_ENVIRONMENT, ScstSysfs, SysfsError

PROG = "tcmu-scst-admin"

# (option, metavar or None for a flag, nargs) of every command; exactly one is given
COMMANDS: list[tuple[str, str | None, str | None]] = [
    ("config", "FILE", None), ("check_config", "FILE", None), ("write_config", "FILE", None),
    ("clear_config", None, None),
    ("list_handler", "HANDLER", "?"), ("list_device", "DEVICE", "?"),
    ("list_driver", "DRIVER", "?"), ("list_target", "TARGET", "?"),
    ("list_group", "GROUP", "?"), ("list_sessions", None, None),
    ("list_scst_attr", None, None), ("list_hnd_attr", "HANDLER", None),
    ("list_dev_attr", "DEVICE", None), ("list_drv_attr", "DRIVER", None),
    ("list_tgt_attr", "TARGET", None), ("list_grp_attr", "GROUP", None),
    ("list_lun_attr", "LUN", None), ("list_init_attr", "INITIATOR", None),
    ("set_scst_attr", None, None), ("set_hnd_attr", "HANDLER", None),
    ("set_dev_attr", "DEVICE", None), ("set_drv_attr", "DRIVER", None),
    ("set_tgt_attr", "TARGET", None), ("set_grp_attr", "GROUP", None),
    ("set_lun_attr", "LUN", None), ("set_init_attr", "INITIATOR", None),
    ("add_drv_attr", "DRIVER", None), ("rem_drv_attr", "DRIVER", None),
    ("add_tgt_attr", "TARGET", None), ("rem_tgt_attr", "TARGET", None),
    ("open_dev", "DEVICE", None), ("close_dev", "DEVICE", None), ("resync_dev", "DEVICE", None),
    ("add_target", "TARGET", None), ("rem_target", "TARGET", None),
    ("enable_target", "TARGET", None), ("disable_target", "TARGET", None),
    ("add_group", "GROUP", None), ("rem_group", "GROUP", None),
    ("add_init", "INITIATOR", None), ("rem_init", "INITIATOR", None),
    ("move_init", "INITIATOR", None), ("clear_inits", None, None),
    ("add_lun", "LUN", None), ("rem_lun", "LUN", None), ("replace_lun", "LUN", None),
    ("clear_luns", None, None),
    ("list_dgrp", "DEVICE_GROUP", "?"), ("list_tgrp", "TARGET_GROUP", "?"),
    ("list_dgrp_attr", "DEVICE_GROUP", None), ("list_tgrp_attr", "TARGET_GROUP", None),
    ("list_ttgt_attr", "TARGET", None), ("set_dgrp_attr", "DEVICE_GROUP", None),
    ("set_tgrp_attr", "TARGET_GROUP", None), ("set_ttgt_attr", "TARGET", None),
    ("add_dgrp", "DEVICE_GROUP", None), ("rem_dgrp", "DEVICE_GROUP", None),
    ("add_dgrp_dev", "DEVICE", None), ("rem_dgrp_dev", "DEVICE", None),
    ("add_tgrp", "TARGET_GROUP", None), ("rem_tgrp", "TARGET_GROUP", None),
    ("add_tgrp_tgt", "TARGET", None), ("rem_tgrp_tgt", "TARGET", None),
]
MODIFIERS = ("handler", "driver", "target", "group", "device", "attributes", "to",
             "dev_group", "tgt_group")


class UsageError(Exception):
    """A command line that lacks what the command needs."""


def parser() -> argparse.ArgumentParser:
    result = argparse.ArgumentParser(prog=PROG, description=__doc__, allow_abbrev=False,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = result.add_mutually_exclusive_group(required=True)
    for name, metavar, nargs in COMMANDS:
        if metavar is None:
            commands.add_argument(f"-{name}", action="store_true")
        else:
            commands.add_argument(f"-{name}", metavar=metavar, nargs=nargs, const="",
                                  default=None) if nargs else commands.add_argument(
                f"-{name}", metavar=metavar)
    for name in MODIFIERS:
        result.add_argument(f"-{name}")
    for flag in ("force", "noprompt", "nonkey", "dry_run", "debug", "cont_on_err"):
        result.add_argument(f"-{flag}", action="store_true")
    result.add_argument("-v", "-verbose", dest="verbose", action="store_true",
                        help="print each write as it is made")
    result.add_argument("--root", "-root", dest="root",
                        help=f"the SCST tree (default ${ROOT_ENVIRONMENT}, /run/scst_tgt if "
                        "mounted, else /sys/kernel/scst_tgt)")
    return result


def split_attributes(text: str | None) -> list[tuple[str, str]]:
    """``k=v,k2="v 2"`` -> pairs; commas inside double quotes stay in the value."""
    if not text:
        return []
    parts, current, quoted = [], [], False
    for char in text:
        if char == '"':
            quoted = not quoted
            continue
        if char == "," and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    pairs = []
    for part in filter(None, (item.strip() for item in parts)):
        name, equals, value = part.partition("=")
        if not equals or not name.strip():
            raise UsageError(f"-attributes: {part!r} is not name=value")
        pairs.append((name.strip(), value.strip()))
    return pairs


def confirm(arguments: argparse.Namespace, what: str) -> None:
    """Ask on a terminal unless -noprompt; never ask when stdin is not a terminal."""
    if arguments.noprompt or not sys.stdin.isatty():
        return
    answer = input(f"{what} may disrupt initiators and lose data; continue? (y/[n]) ")
    if answer.strip().lower() not in ("y", "yes"):
        raise UsageError("aborted")


def need(arguments: argparse.Namespace, *names: str) -> list[str]:
    values = []
    for name in names:
        value = getattr(arguments, name)
        if not value:
            raise UsageError(f"this command needs -{name}")
        values.append(value)
    return values


def target_base(arguments: argparse.Namespace) -> str:
    driver, target = need(arguments, "driver", "target")
    return f"targets/{driver}/{target}"


def device_group_base(arguments: argparse.Namespace) -> str:
    (group,) = need(arguments, "dev_group")
    return f"{DEVICE_GROUPS}/{group}"


def target_group_base(arguments: argparse.Namespace) -> str:
    base = device_group_base(arguments)
    (group,) = need(arguments, "tgt_group")
    return f"{base}/target_groups/{group}"


def luns_directory(arguments: argparse.Namespace) -> str:
    base = target_base(arguments)
    return f"{base}/ini_groups/{arguments.group}/luns" if arguments.group else f"{base}/luns"


def run(arguments: argparse.Namespace, out: Callable[[str], None]) -> int:
    sysfs = ScstSysfs(arguments.root)
    with sysfs.cached():  # one command: each file of the tree read once (until a write)
        return _run(arguments, out, sysfs)


def _run(arguments: argparse.Namespace, out: Callable[[str], None], sysfs: ScstSysfs) -> int:
    sysfs.check()
    tree = RunningTree(sysfs)
    dry_run = arguments.dry_run or arguments.debug
    printer = (lambda line: out(f"-> {line}")) if (dry_run or arguments.verbose) else None
    applier = Applier(sysfs, force=arguments.force, dry_run=dry_run,
                      continue_on_error=arguments.cont_on_err, log=printer)
    command = next(name for name, _, _ in COMMANDS
                   if getattr(arguments, name) not in (None, False))
    value = getattr(arguments, command)

    if command in ("config", "check_config"):
        config = parse_file(value)
        if not config_has_sections(config, value):
            print(f"{PROG}: warning: {value}: the configuration is empty; nothing to do",
                  file=sys.stderr)
            out("Done, 0 change(s) made.")
            return 0
        if command == "config" and arguments.force:
            confirm(arguments, "-config -force")
        if command == "check_config":
            applier.dry_run, applier.log = True, printer or (lambda line: out(f"-> {line}"))
        changes = applier.apply(config, value)
        for warning in applier.warnings:
            print(f"{PROG}: warning: {warning}", file=sys.stderr)
        for error in applier.errors:
            print(f"{PROG}: error: {error}", file=sys.stderr)
        if command == "check_config":
            out(f"Configuration is valid; {changes} change(s) would be made.")
        else:
            out(f"Done, {changes} change(s) {'would be ' if dry_run else ''}made.")
        return 1 if applier.errors else 0
    if command == "write_config":
        config, extra = read_running(sysfs, nonkey=arguments.nonkey)
        save_atomically(value, format_config(config, extra), has_secrets(config))
        out(f"Configuration written to {value}.")
        return 0
    if command == "clear_config":
        if not arguments.force:
            raise UsageError("-clear_config removes everything; add -force to do it")
        confirm(arguments, "-clear_config")
        writes = clear(sysfs, log=printer) if not dry_run else []
        out(f"Done, {len(writes)} change(s) made.")
        return 0
    if command.startswith("list_"):
        out(list_command(command, value, arguments, tree).rstrip("\n"))
        return 0
    single_command(command, value, arguments, applier)
    if not dry_run:
        out(f"Done, {len(applier.writes)} change(s) made.")
    return 0


def config_has_sections(config: ScstConfig, source: str) -> bool:
    """Whether a file to apply configures anything (False: it is empty, do nothing).

    As SCST's scstadmin: an empty file (a truncated /etc/scst.conf) changes nothing, even
    with -force, which would otherwise remove everything; a file with no HANDLER and no
    TARGET_DRIVER section but something else is refused, since it cannot be what was meant.
    """
    if config.handlers or config.drivers:
        return True
    if config.attributes or config.alua or config.device_groups:
        raise ConfigError("no HANDLER and no TARGET_DRIVER section: nothing to configure "
                          "devices or targets with (SCST's scstadmin refuses such a file too)",
                          0, source)
    return False


def list_command(command: str, value: str, arguments: argparse.Namespace,
                 tree: RunningTree) -> str:
    driver, target, group = arguments.driver, arguments.target, arguments.group
    simple: dict[str, Callable[[], str]] = {
        "list_handler": lambda: listing.handlers(tree, value or None),
        "list_device": lambda: listing.devices(tree, value or None),
        "list_driver": lambda: listing.drivers(tree, value or None),
        "list_target": lambda: listing.targets(tree, value or None, driver),
        "list_group": lambda: listing.groups(tree, value or None, driver, target),
        "list_sessions": lambda: listing.sessions(tree, driver, target),
        "list_scst_attr": lambda: listing.attributes(tree, ""),
        "list_hnd_attr": lambda: listing.attributes(tree, f"handlers/{value}"),
        "list_dev_attr": lambda: listing.attributes(tree, f"devices/{value}"),
        "list_drv_attr": lambda: listing.attributes(tree, f"targets/{value}",
                                                    f"targets/{value}", DRIVER_DYNAMIC),
        "list_dgrp": lambda: listing.device_groups(tree, value or None),
        "list_dgrp_attr": lambda: listing.attributes(tree, f"{DEVICE_GROUPS}/{value}"),
    }
    if command in simple:
        return simple[command]()
    if command == "list_tgt_attr":
        (driver,) = need(arguments, "driver")
        return listing.attributes(tree, f"targets/{driver}/{value}", f"targets/{driver}",
                                  TARGET_DYNAMIC)
    if command == "list_grp_attr":
        return listing.attributes(tree, f"{target_base(arguments)}/ini_groups/{value}")
    if command == "list_lun_attr":
        return listing.attributes(tree, f"{luns_directory(arguments)}/{value}")
    if command == "list_tgrp":
        (group,) = need(arguments, "dev_group")
        return listing.target_groups(tree, group, value or None)
    if command == "list_tgrp_attr":
        return listing.attributes(tree, f"{device_group_base(arguments)}/target_groups/{value}")
    if command == "list_ttgt_attr":
        return listing.attributes(tree, f"{target_group_base(arguments)}/{value}")
    if command == "list_init_attr":
        need(arguments, "group")
        return listing.attributes(tree, f"{target_base(arguments)}/ini_groups/{group}/"
                                  f"initiators/{value}")
    raise UsageError(f"-{command} is not offered")


def single_command(command: str, value: str, arguments: argparse.Namespace,
                   applier: Applier) -> None:
    """One object at a time, each as the sysfs write scstadmin makes for it."""
    attributes = split_attributes(arguments.attributes)
    for family in (_device_command, _attribute_command, _target_command, _group_command,
                   _lun_command, _alua_command):
        if family(command, value, arguments, applier, attributes):
            return
    raise UsageError(f"-{command} is not offered")


def _parameters(attributes: list[tuple[str, str]]) -> str:
    text = "".join(f"{name}={item};" for name, item in attributes)
    return f" {text}" if text else ""


def _device_command(command: str, value: str, arguments: argparse.Namespace,
                    applier: Applier, attributes: list[tuple[str, str]]) -> bool:
    if command == "open_dev":
        (handler,) = need(arguments, "handler")
        applier.write(f"handlers/{handler}/mgmt", f"add_device {value}{_parameters(attributes)}")
    elif command == "close_dev":
        (handler,) = need(arguments, "handler")
        exports = [applier.sysfs.access.readlink(f"devices/{value}/exported/{name}")
                   for name in applier.sysfs.links(f"devices/{value}/exported")]
        exports = [link for link in exports if "/copy_manager/" not in link]
        if exports and not arguments.force:  # as scstadmin: a removal waits for -force
            raise UsageError(f"device {value} is still in use ({len(exports)} LUN(s)); "
                             "use -force to close it")
        applier.write(f"handlers/{handler}/mgmt", f"del_device {value}")
    elif command == "resync_dev":
        applier.write(f"devices/{value}/resync_size", "1")
    else:
        return False
    return True


def _attribute_directory(command: str, value: str, arguments: argparse.Namespace) -> str | None:
    if command == "set_scst_attr":
        return ""
    if command == "set_tgt_attr":
        (driver,) = need(arguments, "driver")
        return f"targets/{driver}/{value}"
    if command == "set_grp_attr":
        return f"{target_base(arguments)}/ini_groups/{value}"
    if command == "set_lun_attr":
        return f"{luns_directory(arguments)}/{value}"
    if command == "set_init_attr":
        (group,) = need(arguments, "group")
        return f"{target_base(arguments)}/ini_groups/{group}/initiators/{value}"
    if command == "set_dgrp_attr":
        return f"{DEVICE_GROUPS}/{value}"
    if command == "set_tgrp_attr":
        return f"{device_group_base(arguments)}/target_groups/{value}"
    if command == "set_ttgt_attr":
        return f"{target_group_base(arguments)}/{value}"
    prefix = {"set_hnd_attr": "handlers", "set_dev_attr": "devices", "set_drv_attr": "targets"}
    return f"{prefix[command]}/{value}" if command in prefix else None


def _attribute_command(command: str, value: str, arguments: argparse.Namespace,
                       applier: Applier, attributes: list[tuple[str, str]]) -> bool:
    if command in ("add_drv_attr", "rem_drv_attr", "add_tgt_attr", "rem_tgt_attr"):
        if not attributes:
            raise UsageError("this command needs -attributes name=value,...")
        verb = "add" if command.startswith("add") else "del"
        for name, item in attributes:
            if command.endswith("drv_attr"):
                applier.write(f"targets/{value}/mgmt", f"{verb}_attribute {name} {item}")
            else:
                (driver,) = need(arguments, "driver")
                applier.write(f"targets/{driver}/mgmt",
                              f"{verb}_target_attribute {value} {name} {item}")
        return True
    directory = _attribute_directory(command, value, arguments)
    if directory is None:
        return False
    if not attributes:
        raise UsageError("this command needs -attributes name=value,...")
    for name, _ in attributes:  # all known before the first write
        path = f"{directory}/{name}".lstrip("/")
        if not applier.sysfs.is_file(path):
            raise UsageError(f"{directory or 'the root'} has no attribute {name!r}")
        if not applier.sysfs.writable(path):
            raise UsageError(f"{directory or 'the root'}: {name} is read-only")
    for name, item in attributes:  # a value the file already shows is not written again
        applier.set_attribute(f"{directory}/{name}".lstrip("/"), item)
    return True


def _target_command(command: str, value: str, arguments: argparse.Namespace,
                    applier: Applier, attributes: list[tuple[str, str]]) -> bool:
    if command not in ("add_target", "rem_target", "enable_target", "disable_target"):
        return False
    (driver,) = need(arguments, "driver")
    if command == "add_target":
        applier.write(f"targets/{driver}/mgmt", f"add_target {value}{_parameters(attributes)}")
    elif command == "rem_target":
        confirm(arguments, f"removing target {value}")
        applier.write(f"targets/{driver}/mgmt", f"del_target {value}")
    else:
        applier.write(f"targets/{driver}/{value}/enabled",
                      "1" if command == "enable_target" else "0")
    return True


def _group_command(command: str, value: str, arguments: argparse.Namespace,
                   applier: Applier, attributes: list[tuple[str, str]]) -> bool:
    if command in ("add_group", "rem_group"):
        base = f"{target_base(arguments)}/ini_groups"
        if command == "rem_group" and not arguments.force and (
                applier.sysfs.subdirectories(f"{base}/{value}/luns")
                or [name for name in applier.sysfs.files(f"{base}/{value}/initiators")
                    if name != "mgmt"]):
            raise UsageError(f"group {value} still has LUNs or initiators; use -force to "
                             "remove it")  # as scstadmin: a removal waits for -force
        applier.write(f"{base}/mgmt", f"{'create' if command == 'add_group' else 'del'} {value}")
        return True
    if command not in ("add_init", "rem_init", "move_init", "clear_inits"):
        return False
    (group,) = need(arguments, "group")
    directory = f"{target_base(arguments)}/ini_groups/{group}/initiators/mgmt"
    if command == "move_init":
        (to,) = need(arguments, "to")
        applier.write(directory, f"move {value} {to}")
    elif command == "clear_inits":
        applier.write(directory, "clear")
    else:
        applier.write(directory, f"{'add' if command == 'add_init' else 'del'} {value}")
    return True


def _lun_command(command: str, value: str, arguments: argparse.Namespace,
                 applier: Applier, attributes: list[tuple[str, str]]) -> bool:
    if command in ("add_lun", "replace_lun"):
        (device,) = need(arguments, "device")
        verb = "add" if command == "add_lun" else "replace"
        applier.write(f"{luns_directory(arguments)}/mgmt",
                      f"{verb} {device} {value}{_parameters(attributes)}")
    elif command == "rem_lun":
        applier.write(f"{luns_directory(arguments)}/mgmt", f"del {value}")
    elif command == "clear_luns":
        applier.write(f"{luns_directory(arguments)}/mgmt", "clear")
    else:
        return False
    return True


def _alua_command(command: str, value: str, arguments: argparse.Namespace,
                  applier: Applier, attributes: list[tuple[str, str]]) -> bool:
    """scstadmin's ALUA verbs; like it, a removal that takes members with it (a device
    group with devices or target groups, a target group with targets, a device of a group
    whose target groups have targets) needs -force."""
    tree = RunningTree(applier.sysfs)
    if command in ("add_dgrp", "rem_dgrp"):
        if command == "rem_dgrp" and not arguments.force and (
                tree.group_devices(value) or tree.target_groups(value)):
            raise UsageError(f"device group {value} is still in use; use -force to remove it")
        applier.write(f"{DEVICE_GROUPS}/mgmt",
                      f"{'create' if command == 'add_dgrp' else 'del'} {value}")
    elif command in ("add_dgrp_dev", "rem_dgrp_dev"):
        base = device_group_base(arguments)
        group = base.rpartition("/")[2]
        if command == "rem_dgrp_dev" and not arguments.force and any(
                tree.group_targets(group, target_group)
                for target_group in tree.target_groups(group)):
            raise UsageError(f"device {value} may still be in use through the target groups of "
                             f"{group}; use -force to remove it")
        applier.write(f"{base}/devices/mgmt",
                      f"{'add' if command == 'add_dgrp_dev' else 'del'} {value}")
    elif command in ("add_tgrp", "rem_tgrp"):
        base = device_group_base(arguments)
        if command == "rem_tgrp" and not arguments.force and tree.group_targets(
                base.rpartition("/")[2], value):
            raise UsageError(f"target group {value} is still in use; use -force to remove it")
        applier.write(f"{base}/target_groups/mgmt",
                      f"{'create' if command == 'add_tgrp' else 'del'} {value}")
    elif command in ("add_tgrp_tgt", "rem_tgrp_tgt"):
        applier.write(f"{target_group_base(arguments)}/mgmt",
                      f"{'add' if command == 'add_tgrp_tgt' else 'del'} {value}")
    else:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    try:
        return run(arguments, print)
    except (ConfigError, SysfsError, UsageError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        print(f"{PROG}: error: {where}{error.strerror or error}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
