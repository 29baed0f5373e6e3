"""Production code never imports the test doubles in ``tcmu_scst.testing``.

The doubles (an emulated LIO, the ring emulator, the recording realizer) behave like the
kernel closely enough that code using one by mistake would pass every unit test and then
talk to nothing in production.  So the boundary is checked on the source: every module of
the installed packages except ``tcmu_scst/testing/`` is parsed and its imports, relative ones
resolved, are matched against the testing package.  A real feature that needs an emulated
kernel may import it lazily, inside that feature, once it is listed in ``ALLOWED`` with the
reason; none does today.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTING = "tcmu_scst.testing"

# Where each production package's sources are (pyproject.toml's package-dir).
PRODUCTION_PACKAGES = {"tcmu_scst": ROOT / "tcmu_scst", "tcmu_scst.shell": ROOT / "shell",
                       "tcmu_scst.udev": ROOT / "udev"}

# module -> why it may import the testing package (import it lazily, inside that feature)
ALLOWED: dict[str, str] = {}


def production_modules() -> Iterator[tuple[str, Path]]:
    """Every production module as (dotted name, file); the testing package is left out."""
    for package, directory in PRODUCTION_PACKAGES.items():
        for path in sorted(directory.rglob("*.py")):
            parts = path.relative_to(directory).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join((package, *parts))
            if name == TESTING or name.startswith(TESTING + "."):
                continue
            yield name, path


def imported_names(source: str, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, absolute dotted name) of everything ``module`` imports, and the constant names it
    hands to ``importlib.import_module`` or ``__import__``."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[:len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts)
                origin = f"{base}.{node.module}" if node.module else base
            else:
                origin = node.module or ""
            yield node.lineno, origin
            for alias in node.names:  # ``from tcmu_scst import testing``
                yield node.lineno, f"{origin}.{alias.name}"
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and _called_name(node.func) in {"import_module", "__import__"}):
            yield node.lineno, node.args[0].value


def _called_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def imports_of_testing(source: str, module: str, is_package: bool) -> list[str]:
    """``module``'s imports of the testing package, as ``line: name`` (one per line)."""
    found: dict[int, str] = {}
    for line, name in imported_names(source, module, is_package):
        if name == TESTING or name.startswith(TESTING + "."):
            found.setdefault(line, name)
    return [f"{line}: {name}" for line, name in found.items()]


def test_no_production_module_imports_the_test_doubles() -> None:
    offenders = []
    for module, path in production_modules():
        if module in ALLOWED:
            continue
        source = path.read_text(encoding="utf-8")
        found = imports_of_testing(source, module, path.name == "__init__.py")
        offenders += [f"{path.relative_to(ROOT)}:{where}" for where in found]
    assert not offenders, ("production code imports tcmu_scst.testing (a test double); "
                           "list a deliberate use in ALLOWED with its reason:\n"
                           + "\n".join(offenders))


def test_the_walk_covers_the_production_packages() -> None:
    modules = dict(production_modules())
    assert "tcmu_scst.daemon.main" in modules
    assert "tcmu_scst.shell" in modules
    assert "tcmu_scst.udev" in modules
    assert not [name for name in modules if name.startswith(TESTING)]


def test_every_allowed_exception_still_exists_and_says_why() -> None:
    modules = dict(production_modules())
    for module, reason in ALLOWED.items():
        assert module in modules, f"{module} is allowed but no longer exists"
        assert reason.strip(), f"{module} is allowed without a reason"


@pytest.mark.parametrize(("source", "module", "is_package"), [
    ("from ..testing.lio import emulated_lio\n", "tcmu_scst.daemon.main", False),
    ("from .. import testing\n", "tcmu_scst.daemon", True),
    ("from ... import testing\n", "tcmu_scst.daemon.sub.mod", False),
    ("import tcmu_scst.testing.ring_emulator\n", "tcmu_scst.uio.ring", False),
    ("from tcmu_scst import testing\n", "tcmu_scst.shell.cli", False),
    ("def f():\n    from tcmu_scst.testing import lio\n", "tcmu_scst.demo", False),
    ("import importlib\nimportlib.import_module('tcmu_scst.testing.lio')\n",
     "tcmu_scst.config.cli", False),
])
def test_the_check_sees_the_ways_of_importing(source: str, module: str,
                                               is_package: bool) -> None:
    assert imports_of_testing(source, module, is_package)


@pytest.mark.parametrize(("source", "module", "is_package"), [
    ("from ..lio.configfs import Configfs\n", "tcmu_scst.daemon.main", False),
    ("from .testing_helpers import x\n", "tcmu_scst.daemon.main", False),
    ("import tcmu_scst.testingtools\n", "tcmu_scst.daemon.main", False),
])
def test_the_check_leaves_other_imports_alone(source: str, module: str,
                                              is_package: bool) -> None:
    assert not imports_of_testing(source, module, is_package)
