"""The VM runner's contract, checked with a stand-in for qemu (the real one: tests/system)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tcmu_scst.vm import GuestCommandFailed, Kernel, Vm, VmConfig, VmCrashed, VmTimeout

FAKE_QEMU = """#!/bin/bash
# Stand-in for qemu: find the console file and the job share in the arguments, then act as
# the guest would ($FAKE_GUEST says how).
for arg; do
    case $arg in
        file:*) console=${arg#file:} ;;
        *mount_tag=vmshare*) share=$(sed 's/.*path=\\([^,]*\\),mount_tag=vmshare.*/\\1/' <<<"$arg") ;;
    esac
done
echo "tcmu-scst-vm: running job" > "$console"
case $FAKE_GUEST in
    ok) (. "$share/env.sh"; cd "$TCMU_VM_CWD"; bash "$share/job.sh" > "$share/output" 2>&1; echo $? > "$share/rc") ;;
    hang) echo "partial output" > "$share/output"; exec sleep 600 ;;
    crash) echo "Kernel panic - not syncing: test" >> "$console"; exit 1 ;;
esac
"""


@pytest.fixture
def fake_vm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Vm:
    qemu = tmp_path / "fake-qemu"
    qemu.write_text(FAKE_QEMU)
    qemu.chmod(0o755)
    kernel_root = tmp_path / "kernel"
    (kernel_root / "lib" / "modules" / "6.1.0-test").mkdir(parents=True)
    initramfs = tmp_path / "initramfs.cpio"
    initramfs.write_bytes(b"")
    return Vm(VmConfig(qemu=str(qemu), cache_dir=tmp_path / "cache"),
              kernel=Kernel(release="6.1.0-test", root=kernel_root), initramfs=initramfs)


def test_exit_status_output_and_environment_come_back(
    fake_vm: Vm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_GUEST", "ok")
    result = fake_vm.run('echo "hello $GREETING from $PWD"; exit 3', env={"GREETING": "a b'c"},
                         cwd=tmp_path, run_dir=tmp_path / "run")
    assert result.returncode == 3
    assert result.output == f"hello a b'c from {tmp_path}\n"
    assert "running job" in result.console
    with pytest.raises(GuestCommandFailed, match="exited with 3"):
        result.check()


def test_successful_result_checks_clean(fake_vm: Vm, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_GUEST", "ok")
    result = fake_vm.run("true", run_dir=tmp_path / "run")
    assert result.check() is result


def test_hung_guest_is_killed_at_the_timeout(fake_vm: Vm, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_GUEST", "hang")
    with pytest.raises(VmTimeout) as failure:
        fake_vm.run("sleep 600", timeout=1, run_dir=tmp_path / "run")
    assert "did not finish within 1 s" in str(failure.value)
    assert "running job" in failure.value.console
    assert "partial output" in str(failure.value)


def test_guest_that_dies_without_status_is_a_crash(fake_vm: Vm, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_GUEST", "crash")
    with pytest.raises(VmCrashed, match="Kernel panic"):
        fake_vm.run("true", run_dir=tmp_path / "run")


def test_qemu_command_shares_root_read_only_and_uses_tcg(fake_vm: Vm, tmp_path: Path) -> None:
    command = shlex.join(fake_vm.qemu_command(tmp_path, tmp_path / "share"))
    assert "-accel tcg,thread=multi" in command
    assert re.search(r"path=/,mount_tag=hostroot,readonly=on", command)
    assert re.search(r"path=\S+/lib/modules,mount_tag=modules,readonly=on", command)
    assert f"path={tmp_path / 'share'},mount_tag=vmshare" in command
    assert "-no-reboot" in command and "-net none" in command


def test_missing_qemu_is_reported_clearly(tmp_path: Path) -> None:
    vm = Vm(VmConfig(qemu="no-such-qemu-binary", cache_dir=tmp_path))
    with pytest.raises(FileNotFoundError, match="qemu-system-x86"):
        vm.prepare()
