"""Debian's kernel package, fetched with apt and unpacked into a reusable cache.

The machines that build and test this project run a kernel without LIO, TCMU or configfs, so
system tests boot Debian's own kernel under qemu.  Fetching and unpacking 70 MB on every test
run would dominate CI time, so the unpacked tree is cached and reused for as long as it is the
package that ``linux-image-amd64`` currently depends on.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

META_PACKAGE = "linux-image-amd64"
COMPLETE_MARKER = ".complete"


class KernelFetchError(RuntimeError):
    """The kernel package could not be found, fetched or unpacked."""


@dataclass(frozen=True)
class Kernel:
    """An unpacked kernel: its image and its module tree (``lib/modules/<release>``)."""

    release: str
    root: Path

    @property
    def image(self) -> Path:
        return self.root / "boot" / f"vmlinuz-{self.release}"

    @property
    def modules_base(self) -> Path:
        """Directory to share as the guest's ``/lib/modules`` (merged-/usr packages use usr/)."""
        for candidate in (self.root / "lib" / "modules", self.root / "usr" / "lib" / "modules"):
            if candidate.is_dir():
                return candidate
        return self.root / "lib" / "modules"

    @property
    def modules_dir(self) -> Path:
        return self.modules_base / self.release


def default_cache_dir() -> Path:
    """Where kernels and initramfs images live between runs (CI clones are fresh each time)."""
    explicit = os.environ.get("TCMU_SCST_VM_CACHE")
    if explicit:
        return Path(explicit)
    if os.geteuid() == 0:
        return Path("/var/cache/tcmu-scst/vm")
    xdg = os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))
    return Path(xdg) / "tcmu-scst" / "vm"


@contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Serialise cache updates between concurrent test runs."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _run(args: list[str], cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise KernelFetchError(f"{args[0]} is not installed: {exc}") from exc
    except subprocess.CalledProcessError as exc:
        raise KernelFetchError(
            f"{' '.join(args)} failed with exit {exc.returncode}: {exc.stderr.strip()}"
        ) from exc
    return done.stdout


def parse_image_dependency(apt_depends_output: str) -> str:
    """Pick the versioned image package out of ``apt-cache depends linux-image-amd64``."""
    for line in apt_depends_output.splitlines():
        match = re.match(r"\s*Depends:\s*(linux-image-\S+)", line)
        if match and match.group(1) != META_PACKAGE:
            return match.group(1)
    raise KernelFetchError(
        f"apt-cache does not list a kernel image that {META_PACKAGE} depends on; "
        "run 'apt-get update' first"
    )


def parse_print_uris(output: str) -> str:
    """File name of the .deb from ``apt-get download --print-uris`` (``'url' name size hash``)."""
    for line in output.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0].startswith("'") and fields[1].endswith(".deb"):
            return fields[1]
    raise KernelFetchError(f"cannot read the package file name from apt: {output!r}")


def release_from_package(package: str) -> str:
    """``linux-image-6.1.0-56-amd64`` → ``6.1.0-56-amd64`` (the module directory name)."""
    prefix = "linux-image-"
    if not package.startswith(prefix):
        raise KernelFetchError(f"not a kernel image package: {package}")
    return package[len(prefix) :]


def _cached_kernels(cache: Path) -> list[Kernel]:
    found = []
    for entry in sorted(cache.glob("kernel-*"), key=lambda p: p.stat().st_mtime, reverse=True):
        if (entry / COMPLETE_MARKER).exists():
            release = (entry / COMPLETE_MARKER).read_text().strip()
            found.append(Kernel(release=release, root=entry))
    return found


def current_package_file() -> tuple[str, str]:
    """(package name, .deb file name) of the kernel Debian currently ships."""
    package = parse_image_dependency(_run(["apt-cache", "depends", META_PACKAGE]))
    deb_name = parse_print_uris(_run(["apt-get", "download", "--print-uris", package]))
    return package, deb_name


def ensure_kernel(cache: Path | None = None) -> Kernel:
    """Return the unpacked current Debian kernel, fetching it only when the cache is stale.

    When apt cannot be asked (no package lists, no network), the newest complete cached kernel
    is used so that an offline machine keeps working.
    """
    cache = cache or default_cache_dir()
    with locked(cache):
        try:
            package, deb_name = current_package_file()
        except KernelFetchError as exc:
            cached = _cached_kernels(cache)
            if cached:
                log.warning("apt unavailable (%s); using cached kernel %s", exc, cached[0].release)
                return cached[0]
            raise
        target = cache / f"kernel-{Path(deb_name).stem}"
        release = release_from_package(package)
        if (target / COMPLETE_MARKER).exists():
            return Kernel(release=release, root=target)
        log.info("fetching %s (%s) into %s", package, deb_name, cache)
        _unpack_fresh(package, release, target)
        for stale in cache.glob("kernel-*"):
            if stale != target:
                shutil.rmtree(stale, ignore_errors=True)
        return Kernel(release=release, root=target)


def _unpack_fresh(package: str, release: str, target: Path) -> None:
    """Download, unpack and depmod into a temporary directory, then move it into place."""
    staging = Path(tempfile.mkdtemp(prefix="unpack-", dir=target.parent))
    try:
        download_dir = staging / "download"
        download_dir.mkdir()
        # apt's sandbox user cannot write into root's private temp directories.
        os.chmod(staging, 0o755)
        os.chmod(download_dir, 0o777)
        _run(["apt-get", "download", package], cwd=download_dir)
        debs = list(download_dir.glob("*.deb"))
        if len(debs) != 1:
            raise KernelFetchError(f"expected one .deb from apt-get download, found {debs}")
        tree = staging / "tree"
        _run(["dpkg-deb", "-x", str(debs[0]), str(tree)])
        _run(["depmod", "-b", str(tree), release])
        kernel = Kernel(release=release, root=tree)
        if not kernel.image.exists() or not kernel.modules_dir.is_dir():
            raise KernelFetchError(f"{debs[0].name} has no {kernel.image.name} or module tree")
        (tree / COMPLETE_MARKER).write_text(release + "\n")
        shutil.rmtree(target, ignore_errors=True)
        tree.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
