"""The distribution ships every package of the source tree: a package missing from
pyproject.toml's list imports from a checkout but not from an installed copy."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_directory_is_listed_in_pyproject() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    found = set()
    for name, directory in setuptools["package-dir"].items():
        base = ROOT / directory
        for init in base.rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            relative = init.parent.relative_to(base).parts
            found.add(".".join((name, *relative)))
    # package-dir maps the shell and udev directories into tcmu_scst: a directory found
    # both ways is one package
    assert found == listed, (f"missing from pyproject.toml: {sorted(found - listed)}; "
                             f"listed but absent: {sorted(listed - found)}")
