"""Opcodes whose meaning depends on a service action in CDB byte 1 (SERVICE ACTION IN(16),
MAINTENANCE IN, RECEIVE COPY RESULTS...).

The dispatcher keeps its table visible so REPORT SUPPORTED OPERATION CODES can list every
service action from the same table that executes them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .sense import invalid_field_in_cdb

if TYPE_CHECKING:
    from ..uio.ring import Command

SERVICE_ACTION_MASK = 0x1F


class ServiceActionDispatcher:
    """Calls the function registered for the CDB's service action."""

    def __init__(self, table: dict[int, Callable[[Any, Command], Any]]):
        self.service_actions = table

    def __call__(self, device: Any, command: Command) -> Any:
        function = self.service_actions.get(command.cdb[1] & SERVICE_ACTION_MASK)
        if function is None:
            raise invalid_field_in_cdb(1, 4)
        return function(device, command)
