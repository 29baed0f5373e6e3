"""The guest's initramfs: static busybox, the target stack's modules and the stage-1 init.

Written directly in the kernel's ``newc`` cpio format, so building it needs neither root (the
``/dev/console`` node is just a header) nor the ``cpio`` tool, and the same inputs always give
the same bytes, which is what makes the cache key honest.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .kernel import Kernel, locked
from .modules import GUEST_MODULES, MODULE_PARAMETERS, ModuleTree, read_module_binary

BUSYBOX_CANDIDATES = (Path("/bin/busybox"), Path("/usr/bin/busybox"))
CPIO_MAGIC = b"070701"


def guest_script(name: str) -> str:
    """Text of one of the guest-side shell scripts shipped with the package."""
    return (resources.files(__package__) / "guest" / name).read_text()


def guest_library() -> str:
    """Shell helpers for guest jobs (LIO by hand, our standalone exporter), to prepend."""
    return guest_script("lio.sh") + "\n" + guest_script("ours.sh") + "\n"


@dataclass
class CpioArchive:
    """An in-memory newc archive; entries are written in the order they are added."""

    chunks: list[bytes] = field(default_factory=list)
    next_inode: int = 1

    def _entry(
        self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)
    ) -> None:
        encoded = name.encode() + b"\0"
        fields = (
            self.next_inode, mode, 0, 0, 2 if stat.S_ISDIR(mode) else 1, 0, len(data),
            0, 0, rdev[0], rdev[1], len(encoded), 0,
        )
        self.next_inode += 1
        header = CPIO_MAGIC + b"".join(b"%08X" % value for value in fields)
        self.chunks.append(header + encoded)
        self.chunks.append(b"\0" * (-(len(header) + len(encoded)) % 4))
        self.chunks.append(data)
        self.chunks.append(b"\0" * (-len(data) % 4))

    def directory(self, name: str) -> None:
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def char_device(self, name: str, major: int, minor: int, mode: int = 0o600) -> None:
        self._entry(name, stat.S_IFCHR | mode, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return b"".join(self.chunks)


def find_busybox() -> Path:
    for candidate in BUSYBOX_CANDIDATES:
        if candidate.exists():
            return candidate
    raise FileNotFoundError("static busybox not found: install the busybox-static package")


def module_list_text(order: list[str]) -> str:
    """``/etc/modules.list``: one module a line, with its insmod parameters."""
    lines = []
    for name in order:
        parameters = MODULE_PARAMETERS.get(name, "")
        lines.append(f"{name} {parameters}".rstrip())
    return "\n".join(lines) + "\n"


def build_initramfs(kernel: Kernel, modules: tuple[str, ...] = GUEST_MODULES) -> bytes:
    tree = ModuleTree.load(kernel.modules_dir)
    order = tree.load_order(modules)
    archive = CpioArchive()
    for directory in ("bin", "dev", "etc", "etc/target", "etc/target/pr", "mnt", "modules",
                      "newroot", "proc", "sys", "tmp"):
        archive.directory(directory)
    archive.char_device("dev/console", 5, 1)
    archive.file("bin/busybox", find_busybox().read_bytes(), 0o755)
    archive.file("init", guest_script("init.sh").encode(), 0o755)
    archive.file("etc/modules.list", module_list_text(order).encode())
    for name in order:
        binary = read_module_binary(kernel.modules_dir, tree.paths[name])
        archive.file(f"modules/{name}.ko", binary)
    return archive.finish()


def initramfs_key(kernel: Kernel, modules: tuple[str, ...]) -> str:
    """Everything that changes the image: kernel, module list, init script, busybox."""
    digest = hashlib.sha256()
    busybox = find_busybox()
    for part in (kernel.release, str(kernel.root), " ".join(modules), guest_script("init.sh"),
                 repr(sorted(MODULE_PARAMETERS.items())), str(busybox.stat().st_size),
                 str(busybox.stat().st_mtime_ns)):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]


STALE_SECONDS = 24 * 3600


def ensure_initramfs(kernel: Kernel, cache: Path, modules: tuple[str, ...] = GUEST_MODULES) -> Path:
    """Path of a cached initramfs for this kernel and module set, building it when missing."""
    path = cache / f"initramfs-{kernel.release}-{initramfs_key(kernel, modules)}.cpio"
    with locked(cache):
        if path.exists():
            return path
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(build_initramfs(kernel, modules))
        os.replace(temporary, path)
        # other checkouts (another module set) may be booting theirs right now: only images
        # unused for a day go
        for stale in cache.glob("initramfs-*.cpio"):
            if stale != path and time.time() - stale.stat().st_atime > STALE_SECONDS:
                stale.unlink(missing_ok=True)
    os.utime(path)  # marks it in use (access time may not be kept by the file system)
    return path
