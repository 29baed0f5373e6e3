"""Primary commands (SPC) shared by every device type: INQUIRY, TEST UNIT READY,
REQUEST SENSE, MODE SENSE.

Each command is a function ``(device, command) -> Outcome``; devices assemble them into their
opcode tables.  Data-In answers are cut to the CDB's allocation length and to the buffer the
fabric provided, and report exactly how much they wrote so nothing stale follows them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .alua import TPGS_IMPLICIT, port_designators
from .cdb import be
from .identity import EUI64_DESIGNATOR, T10_VENDOR_DESIGNATOR
from .outcome import NO_DATA, Outcome
from .sense import ILLEGAL_REQUEST, NO_SENSE, CheckCondition, fixed_sense, invalid_field_in_cdb

if TYPE_CHECKING:
    from ..uio.ring import Command
    from .alua import TargetPort
    from .disk import ScsiDevice

INQUIRY = 0x12
TEST_UNIT_READY = 0x00
REQUEST_SENSE = 0x03
MODE_SENSE_6 = 0x1A
MODE_SENSE_10 = 0x5A

SPC4_VERSION = 0x06
ALL_PAGES = 0x3F


def respond(command: Command, data: bytes, allocation_length: int) -> Outcome:
    """Send ``data`` as Data-In, no more than the allocation length allows."""
    written = command.write_data_in(data[:allocation_length])
    return Outcome(data_in_length=written)


def _padded(text: str, width: int) -> bytes:
    return text.encode("ascii", "replace")[:width].ljust(width, b" ")


STANDARD_INQUIRY_LENGTH = 96
VERSION_DESCRIPTORS_AT = 58


def standard_inquiry(device: ScsiDevice) -> bytes:
    """Standard INQUIRY data, with version descriptors naming the standards we follow
    (initiators and test suites decide on SBC-3 features from them)."""
    identity = device.identity
    data = bytearray(STANDARD_INQUIRY_LENGTH)
    data[0] = device.peripheral_type
    if getattr(device, "dummy", False):
        data[0] = 0x3F  # SCST nullio dummy=1: qualifier 1, "not connected", no device type
    data[1] = 0x80 if device.removable else 0
    data[2] = SPC4_VERSION
    data[3] = 0x12  # HiSup, response data format 2
    if device.alua is not None:
        data[5] |= TPGS_IMPLICIT
    data[4] = len(data) - 5
    data[7] = 0x02  # CmdQue
    data[8:16] = _padded(identity.vendor, 8)
    data[16:32] = _padded(identity.product, 16)
    data[32:36] = _padded(identity.revision, 4)
    for index, descriptor in enumerate(device.version_descriptors[:8]):
        position = VERSION_DESCRIPTORS_AT + 2 * index
        data[position : position + 2] = descriptor.to_bytes(2, "big")
    return bytes(data)


def _vpd(page: int, peripheral_type: int, payload: bytes) -> bytes:
    return bytes([peripheral_type, page]) + len(payload).to_bytes(2, "big") + payload


def _designator(code_set: int, designator_type: int, value: bytes, association: int = 0) -> bytes:
    return bytes([code_set, (association << 4) | designator_type, 0, len(value)]) + value


def vpd_pages(device: ScsiDevice, port: TargetPort | None = None) -> dict[int, bytes]:
    """The device's VPD pages, as seen through ``port`` (the ring's target port, if any)."""
    identity = device.identity
    designators = identity.designators()
    pages = {
        0x80: identity.usn.encode(),
        0x83: _designator(0x2, T10_VENDOR_DESIGNATOR, designators[T10_VENDOR_DESIGNATOR])
        + _designator(0x1, EUI64_DESIGNATOR, designators[EUI64_DESIGNATOR])
        + port_designators(device.alua, port),
        **device.command_set_vpd_pages(),
    }
    pages[0x00] = bytes(sorted([0x00, *pages]))
    return pages


def inquiry(device: ScsiDevice, command: Command) -> Outcome:
    cdb = command.cdb
    allocation_length = be(cdb, 3, 2)
    if cdb[1] & 0x01:  # EVPD
        page = cdb[2]
        payload = vpd_pages(device, command.ring.port).get(page)
        if payload is None:
            raise invalid_field_in_cdb(2)
        return respond(command, _vpd(page, device.peripheral_type, payload), allocation_length)
    if cdb[2]:
        raise invalid_field_in_cdb(2)
    return respond(command, standard_inquiry(device), allocation_length)


def test_unit_ready(device: ScsiDevice, command: Command) -> Outcome:
    if not device.ready:
        device.check_ready()
    return NO_DATA


def request_sense(device: ScsiDevice, command: Command) -> Outcome:
    """A pending unit attention (returned as data and cleared, SAM's rule), else why the
    device is not ready, else NO SENSE: what an initiator polling with REQUEST SENSE must
    learn instead of a CHECK CONDITION."""
    if command.cdb[1] & 0x01:  # DESC: descriptor format is not offered
        raise invalid_field_in_cdb(1, 0)
    attention = device.take_unit_attention()
    data = fixed_sense(NO_SENSE, 0, 0) if attention is None else attention.sense()
    if attention is None and not device.ready:
        try:
            device.check_ready()
        except CheckCondition as not_ready:
            data = not_ready.sense()
    return respond(command, data, command.cdb[4])


def _mode_sense(device: ScsiDevice, command: Command, ten_byte: bool) -> Outcome:
    cdb = command.cdb
    disable_block_descriptors = bool(cdb[1] & 0x08)
    page_control = cdb[2] >> 6
    page_code = cdb[2] & 0x3F
    subpage = cdb[3]
    if page_control == 3:  # saved values
        raise CheckCondition(ILLEGAL_REQUEST, 0x39, 0)
    if subpage not in (0x00, 0xFF) or (subpage == 0xFF and page_code != ALL_PAGES):
        raise invalid_field_in_cdb(3)
    pages = device.mode_pages(changeable=page_control == 1)
    if page_code == ALL_PAGES:
        body = b"".join(pages[code] for code in sorted(pages))
    elif page_code in pages:
        body = pages[page_code]
    else:
        raise invalid_field_in_cdb(2, 5)
    descriptor = b"" if disable_block_descriptors else device.block_descriptor()
    specific = device.device_specific_parameter()
    if ten_byte:
        length = 6 + len(descriptor) + len(body)
        header = length.to_bytes(2, "big") + bytes([0, specific, 0, 0])
        header += len(descriptor).to_bytes(2, "big")
        return respond(command, header + descriptor + body, be(cdb, 7, 2))
    header = bytes([3 + len(descriptor) + len(body), 0, specific, len(descriptor)])
    return respond(command, header + descriptor + body, cdb[4])


def mode_sense_6(device: ScsiDevice, command: Command) -> Outcome:
    return _mode_sense(device, command, ten_byte=False)


def mode_sense_10(device: ScsiDevice, command: Command) -> Outcome:
    return _mode_sense(device, command, ten_byte=True)


PRIMARY_COMMANDS = {
    TEST_UNIT_READY: test_unit_ready,
    REQUEST_SENSE: request_sense,
    INQUIRY: inquiry,
    MODE_SENSE_6: mode_sense_6,
    MODE_SENSE_10: mode_sense_10,
}
