"""SCST's ``vcdrom``: a virtual CD-ROM drive whose disc is an image file that can be changed
while initiators use the drive.

A fresh drive is empty; the management layer inserts, swaps or ejects the disc through
:meth:`CdromDevice.set_attribute` ("filename", as SCST's ``devices/<cd>/filename`` file), and
initiators eject and reload it with START STOP UNIT.  Every new disc raises one unit attention
(NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED) and one media event, which is how the
initiator's CD driver learns that its cached view of the disc is stale.

Reads of the previous disc that are still running on I/O threads keep its file open: the
backend is closed when the last reference to it goes, never under a read in flight (a reused
descriptor number would otherwise hand that read another file's data).
"""

from __future__ import annotations

import errno
import logging
import os
import weakref
from typing import TYPE_CHECKING, ClassVar

from .backend import FileBackend
from .backing_files import check_backing_path
from .declaration import CD_ROM_DEVICE, Access, HandlerDeclaration, Key, Param, Parameters
from .disk import SAM_5, SPC_4, CommandFunction, ScsiDevice
from .identity import Identity
from .mmc import (
    CD_BLOCK_SIZE,
    MEDIA_REMOVAL,
    MULTIMEDIA_COMMANDS,
    NEW_MEDIA,
    NO_CHANGE,
    UNIT_ATTENTION_EXEMPT,
    WRITE_10,
    WRITE_12,
    WRITE_AND_VERIFY_10,
)
from .outcome import Deferred, Outcome
from .params import identity
from .sense import CHECK_CONDITION, NOT_READY, UNIT_ATTENTION, CheckCondition
from .vdisk_attributes import CDROM_IDENTITY, MEASURED_SIZE, TASK_SET_TYPE

if TYPE_CHECKING:
    from ..uio.ring import Command

log = logging.getLogger(__name__)

HANDLER = "vcdrom"
VENDOR = "SCST_FIO"
CD_DVD = CD_ROM_DEVICE.number
MMC_5 = 0x0420
MODE_PAGE_READ_ERROR_RECOVERY = 0x01
MODE_PAGE_CD_DEVICE_PARAMETERS = 0x0D
MODE_PAGE_CAPABILITIES = 0x2A
READ_SPEED = 40 * 176  # kB/s, reported as 40x; nothing depends on it but the log line


def medium_may_have_changed() -> CheckCondition:
    return CheckCondition(UNIT_ATTENTION, 0x28, 0x00)


def open_image(path: str) -> FileBackend:
    """The disc image, read-only; closed when its last user lets go (see module notes)."""
    check_backing_path(path)
    backend = FileBackend(path, read_only=True)
    weakref.finalize(backend, os.close, backend.fd)
    return backend


