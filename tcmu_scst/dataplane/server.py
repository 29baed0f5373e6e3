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
from collections.abc import Callable
from typing import Protocol

from ..handlers.disk import ScsiDevice, error_outcome
from ..handlers.outcome import DEFERRED_TYPE
from ..uio.ring import Command, Ring, TmrNotice
from ..uio.watch import ENTRY, IO, PUBLISH, RingWatch
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
        watching briefly catches the initiator's next command without one.  The watching
        runs in compiled code (uio/watch.py), which also serves the fast lane's commands.

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
        hold_ns = hold_microseconds * 1000 if poll_microseconds else 0
        self._watch = RingWatch(self.poll_ns, hold_ns, io.finished_count)
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

    def remove(self, server: DeviceServer) -> None:
        """Stop serving ``server`` (its ring is idle: the daemon unlinked its LUNs)."""
        fd = server.source.fileno()
        if self.servers.pop(fd, None) is not None:
            self._poller.unregister(fd)
            self._watch.forget()
            server.release()

    def stop(self) -> None:
        """Ask the loop to end (safe from signal handlers and other threads)."""
        self._stopping.set()
        os.eventfd_write(self._stop_fd, 1)

    def _finish_io(self) -> None:
        self._watch.taking_io()
        touched = set()
        for server, command, outcome in self.io.take_finished():
            server.finish(command, outcome)
            touched.add(server)
        for server in touched:
            server.ring.flush()

    def run_once(self, timeout: float | None = None) -> None:
        """Wait for one round of events (at most ``timeout`` seconds) and handle them."""
        active = []
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
                taken += server.service(flush=False)
                active.append(server)
        if not active:
            return
        if not self.poll_ns:  # no watching, hence no holding: publish at once
            for server in active:
                server.ring.flush()
            return
        self._watch.begin([server.ring for server in active], MAX_POLL_BURST_NS)
        if self._watch.note(taken):
            for server in active:
                server.ring.flush()
        self._watch_briefly(active)

    @property
    def holding(self) -> bool:
        """Whether completions are being gathered (see ``hold_microseconds``)."""
        return self._watch.holding

    def _watch_briefly(self, servers: list[DeviceServer]) -> None:
        """Serve new commands on ``servers`` as they appear, until none came for a while
        (and for no more than MAX_POLL_BURST_NS, so stop and control requests are seen).
        The looking, the fast lane and the holding are compiled (uio/watch.py); Python runs
        for the commands the lane leaves to it."""
        watch = self._watch
        lanes = [server.lane for server in servers if server.lane is not None]
        try:
            while True:
                locks = [lane.open() for lane in lanes]
                try:
                    reason = watch.wait()
                finally:
                    for lane, locked in zip(lanes, locks, strict=True):
                        lane.close(locked)
                if reason == ENTRY:
                    server = servers[watch.ring_index]
                    if watch.note(server.service(acknowledge=False, flush=False)):
                        server.ring.flush()
                elif reason == PUBLISH:
                    for server in servers:
                        server.ring.flush()
                elif reason == IO:
                    self._finish_io()
                else:
                    break
        finally:
            if watch.held:
                watch.release()
                for server in servers:
                    server.ring.flush()

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
        self._watch.forget()
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
