"""Multimedia commands (MMC) for a read-only CD-ROM drive with one data track.

The initiator's CD stack (Linux ``sr``/``cdrom``, Windows' cdrom class driver, udisks)
decides from these answers whether a disc is there, what it is and where it ends, so each
answer describes the same thing: a finalized single-session CD-ROM whose only track is the
whole image, in 2048-byte blocks.  Functions are ``(device, command) -> Outcome`` like the
SPC and SBC ones; Data-In is cut to the allocation length by :func:`spc.respond`.

What the drive state means is the device's business (see ``vcdrom.CdromDevice``): here a
device offers ``ready``, ``blocks``, ``block_size``, ``tray_open``, ``prevent_removal``,
``check_ready()``, ``take_unit_attention()`` and ``take_media_event()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .cdb import be
from .outcome import Outcome
from .sbc import READ_10, READ_12, READ_CAPACITY_10, read
from .sbc_medium import (
    PREVENT_ALLOW_MEDIUM_REMOVAL,
    START_STOP_UNIT,
    prevent_allow_medium_removal,
    start_stop_unit,
)
from .sense import (
    NO_SENSE,
    CheckCondition,
    fixed_sense,
    invalid_field_in_cdb,
    lba_out_of_range,
    write_protected,
)
from .spc import REQUEST_SENSE, respond

if TYPE_CHECKING:
    from ..uio.ring import Command
    from .vcdrom import CdromDevice

GET_CONFIGURATION = 0x46
READ_TOC_PMA_ATIP = 0x43
READ_DISC_INFORMATION = 0x51
READ_TRACK_INFORMATION = 0x52
GET_EVENT_STATUS_NOTIFICATION = 0x4A
MECHANISM_STATUS = 0xBD
WRITE_10, WRITE_12, WRITE_AND_VERIFY_10 = 0x2A, 0xAA, 0x2E

CD_BLOCK_SIZE = 2048
LEAD_OUT = 0xAA
DATA_TRACK = 0x14  # ADR 1 (current position), CONTROL 4 (data, recorded uninterrupted)
PREGAP_FRAMES = 150  # LBA 0 is MSF 00:02:00
MAX_MSF_FRAMES = (255 * 60 + 59) * 75 + 74

# GET CONFIGURATION
PROFILE_NONE, PROFILE_CD_ROM = 0x0000, 0x0008
FEATURE_PROFILE_LIST, FEATURE_CORE, FEATURE_MORPHING = 0x0000, 0x0001, 0x0002
FEATURE_REMOVABLE_MEDIUM, FEATURE_RANDOM_READABLE, FEATURE_CD_READ = 0x0003, 0x0010, 0x001E
INTERFACE_SCSI = 1
ALL_FEATURES, CURRENT_FEATURES, ONE_FEATURE = 0, 1, 2

# GET EVENT STATUS NOTIFICATION: class numbers (the request is a bit mask of them)
MEDIA_CLASS, DEVICE_BUSY_CLASS = 4, 6
SUPPORTED_EVENT_CLASSES = (1 << MEDIA_CLASS) | (1 << DEVICE_BUSY_CLASS)
NO_EVENT_AVAILABLE = 0x80
# media event codes
NO_CHANGE, EJECT_REQUEST, NEW_MEDIA, MEDIA_REMOVAL = 0, 1, 2, 3

# Commands that neither report nor clear a pending unit attention: INQUIRY and REQUEST
# SENSE by SAM (REQUEST SENSE returns it as data instead), GET CONFIGURATION and GET EVENT
# STATUS NOTIFICATION by MMC, so hosts can poll for media without losing the attention.
INQUIRY = 0x12
UNIT_ATTENTION_EXEMPT = frozenset(
    {INQUIRY, REQUEST_SENSE, GET_CONFIGURATION, GET_EVENT_STATUS_NOTIFICATION})


def msf(lba: int) -> bytes:
    """An address as MSF (minute, second, frame; 75 frames a second, 2 s of pregap)."""
    frames = min(lba + PREGAP_FRAMES, MAX_MSF_FRAMES)  # images past 255 minutes clamp
    return bytes([0, frames // (60 * 75), frames // 75 % 60, frames % 75])


def _address(lba: int, as_msf: bool) -> bytes:
    return msf(lba) if as_msf else lba.to_bytes(4, "big")


def _ready(device: CdromDevice) -> None:
    if not device.ready:
        device.check_ready()


# --- REQUEST SENSE --------------------------------------------------------------------------

def request_sense(device: CdromDevice, command: Command) -> Outcome:
    """Report a pending unit attention (and clear it, SAM's choice when no other sense is
    pending), else why the drive is not ready, else NO SENSE."""
    if command.cdb[1] & 0x01:  # DESC: descriptor format is not offered
        raise invalid_field_in_cdb(1, 0)
    attention = device.take_unit_attention()
    if attention is not None:
        data = attention.sense()
    elif not device.ready:
        try:
            device.check_ready()
            data = fixed_sense(NO_SENSE, 0, 0)
        except CheckCondition as not_ready:
            data = not_ready.sense()
    else:
        data = fixed_sense(NO_SENSE, 0, 0)
    return respond(command, data, command.cdb[4])


# --- GET CONFIGURATION ----------------------------------------------------------------------

def _feature(code: int, version: int, persistent: bool, current: bool, data: bytes) -> bytes:
    flags = (version << 2) | (0x02 if persistent else 0) | (0x01 if current else 0)
    return code.to_bytes(2, "big") + bytes([flags, len(data)]) + data


def features(device: CdromDevice) -> list[tuple[int, bool, bytes]]:
    """(feature code, current, descriptor) in ascending code order.

    The CD-ROM profile and the features that read media are current only while a disc is
    loaded; the drive's own features (core, morphing, removable medium) always are.
    """
    loaded = device.ready
    profile = PROFILE_CD_ROM.to_bytes(2, "big") + bytes([0x01 if loaded else 0x00, 0])
    core = INTERFACE_SCSI.to_bytes(4, "big") + bytes([0x01, 0, 0, 0])  # DBE: busy events
    morphing = bytes(4)  # polled event status only, no operational change events
    removable = bytes([0x29, 0, 0, 0])  # tray loader, can eject, can lock
    random_readable = CD_BLOCK_SIZE.to_bytes(4, "big") + (1).to_bytes(2, "big") + bytes([1, 0])
    return [
        (FEATURE_PROFILE_LIST, True, _feature(FEATURE_PROFILE_LIST, 0, True, True, profile)),
        (FEATURE_CORE, True, _feature(FEATURE_CORE, 2, True, True, core)),
        (FEATURE_MORPHING, True, _feature(FEATURE_MORPHING, 1, True, True, morphing)),
        (FEATURE_REMOVABLE_MEDIUM, True,
         _feature(FEATURE_REMOVABLE_MEDIUM, 0, True, True, removable)),
        (FEATURE_RANDOM_READABLE, loaded,
         _feature(FEATURE_RANDOM_READABLE, 0, False, loaded, random_readable)),
        (FEATURE_CD_READ, loaded, _feature(FEATURE_CD_READ, 2, False, loaded, bytes(4))),
    ]


def get_configuration(device: CdromDevice, command: Command) -> Outcome:
    cdb = command.cdb
    request_type = cdb[1] & 0x03
    starting_feature = be(cdb, 2, 2)
    if request_type > ONE_FEATURE:
        raise invalid_field_in_cdb(1, 1)
    chosen = []
    for code, current, descriptor in features(device):
        if request_type == ONE_FEATURE:
            wanted = code == starting_feature
        else:
            wanted = code >= starting_feature and (request_type == ALL_FEATURES or current)
        if wanted:
            chosen.append(descriptor)
    body = b"".join(chosen)
    profile = PROFILE_CD_ROM if device.ready else PROFILE_NONE
    header = (4 + len(body)).to_bytes(4, "big") + bytes(2) + profile.to_bytes(2, "big")
    return respond(command, header + body, be(cdb, 7, 2))


# --- READ TOC/PMA/ATIP ----------------------------------------------------------------------

TOC_FORMAT, SESSION_INFO_FORMAT = 0, 1


def _toc_descriptor(track: int, lba: int, as_msf: bool) -> bytes:
    return bytes([0, DATA_TRACK, track, 0]) + _address(lba, as_msf)


def read_toc(device: CdromDevice, command: Command) -> Outcome:
    """Formats 0 (the TOC: track 1 and the lead-out) and 1 (session information).

    Drives before MMC took the format from the top two bits of the CONTROL byte, and Linux
    still asks for session information that way (byte 9 = 0x40), so both places count.
    """
    _ready(device)
    cdb = command.cdb
    as_msf = bool(cdb[1] & 0x02)
    form = cdb[2] & 0x0F
    if form == 0 and cdb[9] >> 6:
        form = cdb[9] >> 6
        if form > SESSION_INFO_FORMAT:
            raise invalid_field_in_cdb(9, 7)
    if form == TOC_FORMAT:
        track = cdb[6]
        if track > 1 and track != LEAD_OUT:
            raise invalid_field_in_cdb(6)
        descriptors = b""
        if track <= 1:
            descriptors += _toc_descriptor(1, 0, as_msf)
        descriptors += _toc_descriptor(LEAD_OUT, device.blocks, as_msf)
        body = bytes([1, 1]) + descriptors  # first and last track
    elif form == SESSION_INFO_FORMAT:
        body = bytes([1, 1]) + _toc_descriptor(1, 0, as_msf)  # sessions; first track of last
    else:
        raise invalid_field_in_cdb(2, 3)  # PMA, ATIP, full TOC, CD-TEXT: not on this disc
    return respond(command, len(body).to_bytes(2, "big") + body, be(cdb, 7, 2))


# --- READ DISC INFORMATION / READ TRACK INFORMATION -----------------------------------------

DISC_INFORMATION_LENGTH = 34
TRACK_INFORMATION_LENGTH = 48
UNKNOWN_ADDRESS = b"\xff\xff\xff\xff"


def read_disc_information(device: CdromDevice, command: Command) -> Outcome:
    """A finalized disc with one complete session holding track 1."""
    _ready(device)
    cdb = command.cdb
    if cdb[1] & 0x07:  # track or POW resources: only writable media have them
        raise invalid_field_in_cdb(1, 2)
    info = bytearray(DISC_INFORMATION_LENGTH)
    info[0:2] = (DISC_INFORMATION_LENGTH - 2).to_bytes(2, "big")
    info[2] = 0x0E  # last session complete (11b), disc finalized (10b), not erasable
    info[3] = 1  # first track on the disc
    info[4] = 1  # sessions
    info[5] = 1  # first track of the last session
    info[6] = 1  # last track of the last session
    info[8] = 0x00  # CD-DA or CD-ROM disc
    info[16:20] = UNKNOWN_ADDRESS  # no lead-in to start: the disc is closed
    info[20:24] = UNKNOWN_ADDRESS
    return respond(command, bytes(info), be(cdb, 7, 2))


def read_track_information(device: CdromDevice, command: Command) -> Outcome:
    """Track 1, addressed by an LBA in it, by its number or by its session (1)."""
    _ready(device)
    cdb = command.cdb
    address_type = cdb[1] & 0x03
    number = be(cdb, 2, 4)
    if address_type == 0:
        if number >= device.blocks:
            raise lba_out_of_range()
    elif address_type in (1, 2):
        if number != 1:
            raise invalid_field_in_cdb(2)
    else:
        raise invalid_field_in_cdb(1, 1)
    info = bytearray(TRACK_INFORMATION_LENGTH)
    info[0:2] = (TRACK_INFORMATION_LENGTH - 2).to_bytes(2, "big")
    info[2] = 1  # track number
    info[3] = 1  # session number
    info[5] = 0x04  # track mode: data, recorded uninterrupted
    info[6] = 0x01  # data mode 1
    info[24:28] = device.blocks.to_bytes(4, "big")  # track size; starts at LBA 0, no free blocks
    return respond(command, bytes(info), be(cdb, 7, 2))


# --- GET EVENT STATUS NOTIFICATION ----------------------------------------------------------

def get_event_status_notification(device: CdromDevice, command: Command) -> Outcome:
    """Polled event status: the media class (its pending event, cleared once reported,
    and whether a disc is in) or, asked for alone, the device busy class (never busy)."""
    cdb = command.cdb
    if not cdb[1] & 0x01:
        raise invalid_field_in_cdb(1, 0)  # asynchronous notification is not offered
    allocation_length = be(cdb, 7, 2)
    wanted = cdb[4] & SUPPORTED_EVENT_CLASSES
    if not wanted:
        header = (2).to_bytes(2, "big") + bytes([NO_EVENT_AVAILABLE, SUPPORTED_EVENT_CLASSES])
        return respond(command, header, allocation_length)
    if wanted & (1 << MEDIA_CLASS):
        event_class = MEDIA_CLASS
        status = (0x02 if device.ready else 0) | (0x01 if device.tray_open else 0)
        descriptor = bytes([device.take_media_event(), status, 0, 0])
    else:
        event_class = DEVICE_BUSY_CLASS
        descriptor = bytes(4)  # no change, not busy, no time estimate
    header = (2 + len(descriptor)).to_bytes(2, "big")
    header += bytes([event_class, SUPPORTED_EVENT_CLASSES])
    return respond(command, header + descriptor, allocation_length)


# --- MECHANISM STATUS -----------------------------------------------------------------------

def mechanism_status(device: CdromDevice, command: Command) -> Outcome:
    """Idle mechanism, no changer slots; the door bit follows the tray."""
    status = bytes([0, 0x10 if device.tray_open else 0, 0, 0, 0, 0, 0, 0])
    return respond(command, status, be(command.cdb, 8, 2))


# --- capacity and data ----------------------------------------------------------------------

def read_capacity(device: CdromDevice, command: Command) -> Outcome:
    _ready(device)
    last = max(device.blocks - 1, 0)
    return respond(command, last.to_bytes(4, "big") + CD_BLOCK_SIZE.to_bytes(4, "big"), 8)


def refuse_write(device: CdromDevice, command: Command) -> Outcome:
    """A CD-ROM is read-only media: WRITE PROTECTED once a disc is in (as SCST answers)."""
    _ready(device)
    raise write_protected()


MULTIMEDIA_COMMANDS = {
    REQUEST_SENSE: request_sense,
    START_STOP_UNIT: start_stop_unit,
    PREVENT_ALLOW_MEDIUM_REMOVAL: prevent_allow_medium_removal,
    READ_CAPACITY_10: read_capacity,
    READ_10: read,
    READ_12: read,
    WRITE_10: refuse_write,
    WRITE_12: refuse_write,
    WRITE_AND_VERIFY_10: refuse_write,
    READ_TOC_PMA_ATIP: read_toc,
    GET_CONFIGURATION: get_configuration,
    GET_EVENT_STATUS_NOTIFICATION: get_event_status_notification,
    READ_DISC_INFORMATION: read_disc_information,
    READ_TRACK_INFORMATION: read_track_information,
    MECHANISM_STATUS: mechanism_status,
}
