"""pytest integration: the ``vm`` fixture and marker for tests that need the real kernel.

A test asks for the ``vm`` fixture and gets a :class:`GuestRunner`; such tests are marked
``vm`` automatically, so ``pytest -m "not vm"`` runs only the host-side unit tests.  The
kernel and initramfs are prepared once per session; every ``run`` boots a fresh guest whose
console log and share stay in the test's ``tmp_path`` for post-mortems.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .runner import GuestResult, Vm

DEFAULT_TIMEOUT = float(os.environ.get("TCMU_SCST_VM_TIMEOUT", "300"))


class GuestRunner:
    """Runs bash scripts in fresh guests on behalf of one test."""

    def __init__(self, vm: Vm, base: Path):
        self.vm = vm
        self.base = base
        self.runs = 0

    def run(self, script: str, timeout: float = DEFAULT_TIMEOUT,
            env: dict[str, str] | None = None) -> GuestResult:
        """Boot, run ``script`` and return the result whatever its exit status."""
        self.runs += 1
        return self.vm.run(script, timeout=timeout, env=env,
                           run_dir=self.base / f"vm-run-{self.runs}")

    def check(self, script: str, timeout: float = DEFAULT_TIMEOUT,
              env: dict[str, str] | None = None) -> GuestResult:
        """Like :meth:`run`, but fail the test (with output and console) on non-zero exit."""
        return self.run(script, timeout=timeout, env=env).check()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "vm: runs inside a qemu VM booted with Debian's kernel (real LIO/TCMU)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "vm" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.vm)


@pytest.fixture(scope="session")
def vm_image() -> Vm:
    """The guest image, built (or taken from the cache) once per test session."""
    vm = Vm()
    vm.prepare()
    return vm


@pytest.fixture
def vm(vm_image: Vm, tmp_path: Path) -> GuestRunner:
    return GuestRunner(vm_image, tmp_path)
