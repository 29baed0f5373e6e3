"""Run jobs inside a qemu VM booted with Debian's kernel: the real LIO/TCMU stack on any host.

Used by the system tests, the demo and the benchmarks.  See :class:`Vm`.
"""

from .initramfs import guest_library
from .kernel import Kernel, KernelFetchError, ensure_kernel
from .runner import GuestCommandFailed, GuestResult, Vm, VmConfig, VmCrashed, VmError, VmTimeout

__all__ = [
    "GuestCommandFailed",
    "GuestResult",
    "Kernel",
    "KernelFetchError",
    "Vm",
    "VmConfig",
    "VmCrashed",
    "VmError",
    "VmTimeout",
    "ensure_kernel",
    "guest_library",
]
