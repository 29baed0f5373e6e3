"""tcmu-scst-shell in a real terminal (tmux): readline's TAB completes a parameter name and a
device name, a double TAB lists the parameters, and the screen shows what the user sees."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tcmu_scst.config.sysfs import ScstSysfs

from .scst_mount import MountedScst

IQN = "iqn.2006-10.net.vlnb:tgt"


class Tmux:
    """One tmux server (own socket) running one pane."""

    def __init__(self, socket: str, command: list[str]):
        self.socket = socket
        self.tmux("new-session", "-d", "-s", "shell", "-x", "150", "-y", "50",
                  " ".join(command))

    def tmux(self, *arguments: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *arguments], check=True,
                              capture_output=True, text=True, timeout=30).stdout

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "shell", *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "shell", "-l", text)

    def enter(self, line: str) -> None:
        self.type(line)
        self.keys("Enter")

    def screen(self) -> str:
        # trailing blanks are not kept: a completion's space shows only once text follows
        return self.tmux("capture-pane", "-p", "-J", "-t", "shell", "-S", "-300")

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not on screen:\n{screen}")
            time.sleep(0.1)

    def alive(self) -> bool:
        return subprocess.run(["tmux", "-L", self.socket, "has-session", "-t", "shell"],
                              capture_output=True, check=False).returncode == 0

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True,
                       check=False)


@pytest.mark.skipif(not shutil.which("tmux"), reason="tmux is not installed (apt-get install tmux)")
def test_tab_completion_in_a_real_terminal(tree: MountedScst, tmp_path: Path) -> None:
    disk = tmp_path / "disk2"
    disk.write_bytes(bytes(1 << 20))
    sysfs = ScstSysfs(tree.root)
    sysfs.write("targets/iscsi/mgmt", f"add_target {IQN}")
    command = [sys.executable, "-m", "tcmu_scst.shell.cli", "--root", str(tree.root),
               "--prefs-dir", str(tmp_path / "prefs")]
    terminal = Tmux(f"tcmu-scst-shell-test-{os.getpid()}", command)
    try:
        terminal.wait_for("/>")
        terminal.enter("cd /handlers/vdisk_fileio")
        terminal.wait_for("/handlers/vdisk_fileio>")

        # a double TAB after the name lists the parameters the help text names
        terminal.type(f"create disk2 filename={disk} ")
        terminal.keys("Tab")
        terminal.keys("Tab")
        listed = terminal.wait_for("thin_provisioned=")
        assert "blocksize=" in listed and "write_through=" in listed
        # TAB completes a parameter name ...
        terminal.type("blo")
        terminal.keys("Tab")
        terminal.wait_for(f"create disk2 filename={disk} blocksize=")
        terminal.enter("4096")
        terminal.wait_for(f"Done: add_device disk2 filename={disk}; blocksize=4096")
        assert sysfs.attribute("devices/disk2/blocksize").value == "4096"

        # ... and a device name where the LUN set's 'add VNAME lun' wants one
        terminal.enter(f"cd /targets/iscsi/{IQN}/luns")
        terminal.wait_for("luns>")
        terminal.type("cre")
        terminal.keys("Tab")
        terminal.type("di")
        terminal.keys("Tab")
        terminal.wait_for("> create disk2")
        terminal.keys("Tab")  # the next free LUN number, after the space the name got
        terminal.wait_for("> create disk2 0")
        terminal.keys("Enter")
        terminal.wait_for("Done: add disk2 0")
        assert sysfs.readlink(f"targets/iscsi/{IQN}/luns/0/device") == "disk2"

        # a refused command is one error line and the shell goes on
        terminal.enter("create nodisk 5")
        line = terminal.wait_for("Error: add nodisk 5: ")
        assert "from /targets/iscsi/" in line
        terminal.enter("ls /devices")
        screen = terminal.wait_for(f"[vdisk_fileio, 1.0 MiB, {disk}, exported]")
        assert "Traceback" not in screen
        assert "create disk2" in (tmp_path / "prefs/history.txt").read_text()
        terminal.enter("exit")
        deadline = time.monotonic() + 10
        while terminal.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not terminal.alive(), "the shell did not end on 'exit'"
    finally:
        terminal.close()
