"""Drive one SCSI device through the RingEmulator, one CDB at a time, as the worker would."""

from __future__ import annotations

from tcmu_scst.handlers.disk import ScsiDevice, error_outcome
from tcmu_scst.handlers.outcome import DEFERRED_TYPE
from tcmu_scst.testing.ring_emulator import Completion, RingEmulator


class Harness:
    """Send one CDB, run it as the worker would (blocking I/O inline), return what came back."""

    def __init__(self, device: ScsiDevice):
        self.device = device
        self.emulator = RingEmulator(scatter=True, seed=3)
        self.ring = self.emulator.ring()

    def __call__(self, cdb: bytes, data_out: bytes = b"", data_in_length: int = 0) -> Completion:
        self.emulator.submit(cdb, data_out=data_out, data_in_length=data_in_length)
        [command] = self.ring.fetch()
        result = self.device.execute(command)
        if type(result) is DEFERRED_TYPE:
            try:
                result = result(False)
            except Exception as error:  # the worker turns these into sense, so do we
                result = error_outcome(error)
        command.complete(*result)
        self.ring.flush()
        [completion] = self.emulator.reap()
        return completion

    def close(self) -> None:
        self.emulator.close()


def sense_of(completion: Completion) -> tuple[int, int, int]:
    assert completion.status == 0x02
    return completion.sense[2] & 0xF, completion.sense[12], completion.sense[13]
