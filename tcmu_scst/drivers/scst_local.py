"""SCST's ``scst_local`` target driver, realised as LIO's loopback fabric (tcm_loop).

Management: ``add_target NAME [session_name=S]`` and ``add_session``/``del_session``; each
session is a local SCSI host (``/dev/sdX``), made and removed by mgmt rather than by an
initiator logging in, and ``force_close`` removes it for good.  Targets have no ``enabled``
switch (SCST's have none either).

LIO: tcm_loop has one I_T nexus per TPG, so a target's TPG is made with its session, not
with the target.  That session is the target's one initiator and SCST's rule picks its LUN
set exactly (a group naming it, or else the target's own set), so the TPG simply holds that
set: ``access_mode`` is always ``demo`` and no ACL is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..compat_sysfs.entry_names import check_entry_name
from ..compat_sysfs.grammar import invalid, parameters
from ..compat_sysfs.names import EXACT_NAMES
from ..handlers.alua import PROTOCOL_SAS
from ..lio.access_plan import DEMO, EMPTY_PLAN, AccessPlan, GroupSpec, LunExport
from .base import Creation, TargetDriver
from .lio_layout import LioLayout

if TYPE_CHECKING:
    from ..lio.configfs import Configfs
    from ..lio.tpg import TargetPortalGroup

SESSION_NAME = "session_name"


class LoopbackLayout(LioLayout):
    def make_tpg(self, name: str, fs: Configfs, params: Mapping[str, str]) -> \
            TargetPortalGroup | None:
        return None  # made with its session (tcm_loop has one nexus per TPG)

    def plan(self, default: Mapping[int, LunExport], groups: Mapping[str, GroupSpec],
             session: str | None = None, previous: AccessPlan = EMPTY_PLAN) -> AccessPlan:
        """The session's LUN set as the TPG's LUNs (one known initiator: always exact)."""
        visible = default
        for spec in groups.values():
            if session is not None and session in spec.initiators:
                visible = spec.luns
        return AccessPlan(DEMO, {number: lun.device for number, lun in visible.items()})


class LocalDriver(TargetDriver):
    def parse_creation(self, text: str) -> Creation:
        params: dict[str, str] = {}
        for key, value in parameters(text):
            if key != SESSION_NAME:
                raise invalid(f"Unknown parameter {key!r}: scst_local takes session_name")
            check_entry_name("session", value)
            params[key] = value
        return Creation(params)


LOCAL_DRIVER = LocalDriver(
    name="scst_local",
    lio=LoopbackLayout(tpg_class="LoopbackExport", saveconfig_fabric="loopback",
                       protocol=PROTOCOL_SAS, demo_capable=False, default_set_read_only=True),
    verbs=("add_target", "del_target", "add_session", "del_session"),
    creation_parameters=(SESSION_NAME,),
    access_limits=(EXACT_NAMES,),
    session_parameter=SESSION_NAME,
    target_switch=False,
    managed_sessions=True,
)
