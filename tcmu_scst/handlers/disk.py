"""SCSI devices: an identity, a backend and an opcode table built from the command sets.

``execute`` is the single entry point the data plane calls for each command; command
functions raise :class:`CheckCondition` for errors and this is where it becomes a response.
"""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from .alua import ALUA_ATTRIBUTE, AluaView
from .backend import Backend
from .declaration import DIRECT_ACCESS_DEVICE
from .identity import Identity
from .outcome import Deferred, Outcome
from .sbc import BLOCK_COMMANDS, READ_CAPACITY_16, SERVICE_ACTION_IN_16, read_capacity_16
from .sbc_compare import COMPARE_COMMANDS, MAX_COMPARE_AND_WRITE_BLOCKS
from .sbc_medium import MEDIUM_COMMANDS
from .sbc_provisioning import (
    GET_LBA_STATUS,
    MAX_UNMAP_DESCRIPTORS,
    MAX_WRITE_SAME_BYTES,
    PROVISIONING_COMMANDS,
    get_lba_status,
)
from .sbc_verify import VERIFY_COMMANDS
from .sense import (
    CHECK_CONDITION,
    NOT_READY,
    UNIT_ATTENTION,
    CheckCondition,
    internal_target_failure,
    invalid_opcode,
)
from .service_actions import ServiceActionDispatcher
from .spc import PRIMARY_COMMANDS
from .spc_copy import (
    EXTENDED_COPY,
    EXTENDED_COPY_ACTIONS,
    RECEIVE_COPY_RESULTS,
    RECEIVE_COPY_RESULTS_ACTIONS,
)
from .spc_copy import register as register_copy_target
from .spc_opcodes import MAINTENANCE_IN, MAINTENANCE_IN_ACTIONS
from .spc_pages import PAGE_COMMANDS
from .values import one_bit

if TYPE_CHECKING:
    from ..uio.ring import Command

log = logging.getLogger(__name__)

CommandFunction = Callable[["ScsiDevice", "Command"], "Outcome | Deferred"]
DIRECT_ACCESS = DIRECT_ACCESS_DEVICE.number
MODE_PAGE_ERROR_RECOVERY = 0x01
MODE_PAGE_CACHING = 0x08
MODE_PAGE_CONTROL = 0x0A
VPD_EXTENDED_INQUIRY = 0x86
VPD_BLOCK_LIMITS = 0xB0
VPD_BLOCK_CHARACTERISTICS = 0xB1
VPD_LOGICAL_BLOCK_PROVISIONING = 0xB2
REPORT_LUNS = 0xA0
INQUIRY, REQUEST_SENSE = 0x12, 0x03
# Commands a pending unit attention does not fail (SAM): INQUIRY, REQUEST SENSE (which
# returns it as data) and REPORT LUNS (answered by LIO anyway)
DISK_UNIT_ATTENTION_EXEMPT = frozenset({INQUIRY, REQUEST_SENSE, REPORT_LUNS})
UNLIMITED = 0xFFFFFFFF
# SCST attribute -> Identity field: INQUIRY data an administrator may change at run time
IDENTITY_ATTRIBUTES = {"t10_vend_id": "vendor", "prod_id": "product",
                       "prod_rev_lvl": "revision", "t10_dev_id": "t10_dev_id", "usn": "usn"}
MAX_BOUNDED_UNMAP_BLOCKS = 1 << 20
# version descriptor codes (SPC-4 table "Version descriptor values")
SAM_5, SPC_4, SBC_3 = 0x00A0, 0x0460, 0x04C0


def error_outcome(error: BaseException) -> Outcome:
    """The response for an exception escaping a command: its sense, or a target failure."""
    if not isinstance(error, CheckCondition):
        log.error("command failed inside the target: %r", error, exc_info=error)
        error = internal_target_failure()
    return Outcome(CHECK_CONDITION, error.sense())


