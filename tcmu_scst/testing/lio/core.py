"""Emulated target core: ``target/``, ``core/<plugin>_<N>`` HBAs and storage objects.

Faithful for TCMU (``user``) storage objects, which are what tcmu-scst creates; other plugins
(``fileio``, ``iblock``, ...) get a storage object with the common files whose ``control``
accepts anything, enough to link them to LUNs in tests.  Values checked against Debian 12's
kernel (6.1) in ``tests/system/test_lio_vm.py``.
"""

from __future__ import annotations

import errno
import re

from .kernel import KernelState
from .nodes import Group, Link, parse_int, refuse

PLUGINS = ("user", "fileio", "iblock", "pscsi", "rd_mcp")
_HBA_NAME = re.compile(r"(rd_mcp|[^_]+)_([0-9]+)")
TCMU_DEFAULT_BLOCK_SIZE = 512
TCMU_DEFAULT_MAX_SECTORS = 128
TCMU_DEFAULT_QUEUE_DEPTH = 128
TCMU_MAX_DATA_AREA_MB = 1024
TCMU_CMD_RING_SIZE_MB = 8
TCMU_CONFIG_LEN = 256
WWN_VENDOR = "LIO-ORG"
SERIAL_PREFIX = "T10 VPD Unit Serial Number: "


class Core(Group):
    """``target/core``: HBAs are made here; ``alua/`` is the kernel's own."""

    def __init__(self, parent: Group, kernel: KernelState):
        super().__init__("core", parent, default=True)
        self.kernel = kernel
        self.group("alua").group("lu_gps").group("default_lu_gp")

    def make_item(self, name: str) -> Group:
        match = _HBA_NAME.fullmatch(name)
        if not match or match.group(1) not in PLUGINS:
            refuse(errno.EINVAL, f"{name!r}: expected <plugin>_<number>, plugin one of {PLUGINS}")
        return Hba(name, self, match.group(1), int(match.group(2)))


class Hba(Group):
    def __init__(self, name: str, parent: Core, plugin: str, number: int):
        super().__init__(name, parent)
        self.kernel = parent.kernel
        self.plugin = plugin
        self.number = number
        index = self.kernel.allocate_hba_index()
        self.constant("hba_info", f"HBA Index: {index} plugin: {plugin} version: v5.0\n")
        self.value("hba_mode", "0", lambda text: str(parse_int(text, what="hba_mode")))

    def make_item(self, name: str) -> Group:
        if self.plugin == "user":
            return TcmuDevice(name, self)
        return StorageObject(name, self)


