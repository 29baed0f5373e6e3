"""Target drivers and their targets: ``targets/<driver>/...`` with enabled, LUN sets,
initiator groups and sessions.

The drivers realised in LIO, as on an SCST host with these modules: ``iscsi`` (virtual
targets created with ``add_target``), ``scst_local`` (local SCSI hosts, each session a
``/dev/sdX``) and ``fcst`` (one target per FCoE local port, which appear and disappear with
the ports: no ``mgmt``); SCST's own ``copy_manager`` is added by
:mod:`.copy_manager`.  What differs between them (verbs, files, defaults, where targets and
sessions come from) is read from their :class:`~tcmu_scst.drivers.TargetDriver` objects.
"""

from __future__ import annotations

import errno
import fnmatch
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from ..drivers import TargetDriver, driver_of, lio_drivers
from ..drivers.accounts import instance_name, secret_parts
from ..lio.access_plan import DEMO, GroupSpec, LunExport
from .devices import DeviceRegistry
from .entry_names import check_entry_name, check_target_name, subdirectory
from .grammar import c_integer, invalid, next_word, split_command, words
from .help_text import INI_GROUPS_USAGE, INITIATORS_USAGE
from .luns import LunManager, LunSet
from .names import WILDCARDS
from .nodes import Attribute, Directory, Node, NodeCache, ObjectDirectory, fixed
from .realizer import Realizer, SessionInfo
from .sessions import sessions_directory

log = logging.getLogger(__name__)


@dataclass
class Group:
    name: str
    luns: LunSet
    initiators: list[str] = field(default_factory=list)

    def matches(self, initiator: str) -> bool:
        return any(_matches(pattern, initiator) for pattern in self.initiators)


def _matches(pattern: str, name: str) -> bool:
    """SCST's initiator patterns: * and ?, a leading ! inverts; case-insensitive."""
    inverted = pattern.startswith("!")
    result = fnmatch.fnmatchcase(name.lower(), pattern.lstrip("!").lower())
    return result != inverted


@dataclass
class Target:
    driver: str
    name: str
    luns: LunSet
    enabled: bool = False
    rel_tgt_id: int = 0
    groups: dict[str, Group] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # iSCSI keys set explicitly
    users: dict[str, str] = field(default_factory=dict)  # file name -> "user secret"
    local_sessions: list[str] = field(default_factory=list)
    realized: bool = True  # False for an fcst port nothing was configured on yet

    @property
    def path(self) -> str:
        return f"targets/{self.driver}/{self.name}"

    def group_of(self, initiator: str) -> Group | None:
        return next((group for group in self.groups.values()
                     if initiator in group.initiators), None)

    @property
    def access_mode(self) -> str:
        """``demo`` or ``acl-only``: the mode of the access plan the driver's LIO layout
        makes of the target's LUN sets (see :mod:`tcmu_scst.lio.access_plan`)."""
        layout = driver_of(self.driver).lio
        if layout is None:
            return DEMO
        default = {number: LunExport(entry.device, entry.read_only)
                   for number, entry in self.luns.entries.items()}
        groups = {name: GroupSpec(tuple(group.initiators),
                                  {number: LunExport(entry.device, entry.read_only)
                                   for number, entry in group.luns.entries.items()})
                  for name, group in self.groups.items()}
        return layout.plan(default, groups).mode


def access_mode_text(target: Target) -> str:
    """The read-only ``access_mode`` file: ``demo`` (initiators in no group see the target's
    LUNs) or ``acl-only`` (only initiators in a group may log in or discover the target)."""
    return f"{target.access_mode}\n"