class ScsiDevice:
    """Dispatch by opcode; subclasses provide the table and the device's properties."""

    peripheral_type = DIRECT_ACCESS
    version_descriptors: tuple[int, ...] = (SAM_5, SPC_4)
    # False while commands that need the medium must fail: they then call check_ready()
    ready = True
    commands: ClassVar[dict[int, CommandFunction]] = {
        **PRIMARY_COMMANDS, **PAGE_COMMANDS,
        MAINTENANCE_IN: ServiceActionDispatcher(MAINTENANCE_IN_ACTIONS),
    }
    # answered by LIO itself for every backstore, listed in REPORT SUPPORTED OPERATION CODES
    kernel_commands: ClassVar[tuple[int, ...]] = (REPORT_LUNS,)
    # executed only to refuse them (a CD-ROM's writes): not reported as supported
    refused_commands: ClassVar[frozenset[int]] = frozenset()

    def __init__(self, identity: Identity, removable: bool = False):
        self.identity = identity
        self.removable = removable
        self.prevent_removal = False
        # the device group's ALUA answers while the device is in one (handlers/alua.py)
        self.alua: AluaView | None = None

    def execute(self, command: Command) -> Outcome | Deferred:
        function = self.commands.get(command.cdb[0])
        try:
            if function is None:
                raise invalid_opcode()
            return function(self, command)
        except Exception as error:
            return error_outcome(error)

    def check_ready(self) -> None:
        """Raise the sense that explains why the device is not ``ready``."""

    def take_unit_attention(self) -> CheckCondition | None:
        """The oldest pending unit attention, now reported (REQUEST SENSE asks for it)."""
        return None

    def set_attribute(self, name: str, value: str) -> None:
        """Change an attribute of the running device (a sysfs write relayed to the worker).

        Only what a device type can change safely between two commands is accepted; the
        default refuses, as SCST does for read-only attribute files.
        """
        if name in IDENTITY_ATTRIBUTES:
            setattr(self.identity, IDENTITY_ATTRIBUTES[name], value)
            return
        if name == ALUA_ATTRIBUTE:
            try:
                self.alua = AluaView.from_json(value) if value else None
            except ValueError as error:
                raise OSError(errno.EINVAL, str(error)) from None
            return
        raise OSError(errno.EINVAL, f"attribute {name!r} is not changeable at run time")

    def close(self) -> None:
        """Let go of the backing store (a device that was only opened to be looked at, a
        copy's source); the worker's devices are closed by its exit."""

    def effective_attributes(self) -> dict[str, str]:
        """What the device is, as its attribute files show it, where that can differ from
        what was asked (a value found on the disk, a size): the worker reports this once
        the device is open, and the tree shows it.  ``size`` and ``blocksize`` are in
        every opened disk's answer."""
        return {}

    def mode_pages(self, changeable: bool) -> dict[int, bytes]:
        return {}

    def apply_mode_page(self, code: int, page: bytes) -> None:
        """Take the changeable bits of a MODE SELECT page (already checked against the mask)."""

    def command_set_vpd_pages(self) -> dict[int, bytes]:
        """VPD pages of the device's command set (payloads after the 4-byte header)."""
        return {}

    def block_descriptor(self) -> bytes:
        return b""

    def device_specific_parameter(self) -> int:
        return 0


@dataclass
class DiskSettings:
    """SCST vdisk flags that change how a disk answers."""

    block_size: int = 512
    optimal_transfer_bytes: int = 524288  # SCST's opt_trans_len default
    max_transfer_bytes: int = 1 << 20  # what the TCMU backstore's hw_max_sectors allows
    read_only: bool = False
    write_through: bool = False
    nv_cache: bool = False
    removable: bool = False
    rotational: bool = True
    thin_provisioned: bool = False
    o_direct: bool = False
    tst: int = 1
    # READ CAPACITY(16) reports how many logical blocks make a physical block of the store
    lb_per_pb_exp: bool = True