class CdromDevice(ScsiDevice):
    """A tray-loading CD-ROM drive (peripheral type 5, removable, 2048-byte blocks)."""

    peripheral_type = CD_DVD
    version_descriptors = (SAM_5, SPC_4, MMC_5)
    block_size = CD_BLOCK_SIZE
    commands: ClassVar[dict[int, CommandFunction]] = {
        **ScsiDevice.commands, **MULTIMEDIA_COMMANDS}
    # answered only with DATA PROTECT: REPORT SUPPORTED OPERATION CODES must not claim them
    refused_commands: ClassVar[frozenset[int]] = frozenset({WRITE_10, WRITE_12,
                                                            WRITE_AND_VERIFY_10})

    def __init__(self, identity: Identity, filename: str | None = None):
        super().__init__(identity, removable=True)
        self.backend: FileBackend | None = None
        self.filename: str | None = None
        self.ready = False
        self.tray_open = False
        self.unit_attention: CheckCondition | None = None
        self.media_event = NO_CHANGE
        # a disc that START STOP UNIT ejected, inserted again when it closes the tray
        self._ejected: tuple[FileBackend, str] | None = None
        if filename:
            # A worker restarted after a crash rebuilds the drive from its spec: a disc that
            # has gone meanwhile must leave the drive empty, not keep the worker down.
            try:
                self.change_media(filename)
            except OSError as error:
                log.error("%s: cannot load %s, the drive starts empty: %s", identity.name,
                          filename, error)
            self.unit_attention = None  # a drive that starts with a disc has nothing to report
            self.media_event = NO_CHANGE

    @property
    def blocks(self) -> int:
        return self.backend.size // CD_BLOCK_SIZE if self.backend else 0

    def effective_attributes(self) -> dict[str, str]:
        """A new drive is empty: size 0 until a disc is in."""
        return {"size": str(self.backend.size if self.backend else 0),
                "blocksize": str(CD_BLOCK_SIZE)}

    # --- what the management layer does ---------------------------------------------------

    def change_media(self, path: str | None) -> None:
        """Insert, swap (``path``) or eject (None or empty) the disc.

        Refused with EBUSY while an initiator prevents medium removal, as SCST does; an
        image that cannot be opened leaves the current disc where it is.
        """
        path = (path or "").strip()
        if self.prevent_removal:
            raise OSError(errno.EBUSY, f"{self.identity.name}: medium removal is prevented")
        if not path:
            self._ejected = None
            self._unload()
            return
        if not os.path.isabs(path):
            raise OSError(errno.EINVAL, f"{path!r} is not an absolute path")
        self._load(open_image(path), path)

    def set_attribute(self, name: str, value: str) -> None:
        if name == "filename":
            self.change_media(value)
            return
        super().set_attribute(name, value)

    # --- what initiators do (START STOP UNIT with LOEJ) -----------------------------------

    def eject_medium(self) -> None:
        if self.backend is not None and self.filename is not None:
            self._ejected = (self.backend, self.filename)
            self._unload()
        self.tray_open = True

    def load_medium(self) -> None:
        self.tray_open = False
        if self._ejected is not None and not self.ready:
            backend, path = self._ejected
            self._ejected = None
            self._load(backend, path)

    # --- state changes --------------------------------------------------------------------

    def _load(self, backend: FileBackend, path: str) -> None:
        self.backend = backend  # the previous disc's backend closes once unreferenced
        self.filename = path
        self.ready = True
        self.tray_open = False
        self.unit_attention = medium_may_have_changed()
        self.media_event = NEW_MEDIA

    def _unload(self) -> None:
        if self.backend is not None:
            self.media_event = MEDIA_REMOVAL
        self.backend = None
        self.filename = None
        self.ready = False

    def take_unit_attention(self) -> CheckCondition | None:
        attention, self.unit_attention = self.unit_attention, None
        return attention

    def take_media_event(self) -> int:
        event, self.media_event = self.media_event, NO_CHANGE
        return event

    # --- SCSI -----------------------------------------------------------------------------

    def execute(self, command: Command) -> Outcome | Deferred:
        """Report a pending unit attention before anything else, once (SAM)."""
        if self.unit_attention is not None and command.cdb[0] not in UNIT_ATTENTION_EXEMPT:
            attention = self.take_unit_attention()
            assert attention is not None
            return Outcome(CHECK_CONDITION, attention.sense())
        return super().execute(command)

    def check_ready(self) -> None:
        if not self.ready:
            # MEDIUM NOT PRESENT, with the tray open when START STOP UNIT opened it
            raise CheckCondition(NOT_READY, 0x3A, 0x02 if self.tray_open else 0x00)

    def mode_pages(self, changeable: bool) -> dict[int, bytes]:
        error_recovery = bytes([MODE_PAGE_READ_ERROR_RECOVERY, 0x0A]) + bytes(10)
        # inactivity timer 0 (vendor default); 60 seconds per minute, 75 frames per second
        parameters = bytes([MODE_PAGE_CD_DEVICE_PARAMETERS, 0x06, 0, 0, 0, 60, 0, 75])
        capabilities = self.capabilities_page()
        pages = {
            MODE_PAGE_READ_ERROR_RECOVERY: error_recovery,
            MODE_PAGE_CD_DEVICE_PARAMETERS: parameters,
            MODE_PAGE_CAPABILITIES: capabilities,
        }
        if changeable:  # nothing can be set with MODE SELECT
            return {code: page[:2] + bytes(len(page) - 2) for code, page in pages.items()}
        return pages

    def capabilities_page(self) -> bytes:
        """CD Capabilities and Mechanical Status (2Ah): reads CD-ROM media only, writes
        nothing, tray loader that can eject and lock; the lock state is PREVENT's."""
        page = bytearray(22)
        page[0], page[1] = MODE_PAGE_CAPABILITIES, len(page) - 2
        page[6] = 0x20 | 0x08 | 0x01 | (0x02 if self.prevent_removal else 0)
        page[8:10] = READ_SPEED.to_bytes(2, "big")  # maximum read speed
        page[14:16] = READ_SPEED.to_bytes(2, "big")  # current read speed
        return bytes(page)


def create(name: str, params: Parameters) -> CdromDevice:
    """A vcdrom device; ``filename`` (not a creation parameter in SCST) starts it loaded."""
    return CdromDevice(identity(name, params, VENDOR), params.get("filename") or None)


DECLARATION = HandlerDeclaration(
    name=HANDLER,
    scsi_type=CD_ROM_DEVICE,
    vendor=VENDOR,
    params=(
        # no creation parameter in SCST: a drive is made empty, the disc written here
        Param("filename", "", creation=False, access=Access.READ_WRITE, key=Key.WHEN_SET,
              help="the disc image, an absolute path; write another to change the disc, "
                   "an empty value ejects it"),
        TASK_SET_TYPE,
        *MEASURED_SIZE,
        *CDROM_IDENTITY,
    ),
    advertised=("tst",),
    always_read_only=True,  # SCST's vcdrom sets rd_only
    create=create,
)