class StorageObject(Group):
    """A backstore device: ``enable`` configures it, LUN symlinks export it."""

    def _default_port_group(self, group: Group) -> None:
        """The kernel's default target port group: the access state (one of the kernel's
        codes, and only on an enabled device) and the PREF bit are writable."""
        state = ["0"]

        def store_state(text: str) -> None:
            if not self.configured:
                refuse(errno.ENODEV, "alua_access_state: the device is not enabled")
            if text.strip() not in ("0", "1", "2", "3", "14", "15"):
                refuse(errno.EINVAL, f"alua_access_state: {text.strip()!r} is no state")
            state[0] = text.strip()

        group.attribute("alua_access_state", lambda: state[0] + "\n", store_state)
        group.value("preferred", "0", parse=_zero_or_one)
        group.value("alua_access_type", "Implicit and Explicit")
        group.constant("tg_pt_gp_id", "0\n")

    def __init__(self, name: str, parent: Hba):
        super().__init__(name, parent)
        self.hba = parent
        self.kernel = parent.kernel
        self.configured = False
        self.serial = ""
        self._default_port_group(self.group("alua").group("default_tg_pt_gp"))
        self.attrib = self.group("attrib")
        pr = self.group("pr")
        for entry in ("res_aptpl_active", "res_aptpl_metadata", "res_holder",
                      "res_pr_all_tgt_pts", "res_pr_generation", "res_pr_holder_tg_port",
                      "res_pr_registered_i_pts", "res_pr_type", "res_type"):
            pr.constant(entry, "")
        statistics = self.group("statistics")
        for entry in ("scsi_dev", "scsi_lu", "scsi_tgt_dev"):
            statistics.group(entry)
        self._wwn()
        self.value("alias", "", newline=False)
        self.attribute("alua_lu_gp", self._show_lu_group, self._store_lu_group)
        self.value("lba_map", "", newline=False)
        self.value("udev_path", "", newline=False)
        self.attribute("control", None, self.store_control)
        self.attribute("enable", lambda: f"{int(self.configured)}\n", self._store_enable)
        self.attribute("info", self.info)

    @property
    def export_count(self) -> int:
        """How many LUNs export this device (the kernel's ``export_count``)."""
        return len(self.inbound)

    def _wwn(self) -> None:
        wwn = self.group("wwn")
        wwn.value("company_id", "0x001405")
        for name in ("vendor_id", "product_id", "revision"):
            wwn.value(name, WWN_VENDOR if name == "vendor_id" else "", self._while_unexported(name))
        for name in ("vpd_assoc_logical_unit", "vpd_assoc_scsi_target_device",
                     "vpd_assoc_target_port", "vpd_protocol_identifier"):
            wwn.constant(name, "")
        wwn.attribute("vpd_unit_serial", lambda: f"{SERIAL_PREFIX}{self.serial}\n",
                      self._store_serial)

    def _show_lu_group(self) -> str:
        if not self.configured:
            return ""
        return "LU Group Alias: default_lu_gp\nLU Group ID: 0\n"

    def _store_lu_group(self, text: str) -> None:
        refuse(errno.EINVAL, "alua_lu_gp: ALUA LU groups are not emulated")

    def _while_unexported(self, what: str):
        def parse(text: str) -> str:
            if self.export_count:
                refuse(errno.EINVAL, f"{what}: cannot change while exported")
            return text.rstrip("\n")

        return parse

    def _store_serial(self, text: str) -> None:
        if self.export_count:
            refuse(errno.EINVAL, "vpd_unit_serial: cannot change while exported")
        self.serial = text.rstrip("\n")

    def _store_enable(self, text: str) -> None:
        if parse_int(text, what="enable") != 1:
            refuse(errno.EINVAL, "enable: only 1 is accepted (removal is rmdir)")
        if self.configured:
            refuse(errno.EEXIST, "enable: already configured")
        self.configure()
        self.configured = True

    def store_control(self, text: str) -> None:
        """Backend parameters; other plugins are not emulated, so anything goes."""

    def configure(self) -> None:
        """What the backend does on ``enable``."""

    def info(self) -> str:
        status = "ACTIVATED" if self.export_count else "DEACTIVATED"
        return f"Status: {status}  Max Queue Depth: 0  SectorSize: 512  HwMaxSectors: 0\n"


