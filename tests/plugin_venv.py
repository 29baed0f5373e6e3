"""A temporary venv with tcmu-scst and the example handler plugin (examples/handler-plugin)
installed by pip, as an administrator would install them, for the tests of the plugin.

The venv is made from the interpreter the tests' venv was made from; the packages the
project depends on (cffi, mfusepy, configshell, pytest) and pip's build tools (setuptools,
wheel) come from the tests' own venv, put on the new venv's path by a ``.pth`` file. pip
then installs this checkout and the plugin without the network (``--no-index``) and without
build isolation, each from a copy of its source (pip builds in the source tree, and the
checkout must stay clean).  The framework that runs in the venv is therefore this checkout,
installed as a wheel: ``tcmu_scst.shell`` and ``tcmu_scst.udev`` mapped from ``shell/`` and
``udev/`` as pyproject.toml maps them, the console scripts in ``bin/``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_SOURCE = ROOT / "examples" / "handler-plugin"
# what a wheel of the project is built from
PROJECT_FILES = ("pyproject.toml", "setup.py", "README.md", "tcmu_scst", "shell", "udev")
BUILD_TOOLS = ("pip", "setuptools", "wheel")
NOT_SOURCES = shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "*.so")


def missing_build_tool() -> str | None:
    """Why pip cannot build here without the network (None when it can)."""
    for module in BUILD_TOOLS:
        if importlib.util.find_spec(module) is None:
            return (f"{module} is not installed beside the tests ({sys.prefix}); the test "
                    "extras bring it (tools/setup-host, or pip install -e '.[test]')")
    return None


def package_directories() -> list[str]:
    """Where this interpreter finds installed packages: its site-packages and what .pth
    files add there (never the checkout: the venv gets the project from pip)."""
    found: list[str] = []
    for entry in sys.path:
        path = Path(entry or ".").resolve()
        if "site-packages" in path.parts and path.is_dir() and str(path) not in found:
            found.append(str(path))
    return found


def copy_project(target: Path) -> Path:
    target.mkdir(parents=True)
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=NOT_SOURCES)
        else:
            shutil.copy2(source, target / name)
    return target


def copy_plugin(target: Path) -> Path:
    shutil.copytree(PLUGIN_SOURCE, target, ignore=NOT_SOURCES)
    return target


def clean_environment() -> dict[str, str]:
    """os.environ without what would point Python or pip elsewhere."""
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("PYTHON", "PIP_", "VIRTUAL_ENV"))}
    return {**environment, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_CACHE_DIR": "1"}


def pip_install_command(python: Path, source: Path, *options: str) -> list[str]:
    return [str(python), "-m", "pip", "install", "--no-index", "--no-build-isolation",
            *options, str(source)]


@dataclass(frozen=True)
class PluginVenv:
    directory: Path
    plugin_source: Path  # the copy pip installs the plugin from
    installs: tuple[str, ...]  # pip's output, one per install

    @property
    def python(self) -> Path:
        return self.directory / "bin" / "python"

    @property
    def site_packages(self) -> Path:
        [found] = (self.directory / "lib").glob("python3*/site-packages")
        return found

    def bin(self, program: str) -> str:
        return str(self.directory / "bin" / program)


def run_pip(python: Path, source: Path, *options: str) -> str:
    done = subprocess.run(pip_install_command(python, source, *options), capture_output=True,
                          text=True, env=clean_environment(), cwd=source.parent, check=False,
                          timeout=600)
    if done.returncode != 0:
        raise AssertionError(f"pip install {source} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def make_venv(base: Path, with_plugin: bool = True) -> PluginVenv:
    """A venv under ``base`` with this checkout installed (and the plugin, unless
    ``with_plugin`` is False: then its source is copied, for an install elsewhere)."""
    directory = base / "venv"
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv",
                    "--without-pip", str(directory)], check=True, capture_output=True)
    venv = PluginVenv(directory, copy_plugin(base / "plugin-source"), ())
    (venv.site_packages / "tests_build_tools.pth").write_text(
        "".join(f"{path}\n" for path in package_directories()))
    # the tests' venv may hold the project too (an editable install): never look at it
    installs = [run_pip(venv.python, copy_project(base / "project-source"), "--no-deps",
                        "--ignore-installed")]
    if with_plugin:
        installs.append(run_pip(venv.python, venv.plugin_source))
    return PluginVenv(directory, venv.plugin_source, tuple(installs))
