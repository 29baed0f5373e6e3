"""Kernel modules the guest needs, resolved from ``modules.dep`` into a load order.

The initramfs has no modprobe and no module tree, so it loads plain ``.ko`` files with
``insmod``; that only works when every module's dependencies were loaded before it.
"""

from __future__ import annotations

import gzip
import lzma
from dataclasses import dataclass
from pathlib import Path

# What the real target stack needs, in the order a human would load it.  Dependencies
# (scsi_mod, libfc, target_core_mod, ...) are pulled in by the resolver.
GUEST_MODULES: tuple[str, ...] = (
    # the guest's root file system: host / over 9p with a tmpfs overlay
    "virtio_pci",
    "9pnet_virtio",
    "9p",
    "overlay",
    # LIO core and backstores
    "configfs",
    "target_core_mod",
    "uio",
    "target_core_user",
    "target_core_file",
    "target_core_iblock",
    # fabrics: loopback, iSCSI (needs crc32c for digests or login fails), FCoE
    "tcm_loop",
    "crc32c_generic",
    "iscsi_target_mod",
    "veth",
    "libfcoe",
    "fcoe",
    "tcm_fc",
    # initiator side and test devices
    "sd_mod",
    "sg",
    "sr_mod",
    "isofs",  # CD images served by vcdrom are mounted in the guest
    "scsi_transport_iscsi",
    "libiscsi_tcp",
    "iscsi_tcp",
    "fuse",
    "loop",
    "ext4",  # the announcement demo makes a file system on the iSCSI disk
    "scsi_debug",
)

# Parameters for insmod: scsi_debug must not grab the first SCSI host and /dev/sda on load.
MODULE_PARAMETERS: dict[str, str] = {"scsi_debug": "add_host=0"}


class ModuleResolutionError(RuntimeError):
    """A wanted module is neither built in nor present in the kernel's module tree."""


def module_name(path: str) -> str:
    """``kernel/fs/9p/9p.ko.xz`` → ``9p``; dashes and underscores are the same to the kernel."""
    base = path.rsplit("/", 1)[-1]
    for suffix in (".ko.xz", ".ko.zst", ".ko.gz", ".ko"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return base.replace("-", "_")


@dataclass(frozen=True)
class ModuleTree:
    """What ``modules.dep`` and ``modules.builtin`` say about one kernel release."""

    paths: dict[str, str]
    dependencies: dict[str, tuple[str, ...]]
    builtin: frozenset[str]

    @classmethod
    def parse(cls, modules_dep: str, modules_builtin: str) -> ModuleTree:
        paths: dict[str, str] = {}
        dependencies: dict[str, tuple[str, ...]] = {}
        for line in modules_dep.splitlines():
            if ":" not in line:
                continue
            path, deps = line.split(":", 1)
            name = module_name(path)
            paths[name] = path
            dependencies[name] = tuple(module_name(dep) for dep in deps.split())
        builtin = frozenset(module_name(line) for line in modules_builtin.split())
        return cls(paths=paths, dependencies=dependencies, builtin=builtin)

    @classmethod
    def load(cls, modules_dir: Path) -> ModuleTree:
        builtin_file = modules_dir / "modules.builtin"
        builtin = builtin_file.read_text() if builtin_file.exists() else ""
        return cls.parse((modules_dir / "modules.dep").read_text(), builtin)

    def load_order(self, wanted: tuple[str, ...] | list[str]) -> list[str]:
        """Module names in an order where each comes after everything it depends on.

        Built-in modules are dropped; the wanted order is kept where dependencies allow.
        """
        order: list[str] = []
        seen: set[str] = set()

        def visit(name: str, chain: tuple[str, ...]) -> None:
            name = name.replace("-", "_")
            if name in seen:
                return
            if name in chain:
                raise ModuleResolutionError(f"dependency cycle: {' -> '.join((*chain, name))}")
            if name in self.builtin:
                seen.add(name)
                return
            if name not in self.paths:
                raise ModuleResolutionError(
                    f"module {name} is neither built in nor in modules.dep of this kernel"
                )
            for dependency in self.dependencies[name]:
                visit(dependency, (*chain, name))
            seen.add(name)
            order.append(name)

        for name in wanted:
            visit(name, ())
        return order


def read_module_binary(modules_dir: Path, relative_path: str) -> bytes:
    """The module's ELF bytes; busybox insmod cannot read compressed modules itself."""
    data = (modules_dir / relative_path).read_bytes()
    if relative_path.endswith(".xz"):
        return lzma.decompress(data)
    if relative_path.endswith(".gz"):
        return gzip.decompress(data)
    if relative_path.endswith(".zst"):
        raise ModuleResolutionError(f"{relative_path}: zstd-compressed modules are not supported")
    return data
