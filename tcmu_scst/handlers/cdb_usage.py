"""CDB usage data: for each command we implement, which CDB bits it looks at.

REPORT SUPPORTED OPERATION CODES returns these masks so an initiator can tell, without
trial and error, which flags a command honours.  Byte 0 is the opcode itself (the service
action's bits are set in byte 1 for service-action commands); the CONTROL byte reports NACA
and the link bits as SPC-4 shows them.  Keyed by (opcode, service action or None).
"""

from __future__ import annotations

CONTROL = "07"


def _usage(*hex_bytes: str) -> bytes:
    return bytes.fromhex("".join(hex_bytes))


USAGE: dict[tuple[int, int | None], bytes] = {
    # primary commands
    (0x00, None): _usage("00 00000000", CONTROL),  # TEST UNIT READY
    (0x03, None): _usage("03 01 0000 ff", CONTROL),  # REQUEST SENSE
    (0x12, None): _usage("12 01 ff ffff", CONTROL),  # INQUIRY
    (0x15, None): _usage("15 11 0000 ff", CONTROL),  # MODE SELECT(6)
    (0x1A, None): _usage("1a 08 ff ff ff", CONTROL),  # MODE SENSE(6)
    (0x1B, None): _usage("1b 01 00 0f f7", CONTROL),  # START STOP UNIT
    (0x1E, None): _usage("1e 000000 03", CONTROL),  # PREVENT ALLOW MEDIUM REMOVAL
    (0x4D, None): _usage("4d 00 ff ff 00 0000 ffff", CONTROL),  # LOG SENSE
    (0x55, None): _usage("55 11 0000000000 ffff", CONTROL),  # MODE SELECT(10)
    (0x5A, None): _usage("5a 18 ff ff 000000 ffff", CONTROL),  # MODE SENSE(10)
    (0xA0, None): _usage("a0 00 ff 000000 ffffffff 00", CONTROL),  # REPORT LUNS (kernel)
    (0xA3, 0x0C): _usage("a3 0c 87 ff ffff ffffffff 00", CONTROL),  # REPORT SUPPORTED OPCODES
    (0xA3, 0x0A): _usage("a3 ea 00000000 ffffffff 00", CONTROL),  # REPORT TARGET PORT GROUPS
    (0x83, 0x00): _usage("83 00 0000000000000000 ffffffff 00", CONTROL),  # EXTENDED COPY(LID1)
    (0x84, 0x00): _usage("84 00 ff 00000000000000 ffffffff 00", CONTROL),  # COPY STATUS
    (0x84, 0x03): _usage("84 03 00 00000000000000 ffffffff 00", CONTROL),  # OPERATING PARAMS
    # block commands
    (0x08, None): _usage("08 1f ffff ff", CONTROL),  # READ(6)
    (0x0A, None): _usage("0a 1f ffff ff", CONTROL),  # WRITE(6)
    (0x25, None): _usage("25 00 00000000 0000 00", CONTROL),  # READ CAPACITY(10)
    (0x28, None): _usage("28 f8 ffffffff 00 ffff", CONTROL),  # READ(10)
    (0x2A, None): _usage("2a f8 ffffffff 00 ffff", CONTROL),  # WRITE(10)
    (0x2E, None): _usage("2e f2 ffffffff 00 ffff", CONTROL),  # WRITE AND VERIFY(10)
    (0x2F, None): _usage("2f f6 ffffffff 00 ffff", CONTROL),  # VERIFY(10)
    (0x34, None): _usage("34 02 ffffffff 00 ffff", CONTROL),  # PRE-FETCH(10)
    (0x35, None): _usage("35 02 ffffffff 00 ffff", CONTROL),  # SYNCHRONIZE CACHE(10)
    (0x37, None): _usage("37 00 1f 00000000 ffff", CONTROL),  # READ DEFECT DATA(10)
    (0x41, None): _usage("41 f8 ffffffff 00 ffff", CONTROL),  # WRITE SAME(10)
    (0x42, None): _usage("42 01 00000000 00 ffff", CONTROL),  # UNMAP
    (0x88, None): _usage("88 f8 ffffffffffffffff ffffffff 00", CONTROL),  # READ(16)
    (0x89, None): _usage("89 f8 ffffffffffffffff 000000 ff 00", CONTROL),  # COMPARE AND WRITE
    (0x8A, None): _usage("8a f8 ffffffffffffffff ffffffff 00", CONTROL),  # WRITE(16)
    (0x8E, None): _usage("8e f2 ffffffffffffffff ffffffff 00", CONTROL),  # WRITE AND VERIFY(16)
    (0x8F, None): _usage("8f f6 ffffffffffffffff ffffffff 00", CONTROL),  # VERIFY(16)
    (0x90, None): _usage("90 02 ffffffffffffffff ffffffff 00", CONTROL),  # PRE-FETCH(16)
    (0x91, None): _usage("91 02 ffffffffffffffff ffffffff 00", CONTROL),  # SYNC CACHE(16)
    (0x93, None): _usage("93 f9 ffffffffffffffff ffffffff 00", CONTROL),  # WRITE SAME(16)
    (0x9E, 0x10): _usage("9e 10 0000000000000000 ffffffff 00", CONTROL),  # READ CAPACITY(16)
    (0x9E, 0x12): _usage("9e 12 ffffffffffffffff ffffffff 00", CONTROL),  # GET LBA STATUS
    (0xA8, None): _usage("a8 f8 ffffffff ffffffff 00", CONTROL),  # READ(12)
    (0xAA, None): _usage("aa f8 ffffffff ffffffff 00", CONTROL),  # WRITE(12)
    (0xAE, None): _usage("ae f2 ffffffff ffffffff 00", CONTROL),  # WRITE AND VERIFY(12)
    (0xAF, None): _usage("af f6 ffffffff ffffffff 00", CONTROL),  # VERIFY(12)
    (0xB7, None): _usage("b7 1f 00000000 ffffffff 00", CONTROL),  # READ DEFECT DATA(12)
    # multimedia commands (the CD-ROM)
    (0x43, None): _usage("43 02 0f 000000 ff ffff c7"),  # READ TOC/PMA/ATIP (format in CONTROL)
    (0x46, None): _usage("46 03 ffff 000000 ffff", CONTROL),  # GET CONFIGURATION
    (0x4A, None): _usage("4a 01 0000 ff 0000 ffff", CONTROL),  # GET EVENT STATUS NOTIFICATION
    (0x51, None): _usage("51 00 0000000000 ffff", CONTROL),  # READ DISC INFORMATION
    (0x52, None): _usage("52 03 ffffffff 00 ffff", CONTROL),  # READ TRACK INFORMATION
    (0xBD, None): _usage("bd 00 000000000000 ffff 00", CONTROL),  # MECHANISM STATUS
}


def usage(opcode: int, service_action: int | None) -> bytes | None:
    return USAGE.get((opcode, service_action))
