"""Helpers shared by the tests that hold our config tool against SCST's own scstadmin."""

from __future__ import annotations

import contextlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

from tcmu_scst.config import cli

from .perl_scstadmin import PerlResult, scstadmin
from .scst_mount import MountedScst

SAMPLES_DIRECTORY = Path(__file__).parent / "scst_conf_samples"
BACKING_FILE = re.compile(r"@DIR@/([\w.-]+)")
BACKING_SIZE = 4 << 20


@dataclass(frozen=True)
class OurResult:
    status: int
    output: str


def ours(tree: MountedScst, *arguments: str) -> OurResult:
    """``tcmu-scst-admin ARGUMENTS --root TREE``, in this process, with its output."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main([*arguments, "--root", str(tree.root)])
    return OurResult(status, out.getvalue() + err.getvalue())


def perl(tree: MountedScst, *arguments: str) -> PerlResult:
    """SCST's scstadmin with ``tree`` as ``/sys/kernel/scst_tgt``."""
    return scstadmin(tree.root, *arguments)


def materialize(sample: Path, directory: Path, block_device: str | None) -> Path:
    """The sample as a file in ``directory``: each ``@DIR@/NAME`` a 4 MiB file made there,
    ``@BLOCK@`` the given block device."""
    return materialize_text(sample.name, sample.read_text(), directory, block_device)


def materialize_text(name: str, text: str, directory: Path, block_device: str | None = None
                     ) -> Path:
    """``text`` as the file ``directory/name``, its placeholders filled as :func:`materialize`
    fills them."""
    for file_name in BACKING_FILE.findall(text):
        backing = directory / file_name
        if not backing.exists():
            backing.write_bytes(b"")
            os.truncate(backing, BACKING_SIZE)
    text = text.replace("@DIR@", str(directory))
    if "@BLOCK@" in text:
        assert block_device is not None, f"{name} needs a block device"
        text = text.replace("@BLOCK@", block_device)
    path = directory / name
    path.write_text(text)
    return path


def without_header(text: str) -> str:
    """A saved file without its first line, the one comment that names the tool."""
    first, _, rest = text.partition("\n")
    assert first.startswith("# "), f"no header line: {first!r}"
    return rest


def changes_made(output: str) -> int:
    """N of the last "Done, N change(s) made." either tool printed."""
    found = re.findall(r"Done, (\d+) change\(s\) made", output)
    assert found, output
    return int(found[-1])
