"""SCST's ``iscsi`` target driver, realised as LIO's iSCSI fabric.

Management: ``add_target`` with optional accounts and negotiation keys, discovery accounts
(``add_attribute``), per-target accounts (``add_target_attribute``), a driver-wide ``enabled``
and the keys of :data:`~tcmu_scst.compat_sysfs.iscsi_params.ISCSI_KEYS` as target files.

LIO: ``iscsi/<iqn>/tpgt_1`` listening on :data:`PORTAL`, demo mode on (write protection
off, no authentication until an account is set), SCST's defaults written into ``param/`` for
the keys LIO keeps.  SCST checks a target's accounts for every initiator; LIO checks the
TPG's only for demo-mode sessions and each explicit ACL's own for its initiator, so an
account goes to the TPG and to the ACL of every initiator in a group.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from .. import lio
from ..compat_sysfs.fixed_knobs import GROUP_KNOBS, ISCSI_DRIVER_KNOBS, ISCSI_GROUP_KNOBS
from ..compat_sysfs.grammar import invalid, words
from ..compat_sysfs.iscsi_params import CHAP_ATTRIBUTES, ISCSI_KEYS
from ..compat_sysfs.names import ACCESS_MODE, EXACT_NAMES, TRACE_LEVEL, VERSION
from ..handlers.alua import PROTOCOL_ISCSI
from .accounts import instance_name, secret_parts
from .base import Creation, TargetDriver
from .lio_layout import LioLayout, unsupported

if TYPE_CHECKING:
    from ..lio.chap import Chap
    from ..lio.configfs import Configfs
    from ..lio.iscsi import IscsiTarget
    from ..lio.tpg import TargetPortalGroup

PORTAL = ("0.0.0.0", 3260)  # every address, the iSCSI port
ALIAS = "Alias"  # iscsi-scstd's target alias: taken by add_target, not kept


class IscsiLayout(LioLayout):
    portal: ClassVar[tuple[str, int]] = PORTAL

    @property
    def lio_keys(self) -> dict[str, str]:
        """SCST's keys LIO keeps as TPG parameters of the same name, with SCST's defaults."""
        return {name: key.default for name, key in ISCSI_KEYS.items() if key.in_lio}

    @property
    def scst_only_keys(self) -> dict[str, str]:
        """iscsi-scstd's own settings, without an LIO counterpart (kept in the tree only)."""
        return {name: key.default for name, key in ISCSI_KEYS.items() if not key.in_lio}

    def make_tpg(self, name: str, fs: Configfs, params: Mapping[str, str]) -> IscsiTarget:
        tpg = lio.IscsiTarget(name, fs)
        tpg.create()
        try:
            tpg.add_portal(*self.portal)
            tpg.set_demo_mode(True, write_protect=False)
            tpg.set_authentication(False)
            for key, value in {**self.lio_keys, **params}.items():
                if key not in self.scst_only_keys:
                    tpg.set_param(key, value)
        except BaseException:
            tpg.remove()
            raise
        return tpg

    def tpgs_in(self, fs: Configfs) -> list[TargetPortalGroup]:
        return list(lio.list_targets(fs))

    def configure_acl(self, tpg: TargetPortalGroup, initiator: str) -> None:
        """A new group member's ACL gets the target's account."""
        assert isinstance(tpg, lio.IscsiTarget)
        chap = tpg.chap()
        if not chap.is_empty:
            tpg.set_acl_chap(initiator, chap)

    def set_target_attribute(self, tpg: TargetPortalGroup | None, attribute: str, value: str,
                             initiators: list[str]) -> None:
        assert isinstance(tpg, lio.IscsiTarget)
        base = attribute.rstrip("0123456789")
        if base == "IncomingUser":
            if attribute != "IncomingUser":
                raise unsupported("LIO keeps one CHAP account per target: remove "
                                  "IncomingUser before adding another")
            user, _, secret = value.partition(" ")
            old = tpg.chap()
            chap = lio.Chap(user, secret, old.userid_mutual, old.password_mutual)
            try:
                self._place_account(tpg, chap, initiators)
                tpg.set_authentication(bool(user))
            except BaseException:
                self._place_account(tpg, old, initiators)
                raise
        elif base == "OutgoingUser":
            user, _, secret = value.partition(" ")
            old = tpg.chap()
            chap = lio.Chap(old.userid, old.password, user, secret)
            try:
                self._place_account(tpg, chap, initiators)
            except BaseException:
                self._place_account(tpg, old, initiators)
                raise
        elif base == "allowed_portal":
            raise unsupported("allowed_portal cannot be expressed in LIO (portals are per "
                              "target, not per initiator address)")
        elif attribute in self.scst_only_keys:
            return  # iscsi-scstd daemon settings without an LIO counterpart: kept in the tree
        else:
            tpg.set_param(attribute, value)

    @staticmethod
    def _place_account(tpg: IscsiTarget, chap: Chap, initiators: list[str]) -> None:
        tpg.set_chap(chap)
        for initiator in initiators:
            tpg.set_acl_chap(initiator, chap)

    def set_driver_attribute(self, fs: Configfs, name: str, value: str) -> None:
        """Discovery accounts: SendTargets authentication."""
        user, _, secret = value.partition(" ")
        if name.startswith("IncomingUser"):
            lio.set_discovery_chap(lio.Chap(user, secret) if user else None, bool(user), fs)
        else:
            raise unsupported("discovery mutual CHAP (OutgoingUser) is not offered yet")


class IscsiDriver(TargetDriver):
    def parse_creation(self, text: str) -> Creation:
        """``add_target NAME [IncomingUser U S;] [KEY VALUE; ...]``: one ``;`` (or newline)
        separated segment per account or key."""
        params: dict[str, str] = {}
        accounts: dict[str, str] = {}
        for segment in text.replace("\n", ";").split(";"):
            parts = words(segment)
            if not parts:
                continue
            key = parts[0]
            if key in self.accounts:
                user, secret = secret_parts(parts[1:], key)
                accounts[instance_name(accounts, key)] = f"{user} {secret}"
            elif key in self.target_keys:
                if len(parts) != 2:
                    raise invalid(f"{key} takes one value")
                params[key] = self.target_keys[key].normalise(parts[1])
            elif key != ALIAS:
                raise invalid(f"Unknown parameter {key!r} for an iSCSI target; set "
                              f"attributes after creation instead")
        return Creation(params, accounts)


ISCSI_LAYOUT = IscsiLayout(tpg_class="IscsiTarget", saveconfig_fabric="iscsi",
                           protocol=PROTOCOL_ISCSI, demo_capable=True)

ISCSI_DRIVER = IscsiDriver(
    name="iscsi",
    lio=ISCSI_LAYOUT,
    verbs=("add_target", "del_target", "add_attribute", "del_attribute",
           "add_target_attribute", "del_target_attribute"),
    driver_attributes=CHAP_ATTRIBUTES,
    target_attributes=(*CHAP_ATTRIBUTES, "allowed_portal"),
    accounts=CHAP_ATTRIBUTES,
    access_limits=(EXACT_NAMES, ACCESS_MODE),
    driver_switch=True,
    status_files={"open_state": "open", "version": VERSION, "trace_level": TRACE_LEVEL},
    driver_knobs=ISCSI_DRIVER_KNOBS,
    target_keys=ISCSI_KEYS,
    target_id_file=True,
    group_knobs=GROUP_KNOBS + ISCSI_GROUP_KNOBS,
)