class BlockDevice(ScsiDevice):
    """A direct-access disk over a backend."""

    version_descriptors = (SAM_5, SPC_4, SBC_3)

    commands: ClassVar[dict[int, CommandFunction]] = {
        **ScsiDevice.commands, **BLOCK_COMMANDS, **VERIFY_COMMANDS, **PROVISIONING_COMMANDS,
        **COMPARE_COMMANDS, **MEDIUM_COMMANDS,
        SERVICE_ACTION_IN_16: ServiceActionDispatcher({
            READ_CAPACITY_16: read_capacity_16, GET_LBA_STATUS: get_lba_status}),
        EXTENDED_COPY: ServiceActionDispatcher(EXTENDED_COPY_ACTIONS),
        RECEIVE_COPY_RESULTS: ServiceActionDispatcher(RECEIVE_COPY_RESULTS_ACTIONS),
    }

    def __init__(self, identity: Identity, backend: Backend, settings: DiskSettings):
        super().__init__(identity, settings.removable)
        self.backend = backend
        self.settings = settings
        self.block_size = settings.block_size
        self.read_only = settings.read_only
        self.write_through = settings.write_through
        self.nv_cache = settings.nv_cache
        # held by COMPARE AND WRITE from its read to its write, and by every write meanwhile
        self.atomic_lock = threading.Lock()
        self.medium_loaded = True
        # unit attentions not yet reported, oldest first.  TCMU does not say which I_T
        # nexus sent a command, so there is one queue for all: the first initiator to send
        # a command gets each one (enough for one initiator per LUN, e.g. tcm_loop)
        self.unit_attentions: list[CheckCondition] = []
        register_copy_target(self)

    def queue_unit_attention(self, asc: int, ascq: int) -> None:
        """Report ``asc/ascq`` with the next command that is not exempt; once, however
        often the condition arose before the initiator looked."""
        if not any((ua.asc, ua.ascq) == (asc, ascq) for ua in self.unit_attentions):
            self.unit_attentions.append(CheckCondition(UNIT_ATTENTION, asc, ascq))

    def take_unit_attention(self) -> CheckCondition | None:
        return self.unit_attentions.pop(0) if self.unit_attentions else None

    def execute(self, command: Command) -> Outcome | Deferred:
        # ScsiDevice.execute with the unit attention check in front, written out rather than
        # calling it: this runs for every command
        opcode = command.cdb[0]
        if self.unit_attentions and opcode not in DISK_UNIT_ATTENTION_EXEMPT:
            attention = self.unit_attentions.pop(0)
            return Outcome(CHECK_CONDITION, attention.sense())
        function = self.commands.get(opcode)
        try:
            if function is None:
                raise invalid_opcode()
            return function(self, command)
        except Exception as error:
            return error_outcome(error)

    @property
    def blocks(self) -> int:
        return self.backend.size // self.block_size

    @property
    def thin_provisioned(self) -> bool:
        """UNMAP offered: asked for, and the backend can really release storage."""
        return self.settings.thin_provisioned and self.backend.can_deallocate

    @property
    def logical_blocks_per_physical_exponent(self) -> int:
        """READ CAPACITY(16)'s exponent: 2^n logical blocks make one of the store's physical
        blocks (0 when lb_per_pb_exp is off, or the store's block is no larger)."""
        physical = self.backend.physical_block_size
        if not self.settings.lb_per_pb_exp or physical <= self.block_size:
            return 0
        if physical & (physical - 1) or physical % self.block_size:
            return 0  # not a power of two: nothing SBC can express
        return min((physical // self.block_size).bit_length() - 1, 0x0F)

    def close(self) -> None:
        self.backend.close()

    def effective_attributes(self) -> dict[str, str]:
        return {
            "size": str(self.backend.size),
            "blocksize": str(self.block_size),
            "rotational": str(int(self.settings.rotational)),
            "thin_provisioned": str(int(self.thin_provisioned)),
            "read_only": str(int(self.read_only)),
        }

    @property
    def max_unmap_blocks(self) -> int:
        """Unlimited where releasing costs nothing per byte (files); otherwise the device's
        discard limit, capped at 2^20 blocks so one UNMAP never becomes a minutes-long
        discard (libiscsi holds targets to the same bound)."""
        limit = self.backend.max_deallocate_bytes // self.block_size
        return min(limit, MAX_BOUNDED_UNMAP_BLOCKS) if limit else UNLIMITED

    def set_attribute(self, name: str, value: str) -> None:
        if name == "resync_size":  # the backing file or device was resized
            if not self.backend.resizable:
                raise OSError(errno.EMEDIUMTYPE, "this device has no backing store to resize")
            before = self.backend.size
            if self.backend.refresh_size() != before:
                self.queue_unit_attention(0x2A, 0x09)  # CAPACITY DATA HAS CHANGED
            return
        if name == "lb_per_pb_exp":
            self.settings.lb_per_pb_exp = bool(one_bit(name, value))
            return
        super().set_attribute(name, value)

    def check_ready(self) -> None:
        if not self.medium_loaded:
            raise CheckCondition(NOT_READY, 0x3A, 0x00)  # MEDIUM NOT PRESENT

    def eject_medium(self) -> None:
        self.medium_loaded = False
        self.ready = False

    def load_medium(self) -> None:
        self.medium_loaded = True
        self.ready = True

    def apply_mode_page(self, code: int, page: bytes) -> None:
        if code == MODE_PAGE_CACHING:
            self.write_through = not page[2] & 0x04  # WCE=0: every write reaches the medium

    def mode_pages(self, changeable: bool) -> dict[int, bytes]:
        if changeable:  # only write-back caching can be switched with MODE SELECT
            return {
                MODE_PAGE_ERROR_RECOVERY: bytes([0x01, 0x0A]) + bytes(10),
                MODE_PAGE_CACHING: bytes([0x08, 0x12, 0x04]) + bytes(17),
                MODE_PAGE_CONTROL: bytes([0x0A, 0x0A]) + bytes(10),
            }
        caching = bytearray([0x08, 0x12]) + bytearray(18)
        if not (self.write_through or self.nv_cache):
            caching[2] |= 0x04  # WCE: writes are cached until SYNCHRONIZE CACHE
        control = bytearray([0x0A, 0x0A]) + bytearray(10)
        control[2] = (self.settings.tst & 0x7) << 5
        control[8:10] = b"\xff\xff"  # busy timeout: unlimited
        return {
            MODE_PAGE_ERROR_RECOVERY: bytes([0x01, 0x0A]) + bytes(10),
            MODE_PAGE_CACHING: bytes(caching),
            MODE_PAGE_CONTROL: bytes(control),
        }

    def command_set_vpd_pages(self) -> dict[int, bytes]:
        pages = {
            VPD_EXTENDED_INQUIRY: self.extended_inquiry(),
            VPD_BLOCK_LIMITS: self.block_limits(),
            VPD_BLOCK_CHARACTERISTICS: self.block_characteristics(),
        }
        if self.thin_provisioned:
            pages[VPD_LOGICAL_BLOCK_PROVISIONING] = self.logical_block_provisioning()
        return pages

    def extended_inquiry(self) -> bytes:
        """Extended INQUIRY Data VPD: simple task attribute; which write cache we have."""
        page = bytearray(0x3C)
        page[1] = 0x01  # SIMPSUP (LIO does not pass ORDERED/HEAD OF QUEUE to TCMU)
        cached = not (self.write_through or self.nv_cache)
        page[2] = (0x02 if self.nv_cache else 0) | (0x01 if cached else 0)  # NV_SUP, V_SUP
        return bytes(page)

    def block_limits(self) -> bytes:
        """Block Limits VPD (SBC-3 length 0x3C); offsets below are from byte 4 of the page."""
        size = self.block_size
        page = bytearray(0x3C)
        page[0] = 0x01  # WSNZ: WRITE SAME of zero blocks is refused, not "to the end"
        page[1] = MAX_COMPARE_AND_WRITE_BLOCKS
        page[4:8] = (self.settings.max_transfer_bytes // size).to_bytes(4, "big")
        page[8:12] = (self.settings.optimal_transfer_bytes // size).to_bytes(4, "big")
        if self.thin_provisioned:
            granularity = max(1, self.backend.deallocate_granularity // size)
            page[16:20] = self.max_unmap_blocks.to_bytes(4, "big")
            page[20:24] = MAX_UNMAP_DESCRIPTORS.to_bytes(4, "big")
            page[24:28] = granularity.to_bytes(4, "big")
            page[28] = 0x80  # UGAVALID, alignment 0
        page[32:40] = (MAX_WRITE_SAME_BYTES // size).to_bytes(8, "big")
        return bytes(page)

    def block_characteristics(self) -> bytes:
        """Block Device Characteristics VPD: rotation rate 1 means solid state."""
        page = bytearray(0x3C)
        if not self.settings.rotational:
            page[0:2] = (1).to_bytes(2, "big")
        return bytes(page)

    @property
    def deallocated_reads_zeros(self) -> bool:
        """LBPRZ: only when the backend guarantees it (holes do; a discard on a real disk
        promises nothing about what the range reads back as)."""
        return self.backend.deallocate_zeroes

    def logical_block_provisioning(self) -> bytes:
        """LBPU, LBPWS, LBPWS10 and, when true, LBPRZ; thin provisioned."""
        return bytes([0x00, 0xE0 | (0x04 if self.deallocated_reads_zeros else 0), 0x00, 0x02])

    def block_descriptor(self) -> bytes:
        blocks = min(self.blocks, 0xFFFFFFFF)
        return blocks.to_bytes(4, "big") + self.block_size.to_bytes(4, "big")

    def device_specific_parameter(self) -> int:
        return (0x80 if self.read_only else 0) | 0x10  # WP, DPOFUA
