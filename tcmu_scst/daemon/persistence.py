"""The daemon's configuration file: every successful change saved, restored at start.

After each write through the tree that succeeded, a saver thread reads the tree into the
scst.conf model exactly as ``tcmu-scst-admin -write_config`` does and replaces the file
atomically (0600 when it holds CHAP secrets).  At start, before the tree is mounted, the
file is applied with the config tool's apply logic, so a restart brings back the same
devices, LUNs, groups, identities and enabled states.

The tree is reached in-process (:class:`~tcmu_scst.config.in_process.InProcessAccess`), never
through the FUSE mount: the write being served holds the tree's lock, and a read through
the mount from the daemon itself would wait for it.  A save must not stop the tree for its
readers either: reading a thousand devices and targets takes seconds.  So it reads piece by
piece, each piece under the tree's lock, and keeps what it read only if the tree's
``generation`` (one more after every change) was the same before and after: then it saw the
tree between two commands, never in the middle of one.  If a change came meanwhile, the
burst goes on: it tries again at its next pause, and reads holding ``commands`` (no change
can come, readers still get in) only once the oldest unsaved change has waited
``LAG_LIMIT_SECONDS``, so that a stream of changes that never pauses is saved too, and
commands are not held up behind a save at every turn of a long burst.  Formatting and
writing the file happen outside both locks.

A save costs the daemon's CPU in proportion to the configuration, so a burst of writes (a
``-config`` of thousands) is saved once it pauses for ``debounce`` seconds, or, if it goes
on, at most every ``SAVE_SPACING`` times as long as the last save took (at least every
``MAX_DELAY_SECONDS``): the file lags a long burst a little, the daemon does not spend its
time saving intermediate states.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time

from ..compat_sysfs.scst import ScstTree
from ..config.apply import Applier
from ..config.files import has_secrets, save_atomically
from ..config.in_process import InProcessAccess
from ..config.model import ScstConfig
from ..config.running import read_running
from ..config.scst_conf import ConfigError, format_config, parse_file
from ..config.sysfs import ScstSysfs
from .lio_realizer import HBA_BASE
from .stale import clean_stale

log = logging.getLogger(__name__)
DEFAULT_CONFIG = "/var/lib/tcmu-scst/scst.conf"
DEBOUNCE_SECONDS = 0.2  # a pause this long ends a burst of writes
MAX_DELAY_SECONDS = 1.0  # a burst that goes on is saved at least this often ...
SAVE_SPACING = 8.0  # ... or, when saves are slow, this many times the last save's duration
LAG_LIMIT_SECONDS = 30.0  # past this, a change is saved holding commands back for the read
HEADER = "# Saved by tcmu-scstd after every change; restored at start. scst.conf format."


class Persistence:
    def __init__(self, tree: ScstTree, path: str, debounce: float = DEBOUNCE_SECONDS):
        self.tree = tree
        self.path = path
        self.debounce = debounce
        self.sysfs = ScstSysfs("/", access=InProcessAccess(tree))
        self._changed = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_text: str | None = None
        self._paused = False
        self._last_save_seconds = 0.0
        # changes flagged so far and changes covered by a finished save (for settle())
        self._progress = threading.Condition()
        self._flagged = 0
        self._covered = 0
        self._unsaved_since: float | None = None  # when the oldest unsaved change came

    # -- start -----------------------------------------------------------------------------

    def saved_target_names(self) -> set[str]:
        """Target names in the saved file (their LIO leftovers are ours to clear)."""
        try:
            config = parse_file(self.path)
        except ConfigError:
            return set()
        return {name for driver in config.drivers.values() for name in driver.targets}

    def restore(self) -> bool:
        """Apply the saved file to the (empty) tree; False if anything could not be restored.

        Every restorable object is restored even when some fail (a backing file gone, say);
        the file is then kept as ``<file>.restore-failed`` before it is next overwritten.
        """
        if not os.path.exists(self.path):
            log.info("no saved configuration at %s; starting empty", self.path)
            return True
        self._paused = True
        try:
            config = parse_file(self.path)
            applier = Applier(self.sysfs, continue_on_error=True,
                              log=lambda line: log.debug("restore: %s", line))
            with self.tree.commands:  # one management step, as a command is
                applier.apply(config, self.path)
        except (ConfigError, OSError) as error:
            log.error("cannot restore %s: %s", self.path, error)
            self._keep_failed()
            return False
        finally:
            self._paused = False
        for warning in applier.warnings:
            log.warning("restore: %s", warning)
        if applier.errors:
            for error in applier.errors:
                log.error("restore: %s", error)
            self._keep_failed()
            return False
        log.info("restored %s (%d writes)", self.path, len(applier.writes))
        return True

    def _keep_failed(self) -> None:
        kept = f"{self.path}.restore-failed"
        try:
            shutil.copy2(self.path, kept)
            os.chmod(kept, 0o600)
            log.error("the configuration that failed to restore is kept as %s", kept)
        except OSError as error:
            log.error("cannot keep a copy of %s: %s", self.path, error)

    # -- saving ----------------------------------------------------------------------------

    def start(self) -> None:
        """Save after every successful write through the tree from now on."""
        self.tree.on_change = self.changed
        self._thread = threading.Thread(target=self._run, name="scst-conf-saver", daemon=True)
        self._thread.start()

    def changed(self, _path: str = "") -> None:
        """Called by the tree after a write succeeded (under its lock: only flag it)."""
        if not self._paused:
            with self._progress:
                self._flagged += 1
                if self._unsaved_since is None:
                    self._unsaved_since = time.monotonic()
            self._changed.set()

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until every change flagged before this call is saved (False on timeout).

        For callers that must see the file after their writes (benchmarks, tests) without
        guessing how long the debounce and the save take.
        """
        with self._progress:
            wanted = self._flagged
            return self._progress.wait_for(lambda: self._covered >= wanted, timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            if not self._changed.wait(0.5):
                continue
            self._wait_for_pause()
            self._save_flagged()

    def _wait_for_pause(self) -> None:
        """Until no change came for ``debounce`` seconds, or the burst has gone on long
        enough that the file should catch up (see the module's docstring)."""
        started = time.monotonic()
        limit = max(MAX_DELAY_SECONDS, SAVE_SPACING * self._last_save_seconds)
        while True:
            self._changed.clear()
            if self._stopping.wait(self.debounce) or not self._changed.is_set():
                return
            if time.monotonic() - started >= limit:
                return

    def _save_flagged(self) -> None:
        """Save, and tell :meth:`settle` which changes that save covers."""
        self._changed.clear()
        with self._progress:
            covering = self._flagged
        if not self.save(force=self._stopping.is_set()):
            self._changed.set()  # the burst went on: at its next pause
            return
        with self._progress:
            self._covered = max(self._covered, covering)
            if self._flagged == covering:
                self._unsaved_since = None
            self._progress.notify_all()

    def read(self, force: bool = True) -> ScstConfig | None:
        """The tree's configuration, as of one moment between two changes; None when a
        change came during the read, unless ``force`` or the oldest unsaved change has
        waited ``LAG_LIMIT_SECONDS`` (then it reads again with commands held back)."""
        before = self.tree.generation
        config, _ = read_running(self.sysfs)
        with self.tree.lock:
            if self.tree.generation == before:
                return config
        since = self._unsaved_since
        if not force and since is not None and time.monotonic() - since < LAG_LIMIT_SECONDS:
            return None
        with self.tree.commands:  # changes wait for this read; readers do not
            return read_running(self.sysfs)[0]

    def save(self, force: bool = True) -> bool:
        """Save the tree now; False when ``force`` is not given and the tree changed while
        it was read (see :meth:`read`): nothing was written."""
        started = time.monotonic()
        try:
            config = self.read(force)
            if config is None:
                log.debug("the tree changed while it was read; saving at the next pause")
                return False
            text = format_config(config, header=HEADER, keep_empty=True)
            if text != self._last_text:
                save_atomically(self.path, text, has_secrets(config))
                self._last_text = text
                log.debug("configuration saved to %s", self.path)
        except OSError as error:
            log.error("cannot save the configuration to %s: %s", self.path, error)
        finally:
            self._last_save_seconds = time.monotonic() - started
        return True

    def stop(self) -> None:
        """Stop saving; a change not yet saved is saved now."""
        self.tree.on_change = None
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        if self._changed.is_set():
            self._save_flagged()


def clear_leftovers(configfs: str, persistence: Persistence | None) -> None:
    """Before restoring: remove what a killed predecessor left in LIO (see ``stale``)."""
    names = persistence.saved_target_names() if persistence else set()
    removed = clean_stale(configfs, HBA_BASE, names)
    if removed:
        log.warning("removed what a previous daemon left behind: %s", ", ".join(removed))
