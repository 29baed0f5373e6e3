"""SCST's ``fcst`` target driver (FCoE), realised as LIO's tcm_fc fabric.

Management: no ``mgmt`` file; there is one target per local FC port, appearing and
disappearing with the ports.  A port becomes an LIO target (``fc/<wwpn>/tpgt_1``) only once
something is configured on it, so that a port that only initiates never becomes a target
port.

LIO: tcm_fc has no demo mode (no TPG attributes), so initiators reach LUNs through explicit
ACLs only, i.e. initiator groups: ``access_mode`` is always ``acl-only``.
"""

from __future__ import annotations

from ..handlers.alua import PROTOCOL_FC
from .base import TargetDriver
from .lio_layout import LioLayout

FCST_DRIVER = TargetDriver(
    name="fcst",
    lio=LioLayout(tpg_class="FcTarget", saveconfig_fabric="tcm_fc", protocol=PROTOCOL_FC,
                  demo_capable=False),
    port_targets=True,
)