class TcmuDevice(StorageObject):
    """A TCMU (``user``) device: ``control`` keys, TCMU ``attrib/`` and ``action/``."""

    def __init__(self, name: str, parent: Hba):
        self.dev_config = ""
        self.dev_size = 0
        self.block_size = 0  # hw_block_size (attrib/), as the control string set it
        self.sector_size = 0  # the logical block size fixed at enable (info's SectorSize)
        self.max_sectors = 0
        self.queue_depth = 0
        self.nl_reply_supported = 0
        self.max_data_area_mb = TCMU_MAX_DATA_AREA_MB
        self.data_pages_per_blk = 1
        self.cmd_ring_size_mb = TCMU_CMD_RING_SIZE_MB
        self.cmd_time_out = 30
        self.uio_name: str | None = None
        super().__init__(name, parent)
        self._tcmu_attributes()
        action = self.group("action")
        action.attribute("block_dev", self._show_blocked, self._store_block)
        action.attribute("free_kept_buf", None, self._store_action)
        action.attribute("reset_ring", None, self._store_action)
        self.blocked = False

    def _tcmu_attributes(self) -> None:
        attrib = self.attrib
        for name, default in (("alua_support", "1"), ("pgr_support", "1"), ("emulate_pr", "1"),
                              ("enforce_pr_isids", "1"), ("tmr_notification", "0")):
            attrib.value(name, default, _flag(name))
        self.write_cache = 0
        attrib.attribute("emulate_write_cache", lambda: f"{self.write_cache}\n",
                         self._store_write_cache)
        attrib.value("force_pr_aptpl", "0", self._unexported_flag("force_pr_aptpl"))
        attrib.value("qfull_time_out", "-1",
                     lambda text: str(parse_int(text, -1, signed=True, what="qfull_time_out")))
        attrib.attribute("cmd_time_out", lambda: f"{self.cmd_time_out}\n", self._store_timeout)
        attrib.attribute("nl_reply_supported", lambda: f"{self.nl_reply_supported}\n",
                         self._store_nl_reply)
        attrib.attribute("dev_config", lambda: f"{self.dev_config}\n", self._store_dev_config)
        attrib.attribute("dev_size", lambda: f"{self.dev_size}\n", self._store_dev_size)
        for name, getter in (("cmd_ring_size_mb", lambda: self.cmd_ring_size_mb),
                             ("data_pages_per_blk", lambda: self.data_pages_per_blk),
                             ("hw_block_size", lambda: self.block_size),
                             ("hw_max_sectors", lambda: self.max_sectors),
                             ("hw_pi_prot_type", lambda: 0),
                             ("hw_queue_depth", lambda: self.queue_depth),
                             ("max_data_area_mb", lambda: self.max_data_area_mb)):
            attrib.attribute(name, lambda getter=getter: f"{getter()}\n")

    def _unexported_flag(self, what: str):
        def parse(text: str) -> str:
            value = str(parse_int(text, 0, 1, what=what))
            if self.export_count:
                refuse(errno.EINVAL, f"{what}: cannot change while exported")
            return value

        return parse

    def _store_timeout(self, text: str) -> None:
        value = parse_int(text, what="cmd_time_out")
        if self.export_count:
            refuse(errno.EINVAL, "cmd_time_out: cannot change while exported")
        self.cmd_time_out = value

    def _store_nl_reply(self, text: str) -> None:
        self.nl_reply_supported = parse_int(text, signed=True, what="nl_reply_supported")

    def _reconfigure(self, what: str) -> None:
        """After enable these changes go to the handler by netlink, which nobody answers."""
        if self.configured:
            refuse(errno.ESRCH, f"{what}: no handler listens for the netlink reconfiguration")

    def _store_write_cache(self, text: str) -> None:
        value = 1 if parse_int(text, 0, 255, what="emulate_write_cache") else 0
        self._reconfigure("emulate_write_cache")
        self.write_cache = value

    def _store_dev_config(self, text: str) -> None:
        self._reconfigure("dev_config")
        self._set_dev_config(text)

    def _set_dev_config(self, text: str) -> None:
        value = text.rstrip("\n")
        if len(value) >= TCMU_CONFIG_LEN:
            refuse(errno.EINVAL, "dev_config: too long")
        self.dev_config = value

    def _store_dev_size(self, text: str) -> None:
        value = parse_int(text, what="dev_size")
        self._reconfigure("dev_size")
        self.dev_size = value

    def _show_blocked(self) -> str:
        return "blocked\n" if self.blocked else "unblocked\n"

    def _store_block(self, text: str) -> None:
        if not self.configured:
            refuse(errno.EINVAL, "block_dev: device not configured")
        self.blocked = bool(parse_int(text, 0, 1, what="block_dev"))

    def _store_action(self, text: str) -> None:
        if not self.configured:
            refuse(errno.EINVAL, "action: device not configured")
        parse_int(text, what="action")

    def store_control(self, text: str) -> None:
        """Comma/newline separated ``key=value`` tokens, applied one by one like the kernel."""
        for token in re.split(r"[,\n]", text):
            if token:
                self._control_token(token)

    def _control_token(self, token: str) -> None:
        key, _, value = token.partition("=")
        if key == "dev_config":
            self._set_dev_config(value)
        elif key == "dev_size":
            self.dev_size = parse_int(value, what="dev_size")
        elif key in ("hw_block_size", "hw_max_sectors"):
            number = parse_int(value, what=key)
            if number == 0:
                refuse(errno.EINVAL, f"{key} must be above 0")
            if key == "hw_block_size":
                self.block_size = number
            else:
                self.max_sectors = number
        elif key == "nl_reply_supported":
            self.nl_reply_supported = parse_int(value, signed=True, what=key)
        elif key in ("max_data_area_mb", "data_pages_per_blk", "cmd_ring_size_mb"):
            number = parse_int(value, what=key)
            if self.configured:
                refuse(errno.EINVAL, f"{key}: cannot change once the device is enabled")
            if number == 0:
                refuse(errno.EINVAL, f"{key} must be above 0")
            setattr(self, key, min(number, TCMU_MAX_DATA_AREA_MB)
                    if key == "max_data_area_mb" else number)
        # other keys are ignored, as the kernel does

    def configure(self) -> None:
        self.block_size = self.block_size or TCMU_DEFAULT_BLOCK_SIZE
        self.sector_size = self.block_size
        self.max_sectors = self.max_sectors or TCMU_DEFAULT_MAX_SECTORS
        self.queue_depth = TCMU_DEFAULT_QUEUE_DEPTH
        name = f"tcm-user/{self.hba.number}/{self.name}"
        self.uio_name = f"{name}/{self.dev_config}" if self.dev_config else name
        self.kernel.add_uio(self.uio_name)

    def dropped(self) -> None:
        if self.uio_name:
            self.kernel.remove_uio(self.uio_name)

    def info(self) -> str:
        status = "ACTIVATED" if self.export_count else "DEACTIVATED"
        return (f"Status: {status}  Max Queue Depth: 0  SectorSize: {self.sector_size}  "
                f"HwMaxSectors: {self.max_sectors}\n"
                f"        Config: {self.dev_config or 'NULL'} Size: {self.dev_size} "
                f"MaxDataAreaMB: {self.max_data_area_mb} "
                f"DataPagesPerBlk: {self.data_pages_per_blk} "
                f"CmdRingSizeMB: {self.cmd_ring_size_mb}\n")


