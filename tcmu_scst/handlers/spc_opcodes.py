"""REPORT SUPPORTED OPERATION CODES (MAINTENANCE IN, service action 0x0C).

Built from the device's own opcode table and the CDB usage masks, so the report can never
claim a command the device does not execute (a unit test checks that every executable
command has a mask).  Timeouts are reported as "not specified" (zero) when RCTD asks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .alua import REPORT_TARGET_PORT_GROUPS, report_target_port_groups
from .cdb import be
from .cdb_usage import usage
from .outcome import Outcome
from .sense import invalid_field_in_cdb
from .service_actions import ServiceActionDispatcher
from .spc import respond

if TYPE_CHECKING:
    from ..uio.ring import Command
    from .disk import ScsiDevice

MAINTENANCE_IN = 0xA3
REPORT_SUPPORTED_OPERATION_CODES = 0x0C
ALL_COMMANDS, ONE_OPCODE, ONE_SERVICE_ACTION, OPCODE_OR_SERVICE_ACTION = 0, 1, 2, 3
SUPPORTED, NOT_SUPPORTED = 0x03, 0x01
TIMEOUTS_DESCRIPTOR = bytes([0x00, 0x0A]) + bytes(10)  # nominal and recommended: unspecified


def supported_commands(device: ScsiDevice) -> list[tuple[int, int | None, bytes]]:
    """(opcode, service action or None, usage data) of every command the device executes,
    plus the ones LIO answers for it (REPORT LUNS)."""
    listed: list[tuple[int, int | None, bytes]] = []
    opcodes = (set(device.commands) | set(device.kernel_commands)) - device.refused_commands
    for opcode in sorted(opcodes):
        function = device.commands.get(opcode)
        if isinstance(function, ServiceActionDispatcher):
            for action in sorted(function.service_actions):
                data = usage(opcode, action)
                if data is not None:
                    listed.append((opcode, action, data))
        else:
            data = usage(opcode, None)
            if data is not None:
                listed.append((opcode, None, data))
    return listed


def _all_commands(device: ScsiDevice, timeouts: bool) -> bytes:
    body = bytearray()
    for opcode, action, data in supported_commands(device):
        flags = (0x02 if timeouts else 0) | (0x01 if action is not None else 0)
        body += bytes([opcode, 0]) + (action or 0).to_bytes(2, "big")
        body += bytes([0, flags]) + len(data).to_bytes(2, "big")
        if timeouts:
            body += TIMEOUTS_DESCRIPTOR
    return len(body).to_bytes(4, "big") + bytes(body)


def _one_command(device: ScsiDevice, options: int, opcode: int, action: int,
                 timeouts: bool) -> bytes:
    commands = supported_commands(device)
    has_actions = any(code == opcode and sa is not None for code, sa, _ in commands)
    if options == ONE_OPCODE and has_actions:
        raise invalid_field_in_cdb(2, 2)  # this opcode is known by its service actions
    if options == ONE_SERVICE_ACTION and not has_actions and any(
            code == opcode for code, _, _ in commands):
        raise invalid_field_in_cdb(2, 2)
    wanted_action = action if has_actions else None
    if options == OPCODE_OR_SERVICE_ACTION and not has_actions and action != 0:
        wanted_action = -1  # nothing matches: reported as not supported
    for code, sa, data in commands:
        if code == opcode and sa == wanted_action:
            answer = bytes([0, (0x80 if timeouts else 0) | SUPPORTED])
            answer += len(data).to_bytes(2, "big") + data
            return answer + (TIMEOUTS_DESCRIPTOR if timeouts else b"")
    return bytes([0, NOT_SUPPORTED, 0, 0])


def report_supported_operation_codes(device: ScsiDevice, command: Command) -> Outcome:
    cdb = command.cdb
    options = cdb[2] & 0x07
    timeouts = bool(cdb[2] & 0x80)
    allocation_length = be(cdb, 6, 4)
    if options == ALL_COMMANDS:
        data = _all_commands(device, timeouts)
    elif options <= OPCODE_OR_SERVICE_ACTION:
        data = _one_command(device, options, cdb[3], be(cdb, 4, 2), timeouts)
    else:
        raise invalid_field_in_cdb(2, 2)
    return respond(command, data, allocation_length)


MAINTENANCE_IN_ACTIONS = {REPORT_SUPPORTED_OPERATION_CODES: report_supported_operation_codes,
                          REPORT_TARGET_PORT_GROUPS: report_target_port_groups}
