"""The state of one ALUA device group, as values: a change makes a new value.

A command computes the group it would leave behind, asks the realizer to apply the layouts
that follow from it and only then stores it; so a refused command has nothing to undo in
the model.  The order of target groups and of their members is the order they were added
in, which is the order SCST reports them (REPORT TARGET PORT GROUPS) and lists them.

A member of a target group is a local target (bound by driver and name when it was added;
its ``rel_tgt_id`` is the target's own) or any other name, a port of another node, whose
``rel_tgt_id`` is kept here.  A local target created later under a remote member's name
does not make that member local, as in SCST, which binds a member when it is added.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from .realizer import AluaLayout, AluaPort, AluaTargetGroup

DEFAULT_STATE = "active"


@dataclass(frozen=True)
class Member:
    name: str
    driver: str | None = None  # the local target's driver; None: a port of another node
    rel_tgt_id: int = 0  # a remote port's (a local target's own is in the target)

    def is_target(self, driver: str, name: str) -> bool:
        return self.driver == driver and self.name == name


@dataclass(frozen=True)
class TargetGroup:
    name: str
    group_id: int = 0  # SCST's default until one is written (it accepts only 1..65535)
    state: str = DEFAULT_STATE
    preferred: bool = False
    members: tuple[Member, ...] = ()

    def member(self, name: str) -> Member | None:
        return next((member for member in self.members if member.name == name), None)

    def with_member(self, member: Member) -> TargetGroup:
        """The group with ``member`` replacing the one of its name, or added last."""
        if self.member(member.name) is None:
            return replace(self, members=(*self.members, member))
        return replace(self, members=tuple(member if old.name == member.name else old
                                           for old in self.members))

    def without_member(self, name: str) -> TargetGroup:
        return replace(self, members=tuple(member for member in self.members
                                           if member.name != name))


@dataclass(frozen=True)
class DeviceGroup:
    name: str
    devices: tuple[str, ...] = ()
    target_groups: tuple[TargetGroup, ...] = ()

    def target_group(self, name: str) -> TargetGroup | None:
        return next((group for group in self.target_groups if group.name == name), None)

    def holding(self, member: str) -> TargetGroup | None:
        """The target group that has ``member`` (a name is in one target group at most)."""
        return next((group for group in self.target_groups if group.member(member)), None)

    def with_target_group(self, group: TargetGroup) -> DeviceGroup:
        if self.target_group(group.name) is None:
            return replace(self, target_groups=(*self.target_groups, group))
        return replace(self, target_groups=tuple(group if old.name == group.name else old
                                                 for old in self.target_groups))

    def without_target_group(self, name: str) -> DeviceGroup:
        return replace(self, target_groups=tuple(group for group in self.target_groups
                                                 if group.name != name))

    def has_local(self, driver: str, name: str) -> bool:
        return any(member.is_target(driver, name) for group in self.target_groups
                   for member in group.members)

    def without_local(self, driver: str, name: str) -> DeviceGroup:
        """The group after that local target is gone (SCST takes it out of its groups)."""
        return replace(self, target_groups=tuple(
            replace(group, members=tuple(member for member in group.members
                                         if not member.is_target(driver, name)))
            for group in self.target_groups))


def layout(group: DeviceGroup, local_id: Callable[[Member], int]) -> AluaLayout:
    """What every device of ``group`` answers ALUA from; ``local_id`` gives a local
    member's current ``rel_tgt_id``."""
    return AluaLayout(group.name, tuple(
        AluaTargetGroup(target_group.name, target_group.group_id, target_group.state,
                        target_group.preferred, tuple(
                            AluaPort(member.name, local_id(member), member.driver)
                            if member.driver is not None
                            else AluaPort(member.name, member.rel_tgt_id)
                            for member in target_group.members))
        for target_group in group.target_groups))
