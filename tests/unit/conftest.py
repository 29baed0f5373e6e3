"""Fixtures shared by the unit tests of the tools that work on SCST trees through files."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .scst_mount import MountedScst, fuse_unavailable, mounted_scst


@pytest.fixture
def tree() -> Iterator[MountedScst]:
    """Our SCST tree (over a recording realizer) mounted with the kernel's FUSE."""
    reason = fuse_unavailable()
    if reason:
        pytest.skip(reason)
    with mounted_scst() as mounted:
        yield mounted
