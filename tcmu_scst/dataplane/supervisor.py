"""Starts, stops and restarts data-plane worker processes.

Workers are separate processes for crash isolation and to use more than one core.  A worker
that exits without being asked to is restarted with the same devices; its successor resets
the ring (see ``kernel_actions``) so the initiator retries what was in flight and sees no
error.  ``start`` returns only when the worker serves every ring, so LUNs can be linked.

``set_attribute`` changes a device while its worker runs (vcdrom media, ...) over the
worker's control channel (JSON lines on its stdin and stdout, see ``worker``), and records
the new value in the device's spec, so a restarted worker comes back with it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .spec import DeviceSpec, PortRing, ports_to_json, specs_to_json
from .worker import ATTACH, FAILED, OPENED, PORTS_REQUEST, READY

log = logging.getLogger(__name__)

START_TIMEOUT = 30.0
CONTROL_TIMEOUT = 10.0
RESTART_DELAY = 0.1
MAX_RESTART_DELAY = 5.0


# glibc copies 2 KiB and more with `rep movsb`; qemu's TCG runs that instruction a byte at a
# time, so in the VMs this project is measured in, every READ/WRITE copy of a worker costs
# several times what vector moves cost (bench/RESULTS.md: 64 KiB reads 0.65 -> 1.24 of
# tcmu-runner in one run).  On hardware both ways are about equally fast, so the worker
# always copies with vector moves.  Read by glibc at process start: set for the child.
COPY_TUNABLES = ("glibc.cpu.x86_rep_movsb_threshold=1000000000:"
                 "glibc.cpu.x86_rep_stosb_threshold=1000000000")


# the directory this tcmu_scst package was imported from
IMPORT_ROOT = str(Path(__file__).resolve().parents[2])


def worker_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """The worker's environment: ours, plus the copy tunables unless the user set glibc's,
    with our package first on the import path: the worker must run the daemon's own code
    (the daemon's working directory is no guide once it has mounted its tree), not another
    copy the interpreter would find first, whose options and protocol may differ."""
    result = dict(environment)
    result.setdefault("GLIBC_TUNABLES", COPY_TUNABLES)
    path = environment.get("PYTHONPATH")
    result["PYTHONPATH"] = IMPORT_ROOT + (os.pathsep + path if path else "")
    return result


class WorkerStartError(RuntimeError):
    """The worker exited or stayed silent instead of reporting that it serves its rings."""


class DeviceOpenError(OSError):
    """The worker could not open a device (the errno and message are the handler's)."""


# given the devices' effective values (``OPENED``) before the worker attaches to the kernel
OnOpened = Callable[[dict[str, dict[str, str]]], None]


class _Reply:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.answer: dict[str, Any] | None = None  # None: the worker exited first


class WorkerChannel:
    """The supervisor's end of one worker process's stdout and stdin.

    A thread reads everything the worker prints: the start lines (``OPENED``, then
    ``READY``, or why not), then one JSON answer per control request, matched to its
    request by ``id``.
    """

    def __init__(self, process: subprocess.Popen[str]):
        self.process = process
        self.opened_line = ""
        self.opened_line_read = threading.Event()
        self.ready_line = ""
        self.ready_line_read = threading.Event()
        self.closed = False
        self._lock = threading.Lock()
        self._next_id = 1
        self._waiting: dict[int, _Reply] = {}
        threading.Thread(target=self._read, name=f"worker-{process.pid}-stdout",
                         daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        lines = iter(self.process.stdout.readline, "")
        self.opened_line = next(lines, "")
        self.opened_line_read.set()
        if self.opened_line.startswith(OPENED):
            self.ready_line = next(lines, "")
        self.ready_line_read.set()
        for line in lines:
            try:
                answer = json.loads(line)
                request_id = answer["id"]
            except (ValueError, TypeError, KeyError):
                log.error("worker %d said %r on its control channel", self.process.pid, line)
                continue
            with self._lock:
                reply = self._waiting.pop(request_id, None)
            if reply is not None:
                reply.answer = answer
                reply.done.set()
        with self._lock:
            self.closed = True
            waiting, self._waiting = self._waiting, {}
            for pipe in (self.process.stdin, self.process.stdout):
                with contextlib.suppress(OSError):
                    pipe.close()  # type: ignore[union-attr]
        for reply in waiting.values():
            reply.done.set()

    def request(self, device: str, name: str, value: str, timeout: float) -> None:
        """Set ``name`` of ``device`` to ``value`` in the worker; OSError(errno) if refused."""
        reply = _Reply()
        with self._lock:
            if self.closed:
                raise OSError(errno.EAGAIN, "the worker is restarting")
            request_id = self._next_id
            self._next_id += 1
            self._waiting[request_id] = reply
            line = json.dumps({"id": request_id, "device": device, "set": name, "value": value})
            try:
                assert self.process.stdin is not None
                self.process.stdin.write(line + "\n")
                self.process.stdin.flush()
            except (OSError, ValueError) as error:
                self._waiting.pop(request_id, None)
                raise OSError(errno.EAGAIN, f"the worker is not listening: {error}") from None
        if not reply.done.wait(timeout):
            with self._lock:
                self._waiting.pop(request_id, None)
            raise OSError(errno.ETIMEDOUT, f"the worker did not answer within {timeout:g} s")
        answer = reply.answer
        if answer is None:
            raise OSError(errno.EIO, "the worker exited before answering")
        if not answer.get("ok"):
            raise OSError(answer.get("errno") or errno.EIO, answer.get("message", "refused"))


@dataclass
class Worker:
    key: str
    specs: list[DeviceSpec]
    process: subprocess.Popen[str] | None = None
    restarts: int = 0
    stopping: bool = False
    started: threading.Event = field(default_factory=threading.Event)
    channel: WorkerChannel | None = None  # the running process's, once it said READY
    # each device's effective attribute values, as the worker last reported them
    facts: dict[str, dict[str, str]] = field(default_factory=dict)
    # set by the watch thread the moment the process is reaped: stop() waits on it rather
    # than polling (Popen.wait with a timeout polls, up to 50 ms late, while another
    # thread's wait() holds the process)
    exited: threading.Event = field(default_factory=threading.Event)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None


class Supervisor:
    def __init__(self, worker_command: list[str] | None = None, io_threads: int = 4,
                 start_timeout: float = START_TIMEOUT, poll_microseconds: int | None = None,
                 copy_reach: str | None = None):
        """``worker_command`` replaces the worker program (tests use a stand-in);
        ``copy_reach`` is the daemon's copy manager directory (handlers/copy_reach)."""
        self.worker_command = worker_command or [sys.executable, "-m",
                                                 "tcmu_scst.dataplane.worker"]
        self.io_threads = io_threads
        self.poll_microseconds = poll_microseconds
        self.copy_reach = copy_reach
        self.start_timeout = start_timeout
        self.workers: dict[str, Worker] = {}
        self._lock = threading.Lock()

    def _spawn(self, worker: Worker, on_opened: OnOpened | None = None) -> None:
        """Start the worker's process and wait until it serves: ``on_opened`` (the first
        start) gets the devices' values between the opening and the attaching, to make
        the kernel's backstores; DeviceOpenError when a device cannot be opened."""
        command = [*self.worker_command, "--specs", specs_to_json(worker.specs),
                   "--io-threads", str(self.io_threads)]
        if self.poll_microseconds is not None:
            command += ["--poll-us", str(self.poll_microseconds)]
        if self.copy_reach is not None:
            command += ["--copy-reach", self.copy_reach]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stdin=subprocess.PIPE,
                                   text=True, env=worker_environment(os.environ))
        worker.process = process
        channel = WorkerChannel(process)
        try:
            worker.facts = self._opened(worker, channel)
            if on_opened is not None:
                on_opened(worker.facts)
            assert process.stdin is not None
            process.stdin.write(ATTACH + "\n")
            process.stdin.flush()
            channel.ready_line_read.wait(self.start_timeout)
            if channel.ready_line.strip() != READY:
                raise WorkerStartError(
                    f"worker for {worker.key} opened its devices but did not serve them "
                    f"(said {channel.ready_line!r}); its log is on stderr")
        except BaseException:
            process.kill()
            process.wait()
            raise
        worker.channel = channel

    def _opened(self, worker: Worker, channel: WorkerChannel) -> dict[str, dict[str, str]]:
        """The ``OPENED`` report: each device's effective values."""
        channel.opened_line_read.wait(self.start_timeout)
        word, _, rest = channel.opened_line.strip().partition(" ")
        try:
            report = json.loads(rest) if word in (OPENED, FAILED) else None
        except ValueError:
            report = None
        if word == FAILED and isinstance(report, dict):
            raise DeviceOpenError(int(report.get("errno") or errno.EIO),
                                  str(report.get("message", "the device cannot be opened")))
        if word != OPENED or not isinstance(report, dict):
            channel.process.poll()
            raise WorkerStartError(
                f"worker for {worker.key} did not start (exit {channel.process.returncode}, "
                f"said {channel.opened_line!r}); its log is on stderr")
        return report

    def start(self, key: str, specs: list[DeviceSpec],
              on_opened: OnOpened | None = None) -> Worker:
        """Start a worker serving ``specs`` and wait until it serves them all
        (``on_opened``: see ``_spawn``)."""
        with self._lock:
            if key in self.workers:
                raise ValueError(f"a worker named {key} already runs")
            worker = Worker(key, list(specs))
            self.workers[key] = worker
        try:
            self._spawn(worker, on_opened)
        except BaseException:
            with self._lock:
                self.workers.pop(key, None)
            raise
        threading.Thread(target=self._watch, args=(worker,), name=f"watch-{key}",
                         daemon=True).start()
        return worker

    def _watch(self, worker: Worker) -> None:
        delay = RESTART_DELAY
        while True:
            process = worker.process
            assert process is not None
            returncode = process.wait()
            worker.exited.set()
            if worker.stopping:
                return
            log.error("worker %s (pid %d) died with %d; restarting", worker.key, process.pid,
                      returncode)
            while not worker.stopping:
                time.sleep(delay)
                worker.exited.clear()
                try:
                    self._spawn(worker)
                except (OSError, WorkerStartError) as error:
                    log.error("restart of worker %s failed: %s", worker.key, error)
                    delay = min(delay * 2, MAX_RESTART_DELAY)
                    continue
                worker.restarts += 1
                delay = RESTART_DELAY
                log.info("worker %s restarted as pid %d", worker.key, worker.pid)
                break
            if worker.stopping:
                return

    def set_attribute(self, device: str, name: str, value: str,
                      timeout: float = CONTROL_TIMEOUT) -> None:
        """Change attribute ``name`` of a served device (as a write of its sysfs file would).

        Waits for the worker's answer and raises OSError with the worker's errno when it
        refuses (EBUSY, ENOENT, EINVAL...), ENODEV for a device no worker serves, EAGAIN
        while its worker restarts, ETIMEDOUT when it does not answer.  A change that took
        effect is also recorded in the device's spec, for the worker's successors.
        """
        worker = self._worker_of(device)
        channel = worker.channel
        if channel is None or worker.stopping or channel.process is not worker.process:
            raise OSError(errno.EAGAIN, f"the worker serving {device} is restarting")
        channel.request(device, name, value, timeout)
        with self._lock:
            worker.specs = [replace(spec, params={**spec.params, name: value})
                            if spec.name == device else spec for spec in worker.specs]

    def set_ports(self, device: str, ports: tuple[PortRing, ...],
                  timeout: float = CONTROL_TIMEOUT) -> None:
        """Make the worker serving ``device`` serve exactly these port rings (ALUA)."""
        self._set_recorded(device, PORTS_REQUEST, ports_to_json(ports),
                           lambda spec: replace(spec, ports=ports), timeout)

    def set_state(self, device: str, name: str, value: str,
                  timeout: float = CONTROL_TIMEOUT) -> None:
        """Like :meth:`set_attribute` for state the daemon owns (a device's ALUA view): a
        worker that is restarting gets it from its spec instead of refusing."""
        self._set_recorded(device, name, value,
                           lambda spec: replace(spec, params={**spec.params, name: value}),
                           timeout)

    def _set_recorded(self, device: str, name: str, value: str,
                      change: Callable[[DeviceSpec], DeviceSpec], timeout: float) -> None:
        """Record the change in the spec first, so that a worker restarting meanwhile comes
        back with it, then tell the running worker; OSError (and the record undone) when
        the running worker refuses."""
        worker = self._worker_of(device)
        with self._lock:
            old = worker.specs
            worker.specs = [change(spec) if spec.name == device else spec
                            for spec in worker.specs]
        channel = worker.channel
        if channel is None or worker.stopping or channel.process is not worker.process:
            log.info("worker of %s is restarting: its successor gets %s from its spec",
                     device, name)
            return
        try:
            channel.request(device, name, value, timeout)
        except OSError:
            with self._lock:
                worker.specs = old
            raise

    def _worker_of(self, device: str) -> Worker:
        with self._lock:
            worker = next((w for w in self.workers.values()
                           if any(spec.name == device for spec in w.specs)), None)
        if worker is None:
            raise OSError(errno.ENODEV, f"no worker serves {device}")
        return worker

    def stop(self, key: str, timeout: float = 30.0) -> None:
        """SIGTERM the worker (it finishes in-flight commands), SIGKILL after ``timeout``."""
        with self._lock:
            worker = self.workers.pop(key)
        worker.stopping = True
        process = worker.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        if not worker.exited.wait(timeout) and process.poll() is None:
            log.error("worker %s ignored SIGTERM for %.0f s; killing it", key, timeout)
            process.kill()
        process.wait()

    def stop_all(self) -> None:
        for key in list(self.workers):
            self.stop(key)
