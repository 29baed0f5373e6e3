"""The example handler plugin (examples/handler-plugin), a distribution of its own, installed
with pip into a temporary venv beside this checkout (tests/plugin_venv.py) and checked there:
the registry lists its handler, the tree shows it, the config tool, the shell and the Perl
scstadmin drive it, its devices serve their pattern and a daemon restart restores them
(``handler_plugin_checks.py``, run by pytest inside that venv); and no line of the framework
(tcmu_scst/, shell/, udev/) names it.
"""

from __future__ import annotations

import ast
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.plugin_venv import (
    PLUGIN_SOURCE,
    ROOT,
    PluginVenv,
    clean_environment,
    make_venv,
    missing_build_tool,
)

CHECKS = Path(__file__).with_name("handler_plugin_checks.py")
FRAMEWORK = ("tcmu_scst", "shell", "udev")


def plugin_pyproject() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((PLUGIN_SOURCE / "pyproject.toml").read_text())


def check_names() -> list[str]:
    """The checks the venv runs, read from their module without importing it."""
    tree = ast.parse(CHECKS.read_text())
    return [node.name for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")]


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> PluginVenv:
    reason = missing_build_tool()
    if reason:
        pytest.skip(reason)
    return make_venv(tmp_path_factory.mktemp("plugin"))


def test_pip_installs_the_distribution_into_the_venv(venv: PluginVenv) -> None:
    project = plugin_pyproject()["project"]
    assert f"Successfully installed {project['name']}-{project['version']}" in \
        venv.installs[-1], venv.installs[-1]
    # its dependency on the framework was met by the framework pip had installed there
    assert "Requirement already satisfied: tcmu-scst>=0.1" in venv.installs[-1]
    [info] = venv.site_packages.glob(f"{project['name'].replace('-', '_')}-*.dist-info")
    entry_points = (info / "entry_points.txt").read_text()
    assert "[tcmu_scst.handlers]" in entry_points
    for name, value in project["entry-points"]["tcmu_scst.handlers"].items():
        assert f"{name} = {value}" in entry_points
    # a real install (files in site-packages), not a link back to the source
    assert (venv.site_packages / "tcmu_scst_ramdisk" / "handler.py").is_file()
    assert not (PLUGIN_SOURCE / "build").exists() and not list(PLUGIN_SOURCE.glob("*.egg-info"))


@dataclass(frozen=True)
class Outcome:
    state: str  # passed, failed, skipped
    detail: str


@pytest.fixture(scope="module")
def checks(venv: PluginVenv, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every check of handler_plugin_checks.py, run once with pytest in the venv."""
    base = tmp_path_factory.mktemp("plugin-checks")
    report = base / "report.xml"
    # -P and --import-mode=append: the checkout's tcmu_scst must not hide the installed one
    run = subprocess.run(
        [venv.python, "-P", "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--import-mode=append", f"--rootdir={ROOT}", f"--basetemp={base}/tmp",
         f"--junitxml={report}", str(CHECKS)],
        capture_output=True, text=True, env=clean_environment(), cwd=base, check=False,
        timeout=600)
    assert report.exists(), run.stdout + run.stderr
    outcomes: dict[str, Outcome] = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        name = case.get("name", "")
        problem = next((node for node in (case.find("failure"), case.find("error"))
                        if node is not None), None)
        skipped = case.find("skipped")
        if problem is not None:
            detail = f"{problem.get('message', '')}\n{problem.text or ''}"
            outcomes[name] = Outcome("failed", detail)
        elif skipped is not None:
            outcomes[name] = Outcome("skipped", skipped.get("message", ""))
        else:
            outcomes[name] = Outcome("passed", "")
    assert outcomes, run.stdout + run.stderr
    return outcomes


@pytest.mark.parametrize("check", check_names())
def test_in_the_venv(checks: dict[str, Outcome], check: str) -> None:
    """One check of handler_plugin_checks.py (each parameter of a parametrized one)."""
    results = {name: outcome for name, outcome in checks.items()
               if name == check or name.startswith(f"{check}[")}
    assert results, f"{check} did not run in the venv: {sorted(checks)}"
    failed = {name: outcome.detail for name, outcome in results.items()
              if outcome.state == "failed"}
    assert not failed, "\n\n".join(f"{name}:\n{detail}" for name, detail in failed.items())
    skipped = [outcome.detail for outcome in results.values() if outcome.state == "skipped"]
    if skipped and len(skipped) == len(results):
        pytest.skip(skipped[0])


def plugin_names() -> list[str]:
    """What names the plugin: its distribution, its packages, its handlers."""
    project = plugin_pyproject()["project"]
    tool = plugin_pyproject()["tool"]["setuptools"]
    names = [project["name"], project["name"].replace("-", "_"), *tool["packages"],
             *project["entry-points"]["tcmu_scst.handlers"]]
    return sorted(set(names))


def test_no_line_of_the_framework_names_the_plugin() -> None:
    names = plugin_names()
    assert {"vdisk_ramdisk", "tcmu_scst_ramdisk", "tcmu-scst-ramdisk"} <= set(names)
    naming = []
    for top in FRAMEWORK:
        for path in sorted((ROOT / top).rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            text = path.read_bytes().decode("utf-8", errors="replace").lower()
            for number, line in enumerate(text.splitlines(), 1):
                naming += [f"{path.relative_to(ROOT)}:{number}: {name}" for name in names
                           if name.lower() in line]
    assert naming == []
