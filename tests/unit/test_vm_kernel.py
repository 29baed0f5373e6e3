"""Choosing and caching Debian's kernel package."""

from __future__ import annotations

from pathlib import Path

import pytest

from tcmu_scst.vm import kernel as kernel_module
from tcmu_scst.vm.kernel import (
    COMPLETE_MARKER,
    KernelFetchError,
    ensure_kernel,
    parse_image_dependency,
    parse_print_uris,
    release_from_package,
)

APT_DEPENDS = """\
linux-image-amd64
  Depends: linux-image-6.1.0-56-amd64
"""
PRINT_URIS = (
    "'http://deb.example/pool/main/l/linux-signed-amd64/linux-image-6.1.0-56-amd64_6.1.192-2_"
    "amd64.deb' linux-image-6.1.0-56-amd64_6.1.192-2_amd64.deb 70550672 SHA256:abc\n"
)
DEB = "linux-image-6.1.0-56-amd64_6.1.192-2_amd64.deb"


def test_versioned_image_package_is_found() -> None:
    assert parse_image_dependency(APT_DEPENDS) == "linux-image-6.1.0-56-amd64"
    with pytest.raises(KernelFetchError, match="apt-get update"):
        parse_image_dependency("linux-image-amd64\n")


def test_package_file_name_is_read_from_print_uris() -> None:
    assert parse_print_uris(PRINT_URIS) == DEB
    with pytest.raises(KernelFetchError):
        parse_print_uris("")


def test_release_is_the_module_directory_name() -> None:
    assert release_from_package("linux-image-6.1.0-56-amd64") == "6.1.0-56-amd64"
    with pytest.raises(KernelFetchError):
        release_from_package("linux-headers-6.1.0-56-amd64")


def fake_cached_kernel(cache: Path, deb_name: str, release: str) -> Path:
    root = cache / f"kernel-{Path(deb_name).stem}"
    (root / "lib" / "modules" / release).mkdir(parents=True)
    (root / COMPLETE_MARKER).write_text(release + "\n")
    return root


def test_current_cached_kernel_is_reused_without_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = fake_cached_kernel(tmp_path, DEB, "6.1.0-56-amd64")
    monkeypatch.setattr(kernel_module, "current_package_file",
                        lambda: ("linux-image-6.1.0-56-amd64", DEB))

    def no_download(*_args: object) -> None:
        raise AssertionError("a valid cache must not be downloaded again")

    monkeypatch.setattr(kernel_module, "_unpack_fresh", no_download)
    kernel = ensure_kernel(tmp_path)
    assert kernel.root == root and kernel.release == "6.1.0-56-amd64"
    assert kernel.modules_base == root / "lib" / "modules"


def test_stale_kernel_is_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = fake_cached_kernel(tmp_path, "linux-image-6.1.0-55-amd64_6.1.190-1_amd64.deb",
                             "6.1.0-55-amd64")
    monkeypatch.setattr(kernel_module, "current_package_file",
                        lambda: ("linux-image-6.1.0-56-amd64", DEB))
    unpacked = []

    def fake_unpack(package: str, release: str, target: Path) -> None:
        unpacked.append(package)
        fake_cached_kernel(tmp_path, DEB, release)

    monkeypatch.setattr(kernel_module, "_unpack_fresh", fake_unpack)
    kernel = ensure_kernel(tmp_path)
    assert unpacked == ["linux-image-6.1.0-56-amd64"]
    assert kernel.release == "6.1.0-56-amd64"
    assert not old.exists()


def test_offline_machine_uses_newest_cached_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_cached_kernel(tmp_path, DEB, "6.1.0-56-amd64")

    def apt_unavailable() -> tuple[str, str]:
        raise KernelFetchError("apt-cache is not installed")

    monkeypatch.setattr(kernel_module, "current_package_file", apt_unavailable)
    assert ensure_kernel(tmp_path).release == "6.1.0-56-amd64"
    empty = tmp_path / "empty"
    with pytest.raises(KernelFetchError, match="apt-cache"):
        ensure_kernel(empty)
