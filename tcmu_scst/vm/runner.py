"""Boot Debian's kernel under qemu TCG and run one job inside it, with a hard timeout.

The guest sees the host's root read-only (so the project, its venv and every installed tool
are there at the same paths) with a tmpfs overlay on top, the kernel's modules at
``/lib/modules`` and a per-run share at ``/mnt/vmshare`` that carries the job in and its
output and exit status out.  One VM per job keeps jobs from seeing each other's LIO state.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .initramfs import ensure_initramfs, guest_script
from .kernel import Kernel, default_cache_dir, ensure_kernel

GUEST_SHARE = "/mnt/vmshare"
KERNEL_COMMAND_LINE = "console=ttyS0 panic=-1 loglevel=5 mitigations=off rdinit=/init"
LOG_TAIL_LINES = 60


class VmError(RuntimeError):
    """The guest did not run the job to completion; the message carries the guest's logs."""

    def __init__(self, summary: str, console: str, output: str = "", qemu_log: str = ""):
        self.summary = summary
        self.console = console
        self.output = output
        parts = [summary, _section("guest console (last lines)", console)]
        if output:
            parts.append(_section("job output (last lines)", output))
        if qemu_log.strip():
            parts.append(_section("qemu", qemu_log))
        super().__init__("\n".join(parts))


class VmTimeout(VmError):
    """The guest was still running when the timeout expired and has been killed."""


class VmCrashed(VmError):
    """qemu ended without the guest reporting the job's exit status."""


class GuestCommandFailed(AssertionError):
    """The job ran and exited non-zero; raised by :meth:`GuestResult.check`."""


def _tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _section(title: str, text: str) -> str:
    return f"----- {title} -----\n{_tail(text)}"


@dataclass
class GuestResult:
    returncode: int
    output: str
    console: str
    share: Path
    seconds: float

    def check(self) -> GuestResult:
        """Return self when the job succeeded, else fail with its output and the console."""
        if self.returncode != 0:
            raise GuestCommandFailed(
                f"guest job exited with {self.returncode}\n"
                + _section("job output (last lines)", self.output)
                + "\n"
                + _section("guest console (last lines)", self.console)
            )
        return self


@dataclass
class VmConfig:
    memory_mb: int = 2048
    cpus: int = 2
    qemu: str = "qemu-system-x86_64"
    cache_dir: Path = field(default_factory=default_cache_dir)


class Vm:
    """A bootable guest image (kernel + initramfs); each :meth:`run` boots a fresh VM."""

    def __init__(self, config: VmConfig | None = None, kernel: Kernel | None = None,
                 initramfs: Path | None = None):
        """Give ``kernel`` and ``initramfs`` to use a prepared image instead of the cache."""
        self.config = config or VmConfig()
        self._kernel = kernel
        self._initramfs = initramfs

    def prepare(self) -> None:
        """Fetch the kernel and build the initramfs (cached); safe to call repeatedly."""
        if self._kernel is None or self._initramfs is None:
            if shutil.which(self.config.qemu) is None:
                raise FileNotFoundError(
                    f"{self.config.qemu} not found: install the qemu-system-x86 package"
                )
            self._kernel = ensure_kernel(self.config.cache_dir)
            self._initramfs = ensure_initramfs(self._kernel, self.config.cache_dir)

    @property
    def kernel(self) -> Kernel:
        self.prepare()
        assert self._kernel is not None
        return self._kernel

    def qemu_command(self, run_dir: Path, share: Path) -> list[str]:
        self.prepare()
        assert self._kernel is not None and self._initramfs is not None
        config = self.config
        virtfs = "local,security_model=none,multidevs=remap"
        return [
            config.qemu,
            "-accel", "tcg,thread=multi",
            "-cpu", "max",
            "-m", str(config.memory_mb),
            "-smp", str(config.cpus),
            "-nodefaults", "-display", "none", "-vga", "none", "-monitor", "none",
            "-no-reboot", "-net", "none",
            "-serial", f"file:{run_dir / 'console.log'}",
            "-kernel", str(self._kernel.image),
            "-initrd", str(self._initramfs),
            "-append", KERNEL_COMMAND_LINE,
            "-virtfs", f"{virtfs},path=/,mount_tag=hostroot,readonly=on",
            "-virtfs", f"{virtfs},path={self._kernel.modules_base},mount_tag=modules,readonly=on",
            "-virtfs", f"{virtfs},path={share},mount_tag=vmshare",
        ]

    def run(
        self,
        script: str,
        timeout: float = 300.0,
        env: dict[str, str] | None = None,
        cwd: str | Path | None = None,
        run_dir: Path | None = None,
    ) -> GuestResult:
        """Run ``script`` (bash) in a fresh guest and return its exit status and output.

        Raises :class:`VmTimeout` when the guest has not finished within ``timeout`` seconds
        (boot included) and :class:`VmCrashed` when it ended without reporting a status.
        Files the job writes under ``$TCMU_VM_SHARE`` are found in ``result.share``.
        """
        self.prepare()
        run_dir = Path(run_dir or tempfile.mkdtemp(prefix="tcmu-scst-vm-"))
        share = run_dir / "share"
        share.mkdir(parents=True, exist_ok=True)
        guest_env = {
            "TCMU_VM_CWD": str(cwd or os.getcwd()),
            "TCMU_VM_PYTHON": sys.executable,
            **(env or {}),
        }
        (share / "env.sh").write_text(
            "".join(f"export {key}={shlex.quote(value)}\n" for key, value in guest_env.items())
        )
        (share / "job.sh").write_text(script)
        (share / "stage2.sh").write_text(guest_script("stage2.sh"))
        for stale in ("rc", "output"):
            (share / stale).unlink(missing_ok=True)

        started = time.monotonic()
        with open(run_dir / "qemu.log", "wb") as qemu_log:
            process = subprocess.Popen(
                self.qemu_command(run_dir, share),
                stdin=subprocess.DEVNULL, stdout=qemu_log, stderr=subprocess.STDOUT,
            )
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise VmTimeout(
                    f"guest did not finish within {timeout:g} s and was killed "
                    f"(logs in {run_dir})",
                    *self._logs(run_dir, share),
                ) from None
        seconds = time.monotonic() - started

        console, output, qemu_text = self._logs(run_dir, share)
        rc_file = share / "rc"
        if not rc_file.exists():
            raise VmCrashed(
                f"qemu exited with {process.returncode} before the guest reported the job's "
                f"exit status (logs in {run_dir})",
                console, output, qemu_text,
            )
        return GuestResult(
            returncode=int(rc_file.read_text().strip()),
            output=output,
            console=console,
            share=share,
            seconds=seconds,
        )

    @staticmethod
    def _logs(run_dir: Path, share: Path) -> tuple[str, str, str]:
        def read(path: Path) -> str:
            return path.read_text(errors="replace") if path.exists() else ""

        return read(run_dir / "console.log"), read(share / "output"), read(run_dir / "qemu.log")