class Targets:
    def __init__(self, devices: DeviceRegistry, luns: LunManager, realizer: Realizer):
        self.devices = devices
        self.luns = luns
        self.realizer = realizer
        self.targets: dict[str, dict[str, Target]] = {driver.name: {}
                                                      for driver in lio_drivers()}
        # the drivers with an enabled switch of their own (iSCSI's), and its state
        self.driver_enabled = {driver.name: False for driver in lio_drivers()
                               if driver.driver_switch}
        # per driver with account attributes: account file -> "USER SECRET" (iSCSI discovery)
        self.driver_accounts: dict[str, dict[str, str]] = {
            driver.name: {} for driver in lio_drivers() if driver.driver_attributes}
        # told before a target's rel_tgt_id changes (given the new one) and before a target
        # goes: its ALUA target groups re-send their layouts; one that raises refuses the
        # change, which then changes nothing
        self.before_relative_id: list[Callable[[Target, int], None]] = []
        self.before_delete: list[Callable[[Target], None]] = []
        # told a group whose initiators changed (who reaches its devices changed)
        self.members_changed: list[Callable[[Group], None]] = []
        self._directories = NodeCache()
        # what each verb a driver may offer does (TargetDriver.verbs says which it offers)
        self._driver_commands: dict[str, Callable[[TargetDriver, str, str | None, str],
                                                  None]] = {
            "add_target": self._add_target_command, "del_target": self._del_target_command,
            "add_attribute": self._driver_account_command,
            "del_attribute": self._driver_account_command,
            "add_target_attribute": self._target_account_command,
            "del_target_attribute": self._target_account_command,
            "add_session": self._session_command, "del_session": self._session_command}
        # the driver directories; SCST's own copy_manager is added by its owner
        self.drivers: dict[str, Node] = {driver.name: self._driver_directory(driver)
                                         for driver in lio_drivers()}
        self._directory = Directory(fixed(self.drivers))

    # --- targets --------------------------------------------------------------------------

    def find(self, name: str) -> Target | None:
        """The local target of that name in any driver (SCST looks a name up across its
        drivers when it is added to an ALUA target group); an FCoE port counts while it is
        there.  The copy manager's target is no port of any initiator's: never found."""
        for driver in lio_drivers():
            targets = self.targets[driver.name]
            if driver.port_targets:
                if name in targets or name in self.realizer.fc_ports():
                    return self.port_target(driver, name)
            elif name in targets:
                return targets[name]
        return None

    def _new_target(self, driver: str, name: str) -> Target:
        path = f"targets/{driver}/{name}/luns"
        lun_set = LunSet(driver, name, None, path, len(path.split("/")))
        return Target(driver, name, lun_set)

    def add_target(self, driver: str, name: str, parameter_text: str) -> Target:
        check_target_name(name, self.directory().entries()[driver], self.targets[driver])
        if name in self.targets[driver]:
            raise OSError(errno.EEXIST, f"target {name!r} already exists")
        kind = driver_of(driver)
        creation = kind.parse_creation(parameter_text)
        params = creation.params
        target = self._new_target(driver, name)
        self.realizer.create_target(driver, name, dict(params))
        target.keys = {key: value for key, value in params.items() if key in kind.target_keys}
        self.targets[driver][name] = target
        self.luns.sets.append(target.luns)
        try:
            for file, value in creation.accounts.items():
                self.realizer.set_target_attribute(driver, name, file, value)
                target.users[file] = value
            if kind.session_parameter is not None and kind.session_parameter in params:
                self.add_local_session(target, params[kind.session_parameter])
        except OSError:
            self.del_target(driver, name)
            raise
        log.info("Target %s added to %s", name, driver)
        return target

    def del_target(self, driver: str, name: str) -> None:
        target = self.targets[driver].get(name)
        if target is None:
            raise OSError(errno.ENOENT, f"target {name!r} does not exist")
        for listener in self.before_delete:
            listener(target)
        # LIO removes the target with all it holds in one teardown; asked group by group
        # and LUN by LUN, it would plan and apply the target's access after each (a
        # quarter of a second per target under TCG, most of a -clear_config)
        self.realizer.delete_target(driver, name)
        for group in list(target.groups.values()):
            self._drop_group(target, group, realize=False)
        for lun in sorted(target.luns.entries):
            self.luns.remove(target.luns, lun, realize=False)
        self.luns.sets.remove(target.luns)
        del self.targets[driver][name]
        self._directories.forget(target)
        log.info("Target %s removed from %s", name, driver)

    def set_enabled(self, target: Target, text: str) -> None:
        first = text.strip()[:1]
        if first not in ("0", "1"):
            raise invalid("enabled: write 1 or 0")
        wanted = first == "1"
        self._realize(target)
        if wanted and target.rel_tgt_id == 0:
            self._change_relative_id(target, self._free_relative_id())
        self._apply_enabled(target, wanted)

    def _effective(self, target: Target, wanted: bool) -> bool:
        """A target is enabled in LIO while it and its driver (where that has a switch)
        are."""
        return wanted and self.driver_enabled.get(target.driver, True)

    def _apply_enabled(self, target: Target, wanted: bool) -> None:
        before = self._effective(target, target.enabled)
        after = self._effective(target, wanted)
        if before != after:
            self.realizer.enable_target(target.driver, target.name, after)
        target.enabled = wanted

    def set_driver_enabled(self, driver: str, text: str) -> None:
        value = text.strip()
        if value not in ("0", "1"):
            raise invalid("enabled: write 1 or 0")
        old = self.driver_enabled[driver]
        changed = []
        try:
            for target in self.targets[driver].values():
                if target.enabled and old != (value == "1"):
                    self.realizer.enable_target(driver, target.name, value == "1")
                    changed.append(target)
        except OSError:
            for target in changed:
                self.realizer.enable_target(driver, target.name, old)
            raise
        self.driver_enabled[driver] = value == "1"

    def _free_relative_id(self) -> int:
        used = {target.rel_tgt_id for targets in self.targets.values()
                for target in targets.values()}
        number = 1
        while number in used:
            number += 1
        return number

    def set_relative_id(self, target: Target, text: str) -> None:
        number = c_integer(text, "rel_tgt_id")
        if not 0 <= number <= 65535 or (number == 0 and target.enabled):
            raise invalid(f"rel_tgt_id {number}: use 1..65535 (0 only while disabled)")
        if number and any(other.rel_tgt_id == number and other is not target
                          for targets in self.targets.values() for other in targets.values()):
            raise OSError(errno.EBADSLT, f"rel_tgt_id {number} is used by another target")
        self._change_relative_id(target, number)

    def _change_relative_id(self, target: Target, number: int) -> None:
        if number != target.rel_tgt_id:
            for listener in self.before_relative_id:
                listener(target, number)
        target.rel_tgt_id = number

    def set_key(self, target: Target, key: str, text: str) -> None:
        declaration = driver_of(target.driver).target_keys[key]
        value = declaration.normalise(text.split("\n", maxsplit=1)[0])
        self.realizer.set_target_attribute(target.driver, target.name, key, value)
        if value == declaration.default:
            target.keys.pop(key, None)
        else:
            target.keys[key] = value

    # --- scst_local sessions --------------------------------------------------------------

    def add_local_session(self, target: Target, session: str) -> None:
        check_entry_name("session", session, self._sessions_directory(target),
                         target.local_sessions)
        if session in target.local_sessions:
            raise OSError(errno.EEXIST, f"session {session!r} already exists")
        self.realizer.add_local_session(target.name, session)
        target.local_sessions.append(session)

    def del_local_session(self, target: Target, session: str) -> None:
        if session not in target.local_sessions:
            raise invalid(f"session {session!r} not found")
        self.realizer.remove_local_session(target.name, session)
        target.local_sessions.remove(session)

    # --- driver mgmt ----------------------------------------------------------------------

    def driver_mgmt(self, driver: str, text: str) -> None:
        """A command written to ``targets/<driver>/mgmt``: one of the driver's verbs."""
        kind = driver_of(driver)
        verb, rest = split_command(text)
        name, tail = next_word(rest)
        command = self._driver_commands.get(verb)
        if verb not in kind.verbs or command is None:
            raise invalid(f"Unknown action {verb!r}: read targets/{driver}/mgmt for the usage")
        command(kind, verb, name, tail)

    def _add_target_command(self, kind: TargetDriver, verb: str, name: str | None,
                            tail: str) -> None:
        if name is None:
            raise invalid("Target name required: add_target NAME [parameters]")
        self.add_target(kind.name, name, tail)

    def _del_target_command(self, kind: TargetDriver, verb: str, name: str | None,
                            tail: str) -> None:
        if name is None:
            raise invalid("Target name required: del_target NAME")
        if words(tail):
            raise invalid("Syntax error: del_target takes only a name")
        self.del_target(kind.name, name)

    def _driver_account_command(self, kind: TargetDriver, verb: str, name: str | None,
                                tail: str) -> None:
        """``add_attribute``/``del_attribute``: the driver's own accounts (iSCSI
        discovery)."""
        attribute = name or ""
        base = attribute.rstrip("0123456789")
        if base not in kind.driver_attributes:
            raise invalid(f"Syntax error: unknown attribute {attribute!r}; use "
                          f"{' or '.join(kind.driver_attributes)}")
        self._change_users(self.driver_accounts[kind.name], base, verb.startswith("add"),
                           words(tail), lambda file, value: self.realizer.set_driver_attribute(
                               kind.name, file, value))

    def _target_account_command(self, kind: TargetDriver, verb: str, name: str | None,
                                tail: str) -> None:
        """``add_target_attribute``/``del_target_attribute``: a target's accounts."""
        target = self.targets[kind.name].get(name or "")
        if target is None:
            raise OSError(errno.ENOENT, f"target {name!r} does not exist")
        values = words(tail)
        if not values:
            raise invalid("Syntax error: give an attribute and its value")
        base = values[0].rstrip("0123456789")
        if base not in kind.accounts:
            raise invalid(f"Syntax error: unknown target attribute {values[0]!r}")
        self._change_users(target.users, base, verb.startswith("add"), values[1:],
                           lambda file, value: self.realizer.set_target_attribute(
                               kind.name, target.name, file, value))

    def _session_command(self, kind: TargetDriver, verb: str, name: str | None,
                         tail: str) -> None:
        """``add_session``/``del_session``: sessions that mgmt makes (scst_local)."""
        session, _ = next_word(tail)
        target = self.targets[kind.name].get(name or "")
        if target is None or session is None:
            raise invalid(f"{verb} TARGET SESSION: unknown target or no session name")
        if verb == "add_session":
            self.add_local_session(target, session)
        else:
            self.del_local_session(target, session)

    @staticmethod
    def _change_users(users: dict[str, str], base: str, adding: bool, values: list[str],
                      apply: Callable[[str, str], None]) -> None:
        if adding:
            user, secret = secret_parts(values, base)
            if any(value.split()[0] == user for file, value in users.items()
                   if file.rstrip("0123456789") == base):
                raise invalid(f"{base} {user} already exists")
            file = base if base == "OutgoingUser" else instance_name(users, base)
            apply(file, f"{user} {secret}")
            users[file] = f"{user} {secret}"
        else:
            if not values:
                raise invalid(f"del {base} needs the user name")
            for file, value in list(users.items()):
                if file.rstrip("0123456789") == base and value.split()[0] == values[0]:
                    apply(file, "")
                    del users[file]
                    return
            raise invalid(f"{base} {values[0]} not found")

    # --- groups ---------------------------------------------------------------------------

    def groups_mgmt(self, target: Target, text: str) -> None:
        verb, rest = split_command(text)
        name, tail = next_word(rest)
        if name is None:
            raise invalid(f"{verb}: a group name is required")
        if words(tail):
            raise invalid(f"Syntax error: {verb} takes only a group name")
        if verb == "create":
            check_entry_name("group", name, self._groups_directory(target), target.groups)
            if name in target.groups:
                raise OSError(errno.EEXIST, f"group {name!r} already exists")
            self._realize(target)
            self.realizer.create_group(target.driver, target.name, name)
            path = f"{target.path}/ini_groups/{name}/luns"
            lun_set = LunSet(target.driver, target.name, name, path, len(path.split("/")),
                             prepare=lambda: self._realize(target))
            target.groups[name] = Group(name, lun_set)
            self.luns.sets.append(lun_set)
        elif verb == "del":
            group = target.groups.get(name)
            if group is None:
                raise invalid(f"group {name!r} not found")
            busy = [session.initiator for session in self.sessions(target)
                    if session.group == name]
            if busy:
                raise OSError(errno.EBUSY, f"group {name!r} has live sessions: "
                              f"{', '.join(busy)}; log them out first (or write 1 into "
                              "their sessions/*/force_close)")
            self._drop_group(target, group)
        else:
            raise invalid(f"Unknown action {verb!r}: use create or del")

    def _drop_group(self, target: Target, group: Group, realize: bool = True) -> None:
        """Remove ``group`` with its LUNs and initiators (from the model only when not
        ``realize``: its target is gone from LIO already)."""
        for lun in sorted(group.luns.entries):
            self.luns.remove(group.luns, lun, realize)
        for initiator in list(group.initiators):
            if realize:
                self.realizer.remove_initiator(target.driver, target.name, group.name,
                                               initiator)
            group.initiators.remove(initiator)
        if realize:
            self.realizer.delete_group(target.driver, target.name, group.name)
        self.luns.sets.remove(group.luns)
        del target.groups[group.name]

    def initiators_mgmt(self, target: Target, group: Group, text: str) -> None:
        verb, rest = split_command(text)
        name, tail = next_word(rest)
        if verb == "clear":
            for initiator in list(group.initiators):
                self.realizer.remove_initiator(target.driver, target.name, group.name,
                                               initiator)
                group.initiators.remove(initiator)
            self._members_changed(group)
            return
        if name is None:
            raise invalid(f"{verb}: an initiator name is required")
        if verb == "add":
            check_entry_name("initiator", name, subdirectory(
                self._groups_directory(target), group.name, "initiators"), group.initiators)
            if name in group.initiators:
                raise OSError(errno.EEXIST, f"initiator {name!r} is already in {group.name}")
            if any(character in name for character in WILDCARDS):
                raise invalid(f"{name!r}: LIO grants access by exact initiator names; "
                              "wildcard patterns cannot be expressed")
            other = target.group_of(name)
            if other is not None:
                raise OSError(errno.EEXIST, f"initiator {name!r} is already in group "
                              f"{other.name!r} of this target (LIO keeps one ACL per "
                              f"initiator): use move {name} {group.name}")
            self.realizer.add_initiator(target.driver, target.name, group.name, name)
            group.initiators.append(name)
            self._members_changed(group)
        elif verb == "del":
            if name not in group.initiators:
                raise invalid(f"initiator {name!r} not found in {group.name}")
            self.realizer.remove_initiator(target.driver, target.name, group.name, name)
            group.initiators.remove(name)
            self._members_changed(group)
        elif verb == "move":
            destination_name, _ = next_word(tail)
            destination = target.groups.get(destination_name or "")
            if name not in group.initiators or destination is None:
                raise invalid(f"move {name} {destination_name}: unknown initiator or group")
            if name in destination.initiators:
                raise OSError(errno.EEXIST, f"{name!r} is already in {destination.name}")
            self.realizer.move_initiator(target.driver, target.name, name, group.name,
                                         destination.name)
            group.initiators.remove(name)
            destination.initiators.append(name)
            self._members_changed(group)
            self._members_changed(destination)
        else:
            raise invalid(f"Unknown action {verb!r}: use add, del, move or clear")

    def _members_changed(self, group: Group) -> None:
        for listener in self.members_changed:
            listener(group)

    # --- sessions -------------------------------------------------------------------------

    def sessions(self, target: Target) -> list[SessionInfo]:
        """The target's live sessions, each with the group whose LUNs it sees (SCST binds a
        session to the first group that names its initiator)."""
        if driver_of(target.driver).managed_sessions:
            live = [SessionInfo(name) for name in target.local_sessions]
        else:
            live = self.realizer.sessions(target.driver, target.name)
        found = []
        for session in live:
            group = next((group.name for group in target.groups.values()
                          if group.matches(session.initiator)), None)
            found.append(replace(session, group=group))
        return found

    def force_close(self, target: Target, session: SessionInfo) -> None:
        """SCST's ``force_close``.  An ``scst_local`` session is removed for good, as SCST's
        scst_local removes its SCSI host; an iSCSI initiator is disconnected and may log in
        again (the realizer refuses where LIO would close more than this session)."""
        if driver_of(target.driver).managed_sessions:
            self.del_local_session(target, session.initiator)
        else:
            self.realizer.close_session(target.driver, target.name, session.initiator)
        log.info("Session %s of target %s closed", session.initiator, target.name)

    # --- tree -----------------------------------------------------------------------------

    def directory(self) -> Directory:
        """``targets/``: its driver directories are always the same nodes."""
        return self._directory

    def _driver_directory(self, driver: TargetDriver) -> Directory:
        """``targets/<driver>/``: its own files (those its driver object declares) and its
        targets, or, for a driver whose targets are the host's ports, one per port."""
        if driver.port_targets:
            return Directory(lambda: {
                wwpn: self._target_directory(self.port_target(driver, wwpn))
                for wwpn in self.realizer.fc_ports()})

        def own() -> dict[str, Node]:
            children: dict[str, Node] = {}
            if driver.has_mgmt:
                children["mgmt"] = Attribute(
                    read=driver.usage, write=lambda text: self.driver_mgmt(driver.name, text))
            if driver.driver_switch:
                children["enabled"] = Attribute(
                    read=lambda: f"{int(self.driver_enabled[driver.name])}\n",
                    write=lambda text: self.set_driver_enabled(driver.name, text))
            for file, text in driver.status_files.items():
                children[file] = Attribute(read=lambda t=text: f"{t}\n")
            for knob in driver.driver_knobs:
                children[knob.name] = knob.node()
            for file, value in self.driver_accounts.get(driver.name, {}).items():
                children[file] = Attribute(read=lambda v=value: f"{v}\n[key]\n", secret=True)
            return children

        return ObjectDirectory(own, lambda: self.targets[driver.name],
                               lambda name, target: self._target_directory(target))

    def port_target(self, driver: TargetDriver, wwpn: str) -> Target:
        """The target of a local port (FCoE).  It is registered with LIO only when something
        is configured on it (a port that only initiates must not become a target port)."""
        targets = self.targets[driver.name]
        target = targets.get(wwpn)
        if target is None:
            target = self._new_target(driver.name, wwpn)
            target.realized = False
            target.luns.prepare = lambda: self._realize(target)
            targets[wwpn] = target
            self.luns.sets.append(target.luns)
        return target

    def _realize(self, target: Target) -> None:
        if not target.realized:
            self.realizer.create_target(target.driver, target.name, {})
            target.realized = True

    def _target_directory(self, target: Target) -> Directory:
        return self._directories.get(target, lambda: self._new_target_directory(target))

    def _new_target_directory(self, target: Target) -> Directory:
        """Built once per target (NodeCache); only the CHAP account files come and go."""
        always: dict[str, Node] = {
            "rel_tgt_id": Attribute(
                read=lambda: f"{target.rel_tgt_id}\n" + ("[key]\n" if target.rel_tgt_id
                                                         else ""),
                write=lambda text: self.set_relative_id(target, text)),
            "luns": self.luns.directory(target.luns),
            "access_mode": Attribute(read=lambda: access_mode_text(target)),
            "ini_groups": self._groups_directory(target),
            "sessions": self._sessions_directory(target),
        }
        kind = driver_of(target.driver)
        if kind.target_switch:
            always["enabled"] = Attribute(read=lambda: f"{int(target.enabled)}\n",
                                          write=lambda text: self.set_enabled(target, text))
        for key, declaration in kind.target_keys.items():
            always[key] = Attribute(
                read=lambda k=key, d=declaration: target.keys.get(k, d.default) + (
                    "\n[key]\n" if k in target.keys else "\n"),
                write=lambda text, k=key: self.set_key(target, k, text))
        if kind.target_id_file:
            always["tid"] = Attribute(read=lambda: f"{target.rel_tgt_id}\n")

        def entries() -> Mapping[str, Node]:
            if not target.users:
                return always
            return {**always, **{file: Attribute(read=lambda v=value: f"{v}\n[key]\n",
                                                 secret=True)
                                 for file, value in target.users.items()}}

        return Directory(entries)

    def _groups_directory(self, target: Target) -> Directory:
        def group_directory(group: Group) -> Directory:
            def initiator_entries() -> dict[str, Node]:
                children: dict[str, Node] = {
                    "mgmt": Attribute(read=lambda: INITIATORS_USAGE,
                                      write=lambda text: self.initiators_mgmt(target, group,
                                                                              text))}
                for initiator in group.initiators:
                    children[initiator] = Attribute(read=lambda i=initiator: f"{i}\n")
                return children

            def group_entries() -> dict[str, Node]:
                children: dict[str, Node] = {"initiators": Directory(initiator_entries),
                                             "luns": self.luns.directory(group.luns)}
                for knob in driver_of(target.driver).group_knobs:
                    children[knob.name] = knob.node()
                return children

            return Directory(group_entries)

        def own() -> dict[str, Node]:
            return {"mgmt": Attribute(read=lambda: INI_GROUPS_USAGE,
                                      write=lambda text: self.groups_mgmt(target, text))}

        return ObjectDirectory(own, lambda: target.groups,
                               lambda name, group: group_directory(group))

    def _sessions_directory(self, target: Target) -> Directory:
        return sessions_directory(lambda: self.sessions(target),
                                  lambda session: self.force_close(target, session))