def _flag(what: str):
    return lambda text: str(parse_int(text, 0, 1, what=what))


class TargetRoot(Group):
    """``target/``: ``core/`` plus one group per fabric made by ``mkdir``."""

    def __init__(self, parent: Group, kernel: KernelState, fabrics: dict[str, type[Group]]):
        super().__init__("target", parent, default=True)
        self.kernel = kernel
        self.fabrics = fabrics
        self.adopt(Core(self, kernel))
        self.constant("version", "Target Engine Core ConfigFS Infrastructure v5.0 on "
                                 f"Linux/x86_64 on {kernel.release}\n")
        self.dbroot = "/etc/target"
        self.attribute("dbroot", lambda: f"{self.dbroot}\n", self._store_dbroot)

    def make_item(self, name: str) -> Group:
        fabric = self.fabrics.get(name)
        if fabric is None:
            refuse(errno.EINVAL, f"{name!r}: no such fabric module")
        return fabric(name, self)

    def _store_dbroot(self, text: str) -> None:
        if any(not child.default for child in self.children.values() if isinstance(child, Group)):
            refuse(errno.EINVAL, "dbroot: a fabric module is already registered")
        self.dbroot = text.rstrip("\n")


def linked_device(item: Group) -> StorageObject | None:
    """The storage object a LUN item links to, if any."""
    link = item.link_in()
    if isinstance(link, Link) and isinstance(link.target, StorageObject):
        return link.target
    return None


def _zero_or_one(text: str) -> str:
    if text.strip() not in ("0", "1"):
        refuse(errno.EINVAL, f"write 0 or 1, not {text.strip()!r}")
    return text.strip()
