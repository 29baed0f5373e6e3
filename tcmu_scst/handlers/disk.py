"""SCSI devices: an identity, a backend and an opcode table built from the command sets.

``execute`` is the single entry point the data plane calls for each command; command
functions raise :class:`CheckCondition` for errors and this is where it becomes a response.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from .backend import Backend
from .identity import Identity
from .outcome import Deferred, Outcome
from .sbc import BLOCK_COMMANDS
from .sbc_verify import VERIFY_COMMANDS
from .sense import CHECK_CONDITION, CheckCondition, internal_target_failure, invalid_opcode
from .spc import PRIMARY_COMMANDS

if TYPE_CHECKING:
    from ..uio.ring import Command

log = logging.getLogger(__name__)

CommandFunction = Callable[["ScsiDevice", "Command"], "Outcome | Deferred"]
DIRECT_ACCESS = 0x00
MODE_PAGE_ERROR_RECOVERY = 0x01
MODE_PAGE_CACHING = 0x08
MODE_PAGE_CONTROL = 0x0A
VPD_BLOCK_LIMITS = 0xB0
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
    commands: ClassVar[dict[int, CommandFunction]] = PRIMARY_COMMANDS

    def __init__(self, identity: Identity, removable: bool = False):
        self.identity = identity
        self.removable = removable

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

    def set_attribute(self, name: str, value: str) -> None:
        """Change an attribute of the running device (a sysfs write relayed to the worker).

        Only what a device type can change safely between two commands is accepted; the
        default refuses, as SCST does for read-only attribute files.
        """
        raise OSError(errno.EINVAL, f"attribute {name!r} is not changeable at run time")

    def mode_pages(self, changeable: bool) -> dict[int, bytes]:
        return {}

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
    tst: int = 1


class BlockDevice(ScsiDevice):
    """A direct-access disk over a backend."""

    version_descriptors = (SAM_5, SPC_4, SBC_3)

    commands: ClassVar[dict[int, CommandFunction]] = {
        **PRIMARY_COMMANDS, **BLOCK_COMMANDS, **VERIFY_COMMANDS}

    def __init__(self, identity: Identity, backend: Backend, settings: DiskSettings):
        super().__init__(identity, settings.removable)
        self.backend = backend
        self.settings = settings
        self.block_size = settings.block_size
        self.read_only = settings.read_only
        self.write_through = settings.write_through
        self.nv_cache = settings.nv_cache

    @property
    def blocks(self) -> int:
        return self.backend.size // self.block_size

    def mode_pages(self, changeable: bool) -> dict[int, bytes]:
        if changeable:  # nothing can be changed with MODE SELECT yet
            return {
                MODE_PAGE_ERROR_RECOVERY: bytes([0x01, 0x0A]) + bytes(10),
                MODE_PAGE_CACHING: bytes([0x08, 0x12]) + bytes(18),
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
        return {VPD_BLOCK_LIMITS: self.block_limits()}

    def block_limits(self) -> bytes:
        """Block Limits VPD (SBC-3 length 0x3C): transfer sizes; no UNMAP, no WRITE SAME."""
        page = bytearray(0x3C)
        page[4:8] = (self.settings.max_transfer_bytes // self.block_size).to_bytes(4, "big")
        page[8:12] = (self.settings.optimal_transfer_bytes // self.block_size).to_bytes(4, "big")
        return bytes(page)

    def block_descriptor(self) -> bytes:
        blocks = min(self.blocks, 0xFFFFFFFF)
        return blocks.to_bytes(4, "big") + self.block_size.to_bytes(4, "big")

    def device_specific_parameter(self) -> int:
        return (0x80 if self.read_only else 0) | 0x10  # WP, DPOFUA
