"""The D-Bus announcement of our handlers, on a private dbus-daemon, asked the way targetcli
asks (its own ``_user_backstores`` code, run by Debian's Python with GLib's Gio)."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcmu_scst.daemon.dbus_announce import SERVICE, HandlerAnnouncer

SYSTEM_PYTHON = "/usr/bin/python3"
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
    <allow receive_type="method_return"/>
    <allow receive_type="signal"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
"""


def targetcli_available() -> bool:
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import gi, targetcli.ui_backstore"],
                           capture_output=True, check=False) if os.path.exists(SYSTEM_PYTHON) else None
    return probe is not None and probe.returncode == 0


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[str]:
    if shutil.which("dbus-daemon") is None:
        pytest.skip("no dbus-daemon")
    socket = tmp_path / "bus"
    config = tmp_path / "bus.conf"
    config.write_text(BUS_CONFIG.format(socket=socket))
    daemon = subprocess.Popen(["dbus-daemon", f"--config-file={config}", "--nofork"],
                              stderr=subprocess.DEVNULL)  # it complains about fd limits here
    deadline = time.monotonic() + 10
    while not socket.exists():
        assert time.monotonic() < deadline, "dbus-daemon did not start"
        time.sleep(0.05)
    try:
        yield f"unix:path={socket}"
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


def ask_like_targetcli(address: str) -> str:
    """What targetcli's handler discovery finds, printed one handler a line."""
    script = textwrap.dedent("""
        from targetcli.ui_backstore import UIBackstores
        for name, iface, properties in UIBackstores._user_backstores(None):
            desc = properties["org.kernel.TCMUService1"]["ConfigDesc"]
            ok, message = iface.CheckConfig("(s)", name + "/x")
            print(name, "|", desc, "|", ok, "|", message)
    """)
    result = subprocess.run([SYSTEM_PYTHON, "-c", script], capture_output=True, text=True,
                            timeout=60, check=False,
                            env={**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": address})
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.skipif(not targetcli_available(), reason="targetcli-fb / python3-gi not installed")
def test_targetcli_finds_our_handlers_and_cannot_create_behind_our_back(bus: str) -> None:
    announcer = HandlerAnnouncer(["vdisk_fileio", "vcdrom"], "/run/scst_tgt", bus=bus)
    announcer.start()
    assert announcer.wait()
    try:
        lines = ask_like_targetcli(bus).splitlines()
    finally:
        announcer.stop()
    assert [line.split(" | ")[0] for line in lines] == ["vcdrom", "vdisk_fileio"]
    _, description, ok, message = lines[1].split(" | ")
    assert "/run/scst_tgt/handlers/vdisk_fileio/mgmt" in description
    assert ok == "False" and "/run/scst_tgt/handlers/vdisk_fileio/mgmt" in message


def test_second_owner_steps_aside(bus: str) -> None:
    first = HandlerAnnouncer(["vdisk_fileio"], "/run/scst_tgt", bus=bus)
    second = HandlerAnnouncer(["vdisk_nullio"], "/run/scst_tgt", bus=bus)
    first.start()
    assert first.wait()
    try:
        second.start()
        assert not second.wait()  # tcmu-runner's place, say: the daemon goes on without
    finally:
        first.stop()


def test_no_bus_is_not_an_error(tmp_path: Path) -> None:
    announcer = HandlerAnnouncer(["vdisk_fileio"], "/run/scst_tgt",
                                 bus=f"unix:path={tmp_path}/absent")
    announcer.start()
    assert not announcer.wait()
    assert SERVICE == "org.kernel.TCMUService1"
