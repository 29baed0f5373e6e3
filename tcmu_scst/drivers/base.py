"""The management side of a target driver: its grammar, attribute files and defaults.

What one driver's ``targets/<driver>/`` shows and accepts, as data the tree reads instead of
asking which driver it is building (see the package docstring for the LIO side).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..compat_sysfs.fixed_knobs import GROUP_KNOBS, FixedKnob
from ..compat_sysfs.grammar import invalid, parameters
from ..compat_sysfs.iscsi_params import IscsiKey

if TYPE_CHECKING:
    from .lio_layout import LioLayout


@dataclass(frozen=True)
class Creation:
    """What an ``add_target`` command's parameters ask for."""

    params: dict[str, str] = field(default_factory=dict)  # handed to the realizer as given
    accounts: dict[str, str] = field(default_factory=dict)  # account file -> "USER SECRET"


@dataclass(frozen=True, eq=False)  # one instance each: compared by identity
class TargetDriver:
    """One SCST target driver as management sees it; ``lio`` says how LIO holds it."""

    name: str
    lio: LioLayout | None  # None: no LIO object (the copy manager is served by our workers)
    # --- targets/<driver>/mgmt: its verbs in help-text order (none: no mgmt file) ---------
    verbs: tuple[str, ...] = ()
    creation_parameters: tuple[str, ...] = ()  # add_target's name=value keys, advertised
    driver_attributes: tuple[str, ...] = ()  # add_attribute's (account files of the driver)
    target_attributes: tuple[str, ...] = ()  # add_target_attribute's, as SCST advertises them
    accounts: tuple[str, ...] = ()  # those of target_attributes the tree keeps (USER SECRET)
    access_limits: tuple[str, ...] = ()  # what LIO cannot do, stated in the help text
    session_parameter: str | None = None  # add_target's parameter that adds a first session
    # --- targets/<driver>/ -----------------------------------------------------------------
    driver_switch: bool = False  # an ``enabled`` for the whole driver (iSCSI's)
    status_files: Mapping[str, str] = field(default_factory=dict)  # read-only: name -> text
    driver_knobs: tuple[FixedKnob, ...] = ()
    port_targets: bool = False  # its targets are the host's ports: they come and go with them
    # --- targets/<driver>/<target>/ --------------------------------------------------------
    target_switch: bool = True  # the target's own ``enabled`` (scst_local has none)
    target_keys: Mapping[str, IscsiKey] = field(default_factory=dict)  # attribute files
    target_id_file: bool = False  # ``tid`` (iSCSI's target id: the rel_tgt_id here)
    group_knobs: tuple[FixedKnob, ...] = GROUP_KNOBS  # files of each ini_groups/<group>/
    managed_sessions: bool = False  # sessions are made by mgmt, not by initiators logging in
    # its LUN set is what EXTENDED COPY may name, and no initiator sees it (the copy manager)
    copy_reach: bool = False

    @property
    def has_mgmt(self) -> bool:
        return bool(self.verbs)

    def usage(self) -> str:
        """What reading ``targets/<driver>/mgmt`` prints."""
        # the help texts are the tree's, loaded with it (the config tool needs none)
        from ..compat_sysfs.help_text import target_driver_usage  # noqa: PLC0415

        return target_driver_usage(self.verbs, self.creation_parameters,
                                   self.driver_attributes, self.target_attributes,
                                   self.access_limits)

    def parse_creation(self, text: str) -> Creation:
        """``add_target``'s parameters, checked before anything is made (a driver that
        takes none refuses any)."""
        for key, _ in parameters(text):
            raise invalid(f"Unknown parameter {key!r}: {self.name} takes no parameters")
        return Creation()
