"""``tcmu-scstd``: serve the SCST tree on FUSE, realised in LIO, until SIGTERM.

Start-up: the realizer attaches to LIO configfs (and our workers), the tree is mounted
(default ``/run/scst_tgt``; userspace cannot create ``/sys/kernel/scst_tgt``), systemd is told
we are ready.  Our handlers are announced on D-Bus where targetcli looks for user
backstores (``dbus_announce``).  The udev watcher (``tcmu_scst.udev``) follows the block
devices behind ``vdisk_blockio`` devices and, with ``--hotplug-config``, exports matching
disks.
SIGTERM or SIGINT: unmount first (no new commands), then remove every LIO object the daemon
made and stop the workers, in reverse order of creation, so the kernel is left as it was
found.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading

from ..compat_sysfs.fuse_mount import mount
from ..compat_sysfs.kernel_log import KernelLog
from ..compat_sysfs.scst import ScstSystem
from ..dataplane.spec import DEFAULT_CONFIGFS
from ..handlers.registry import handler_names
from ..udev.policy import load_config
from ..udev.watcher import HotplugWatcher
from .dbus_announce import HandlerAnnouncer
from .lio_realizer import LioRealizer
from .persistence import DEFAULT_CONFIG, Persistence, clear_leftovers
from .stale import release_dead_mount

log = logging.getLogger("tcmu_scst.daemon")
DEFAULT_MOUNTPOINT = "/run/scst_tgt"
DEFAULT_COPY_REACH = "/run/tcmu-scst/copy-reach"


def notify_systemd(state: str) -> None:
    """sd_notify without libsystemd: one datagram to $NOTIFY_SOCKET, if systemd gave one."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as connection:
        connection.sendto(state.encode(), address)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tcmu-scstd", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mountpoint", default=DEFAULT_MOUNTPOINT,
                        help=f"where the SCST tree appears (default {DEFAULT_MOUNTPOINT})")
    parser.add_argument("--configfs", default=str(DEFAULT_CONFIGFS),
                        help="LIO configfs root (default %(default)s)")
    parser.add_argument("--hotplug-config", metavar="FILE",
                        help="udev hotplug settings and auto-export rules (TOML; see "
                             "tcmu_scst.udev.policy)")
    parser.add_argument("--no-hotplug", action="store_true",
                        help="do not follow block devices with udev")
    parser.add_argument("--config", default=DEFAULT_CONFIG, metavar="FILE",
                        help="scst.conf saved after every change and restored at start "
                             "(default %(default)s)")
    parser.add_argument("--no-config", action="store_true",
                        help="neither restore nor save a configuration")
    parser.add_argument("--copy-reach", default=DEFAULT_COPY_REACH, metavar="DIR",
                        help="where the workers learn which devices EXTENDED COPY may use "
                             "(the copy manager; default %(default)s)")
    parser.add_argument("--no-dbus", action="store_true",
                        help="do not announce our handlers to targetcli on the system bus")
    parser.add_argument("--log-level", default="INFO",
                        choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return parser.parse_args(argv)


def hotplug_watcher(system: ScstSystem, arguments: argparse.Namespace) -> HotplugWatcher | None:
    """The udev watcher (not started yet), or None when switched off or when libudev is
    missing; a broken configuration file is an error (the administrator asked for
    something).  Made before the configuration is restored, so that it follows the
    restored devices too."""
    if arguments.no_hotplug:
        return None
    config = load_config(arguments.hotplug_config) if arguments.hotplug_config else None
    try:
        return HotplugWatcher(system, config)
    except (ImportError, OSError) as error:
        log.warning("udev hotplug unavailable, block devices are not followed: %s", error)
        return None


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    logging.basicConfig(level=arguments.log_level, stream=sys.stderr,
                        format="%(asctime)s %(name)s: %(levelname)s: %(message)s")
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    realizer = LioRealizer(configfs=arguments.configfs, copy_reach=arguments.copy_reach)
    system = ScstSystem(realizer)
    persistence = None if arguments.no_config else Persistence(system.tree, arguments.config)
    watcher = hotplug_watcher(system, arguments)
    try:
        clear_leftovers(arguments.configfs, persistence)
        if persistence is not None:
            persistence.restore()  # before the mount: nobody sees a half-restored tree
        release_dead_mount(arguments.mountpoint)
        os.makedirs(arguments.mountpoint, exist_ok=True)
        handle = mount(system.tree, arguments.mountpoint, kernel_log=KernelLog())
    except BaseException:
        realizer.shutdown()
        raise
    if persistence is not None:
        persistence.start()
    log.info("SCST tree mounted on %s (LIO configfs %s)", arguments.mountpoint,
             arguments.configfs)
    announcer = None
    if not arguments.no_dbus:
        announcer = HandlerAnnouncer(handler_names(), arguments.mountpoint)
        announcer.start()
    try:
        if watcher is not None:
            watcher.start()
        notify_systemd("READY=1")
        while not stopping.wait(1.0):
            pass
    finally:
        notify_systemd("STOPPING=1")
        log.info("stopping: unmounting %s, removing the LIO objects", arguments.mountpoint)
        if watcher is not None:
            watcher.stop()
        if announcer is not None:
            announcer.stop()
        handle.unmount()
        if persistence is not None:
            persistence.stop()
        realizer.shutdown()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
