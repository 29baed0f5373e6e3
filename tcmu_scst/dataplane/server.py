"""The worker's event loop: one thread serving any number of device rings.

Per wake-up a device's ring is drained completely; plain reads and writes of a memory-backed
disk are served by the ring walk itself when the device's state allows (disk_lane.py), every
other command runs inline when it can (emulated commands, I/O that ``RWF_NOWAIT`` finds in
the page cache) and on an I/O thread when it would block.  Completions are published with
one doorbell per batch.  Other inputs (the worker's control channel) are served by the same
loop between batches, so whatever they change in a device never changes under a command
being executed.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections.abc import Callable
from typing import Protocol

from ..handlers.disk import ScsiDevice, error_outcome
from ..handlers.outcome import DEFERRED_TYPE
from ..uio.ring import Command, Ring, TmrNotice
from .disk_lane import disk_lane
from .io_threads import IoThreads

log = logging.getLogger(__name__)
# Longest stretch of busy polling before the loop looks at its other fds (stop, control).
MAX_POLL_BURST_NS = 10_000_000


class EventSource(Protocol):
    """The kernel side's wake-up fd (a UIO device, or an emulator's eventfd)."""

    def fileno(self) -> int: ...
    def acknowledge(self) -> bool: ...


class DeviceServer:
    """One device: its ring, its SCSI emulation and the fd that says work arrived."""

    def __init__(self, name: str, source: EventSource, ring: Ring, device: ScsiDevice,
                 io: IoThreads):
        self.name = name
        self.source = source
        self.ring = ring
        self.device = device
        self.io = io
        self._python_served = 0
        self.wakeups = 0
        ring.on_tmr = self._on_tmr
        self.lane = disk_lane(device, ring)

    @property
    def commands_served(self) -> int:
        """Commands answered so far, by the fast lane or through the SCSI emulation."""
        return self._python_served + (self.lane.served if self.lane else 0)

    def _on_tmr(self, notice: TmrNotice) -> None:
        log.info("%s: task management %s for commands %s", self.name, notice.tmr_type,
                 list(notice.cmd_ids))

    def service(self, acknowledge: bool = True, flush: bool = True) -> int:
        """Drain the ring: run every new command, then publish what finished; returns how
        many commands were taken.

        ``acknowledge`` consumes the wake-up event first (needed before sleeping again);
        the polling path skips that system call.  ``flush=False`` leaves the doorbell to
        the caller (the polling loop may gather several batches into one).
        """
        if acknowledge:
            self.source.acknowledge()
        ring = self.ring
        execute = self.device.execute
        answer = ring.answer
        if self.lane is None:
            commands = ring.fetch()
            fast = 0
        else:
            commands, fast = self.lane.fetch(ring)
        for command in commands:
            result = execute(command)
            if type(result) is DEFERRED_TYPE:
                try:
                    result = result(True)
                except BlockingIOError:
                    self.io.submit(self, command, result)
                    continue
                except Exception as error:  # every error must become a SCSI response
                    result = error_outcome(error)
            answer(command, result)
        self._python_served += len(commands)
        self.wakeups += 1
        if flush:
            ring.flush()
        return len(commands) + fast

    def finish(self, command: Command, outcome: tuple) -> None:
        self.ring.answer(command, outcome)

    def release(self) -> None:
        """Detach the fast lane, so the device's store can be closed."""
        if self.lane is not None:
            self.ring.attach_lane(None)
            self.lane.release()


