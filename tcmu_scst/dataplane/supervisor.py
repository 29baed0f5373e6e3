"""Starts, stops and restarts data-plane worker processes.

Workers are separate processes for crash isolation and to use more than one core.  A worker
that exits without being asked to is restarted with the same devices; its successor resets
the ring (see ``kernel_actions``) so the initiator retries what was in flight and sees no
error.  ``start`` returns only when the worker serves every ring, so LUNs can be linked.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from .spec import DeviceSpec, specs_to_json
from .worker import READY

log = logging.getLogger(__name__)

START_TIMEOUT = 30.0
RESTART_DELAY = 0.1
MAX_RESTART_DELAY = 5.0


class WorkerStartError(RuntimeError):
    """The worker exited or stayed silent instead of reporting that it serves its rings."""


@dataclass
class Worker:
    key: str
    specs: list[DeviceSpec]
    process: subprocess.Popen[str] | None = None
    restarts: int = 0
    stopping: bool = False
    started: threading.Event = field(default_factory=threading.Event)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None


class Supervisor:
    def __init__(self, worker_command: list[str] | None = None, io_threads: int = 4,
                 start_timeout: float = START_TIMEOUT, poll_microseconds: int | None = None):
        """``worker_command`` replaces the worker program (tests use a stand-in)."""
        self.worker_command = worker_command or [sys.executable, "-m",
                                                 "tcmu_scst.dataplane.worker"]
        self.io_threads = io_threads
        self.poll_microseconds = poll_microseconds
        self.start_timeout = start_timeout
        self.workers: dict[str, Worker] = {}
        self._lock = threading.Lock()

    def _spawn(self, worker: Worker) -> None:
        command = [*self.worker_command, "--specs", specs_to_json(worker.specs),
                   "--io-threads", str(self.io_threads)]
        if self.poll_microseconds is not None:
            command += ["--poll-us", str(self.poll_microseconds)]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                   text=True)
        worker.process = process
        assert process.stdout is not None
        line = _read_line_with_timeout(process, self.start_timeout)
        if line.strip() != READY:
            process.kill()
            process.wait()
            raise WorkerStartError(
                f"worker for {worker.key} did not start (exit {process.returncode}, "
                f"said {line!r}); its log is on stderr"
            )

    def start(self, key: str, specs: list[DeviceSpec]) -> Worker:
        """Start a worker serving ``specs`` and wait until it serves them all."""
        with self._lock:
            if key in self.workers:
                raise ValueError(f"a worker named {key} already runs")
            worker = Worker(key, list(specs))
            self.workers[key] = worker
        try:
            self._spawn(worker)
        except Exception:
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
            if worker.stopping:
                return
            log.error("worker %s (pid %d) died with %d; restarting", worker.key, process.pid,
                      returncode)
            while not worker.stopping:
                time.sleep(delay)
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

    def stop(self, key: str, timeout: float = 30.0) -> None:
        """SIGTERM the worker (it finishes in-flight commands), SIGKILL after ``timeout``."""
        with self._lock:
            worker = self.workers.pop(key)
        worker.stopping = True
        process = worker.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.error("worker %s ignored SIGTERM for %.0f s; killing it", key, timeout)
            process.kill()
            process.wait()

    def stop_all(self) -> None:
        for key in list(self.workers):
            self.stop(key)


def _read_line_with_timeout(process: subprocess.Popen[str], timeout: float) -> str:
    """First stdout line of ``process``, or '' if it exits or stays silent for ``timeout``."""
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(process.stdout.readline()),  # type: ignore[union-attr]
                              daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0] if result else ""