class DataPlane:
    """The loop: epoll over every device's fd plus the I/O threads' eventfd."""

    def __init__(self, io: IoThreads, poll_microseconds: int = 0, hold_microseconds: int = 0):
        """``poll_microseconds``: after serving, keep watching the rings that long before
        sleeping.  A sleeping worker pays a full wake-up per command at low queue depth;
        watching briefly catches the initiator's next command without one.

        ``hold_microseconds`` (while watching): gather completions and ring the doorbell
        once for several batches.  Each doorbell costs the kernel a completion pass and the
        initiator a wake-up, and when commands are served faster than they arrive they would
        go back one by one.  Holding starts when one batch brings several commands (the
        initiator keeps a queue) and stops when a hold gathered only the command it started
        with (a queue of one, where waiting is pure latency).  Held completions go out after
        ``hold_microseconds`` without a new command, after four times that in all, or as
        soon as the gathering is as large as the largest lately (the initiator's queue is
        then most likely all here)."""
        self.io = io
        self.poll_ns = poll_microseconds * 1000
        self.hold_ns = hold_microseconds * 1000 if poll_microseconds else 0
        self._holding = False
        self._peak = 2  # largest number of commands gathered by a hold lately
        self._releases = 0
        self.servers: dict[int, DeviceServer] = {}
        self._poller = select.epoll()
        self._poller.register(io.wakeup_fd, select.EPOLLIN)
        self._stop_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._poller.register(self._stop_fd, select.EPOLLIN)
        self._stopping = threading.Event()
        self._readers: dict[int, Callable[[], None]] = {}

    def add_reader(self, fd: int, callback: Callable[[], None]) -> None:
        """Call ``callback`` in the loop whenever ``fd`` is readable or hung up."""
        self._poller.register(fd, select.EPOLLIN)
        self._readers[fd] = callback

    def remove_reader(self, fd: int) -> None:
        if self._readers.pop(fd, None) is not None:
            self._poller.unregister(fd)

    def add(self, server: DeviceServer) -> None:
        fd = server.source.fileno()
        self.servers[fd] = server
        self._poller.register(fd, select.EPOLLIN)
        server.service()  # commands may be waiting already

    def stop(self) -> None:
        """Ask the loop to end (safe from signal handlers and other threads)."""
        self._stopping.set()
        os.eventfd_write(self._stop_fd, 1)

    def _finish_io(self) -> None:
        touched = set()
        for server, command, outcome in self.io.take_finished():
            server.finish(command, outcome)
            touched.add(server)
        for server in touched:
            server.ring.flush()

    def run_once(self, timeout: float | None = None) -> None:
        """Wait for one round of events (at most ``timeout`` seconds) and handle them."""
        active = []
        holding = self._holding
        taken = 0
        for fd, events in self._poller.poll(-1 if timeout is None else timeout):
            if fd == self.io.wakeup_fd:
                self._finish_io()
            elif fd == self._stop_fd:
                continue
            elif fd in self._readers:
                self._readers[fd]()
            elif events & (select.EPOLLERR | select.EPOLLHUP):
                self._drop(fd, "the kernel removed the device")
            else:
                server = self.servers[fd]
                taken += server.service(flush=not holding)
                active.append(server)
        if not holding:
            self._note_batch(taken)
        if active and self.poll_ns:
            self._poll_briefly(active, taken if holding else 0)

    @property
    def holding(self) -> bool:
        """Whether completions are being gathered (see ``hold_microseconds``)."""
        return self._holding

    def _poll_briefly(self, servers: list[DeviceServer], held: int) -> None:
        """Serve new commands on ``servers`` as they appear, until none came for a while
        (and for no more than MAX_POLL_BURST_NS, so stop and control requests are seen).
        ``held``: completions on ``servers`` not yet published (see ``hold_microseconds``)."""
        now = time.monotonic_ns()
        limit = now + MAX_POLL_BURST_NS
        deadline = min(now + self.poll_ns, limit)
        hold = self.hold_ns
        release = now + hold
        release_by = now + 4 * hold
        try:
            while (now := time.monotonic_ns()) < deadline:
                for server in servers:
                    if server.ring.pending():
                        holding = self._holding
                        taken = server.service(acknowledge=False, flush=not holding)
                        now = time.monotonic_ns()
                        deadline = min(now + self.poll_ns, limit)
                        if holding:
                            if not held:
                                release_by = now + 4 * hold
                            held += taken
                            release = now + hold
                        else:
                            self._note_batch(taken)
                if held and (held >= self._peak or now >= release or now >= release_by):
                    self._release(servers, held)
                    held = 0
                if self.io.finished:
                    self._finish_io()
        finally:
            if held:
                self._release(servers, held)

    def _note_batch(self, taken: int) -> None:
        """Start holding when one batch, served without holding, brought several commands:
        the initiator keeps a queue."""
        if taken > 1 and self.hold_ns:
            self._holding = True

    def _release(self, servers: list[DeviceServer], held: int) -> None:
        """Ring the doorbells for ``held`` gathered completions and adapt the holding."""
        for server in servers:
            server.ring.flush()
        if held == 1:
            self._holding = False  # nothing came while we waited: a queue of one
        self._releases += 1
        peak = self._peak - (not self._releases & 31)  # let the peak sink slowly
        self._peak = max(held, peak, 2)

    def run(self) -> None:
        while not self._stopping.is_set():
            self.run_once()
        self._drain()

    def _drain(self) -> None:
        """Finish in-flight I/O so every command fetched gets its answer before exit."""
        while any(server.ring.in_flight for server in self.servers.values()):
            select.select([self.io.wakeup_fd], [], [], 1.0)
            self._finish_io()

    def _drop(self, fd: int, why: str) -> None:
        server = self.servers.pop(fd)
        self._poller.unregister(fd)
        server.release()
        log.warning("%s: stopped serving: %s", server.name, why)

    def close(self) -> None:
        for server in self.servers.values():
            log.info("%s: served %d commands (%d in the fast lane) in %d wake-ups",
                     server.name, server.commands_served,
                     server.lane.served if server.lane else 0, server.wakeups)
            server.release()
        self._poller.close()
        os.close(self._stop_fd)
