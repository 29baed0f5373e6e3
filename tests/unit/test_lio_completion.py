"""Targets this project makes finish their commands on the worker's CPU (cmd_completion_affinity)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from tcmu_scst.lio import FcTarget, IscsiTarget, LoopbackExport
from tcmu_scst.lio.completion import ENVIRONMENT, completion_affinity, place_completions
from tcmu_scst.lio.snapshot import snapshot
from tcmu_scst.lio.tpg import TargetPortalGroup
from tcmu_scst.testing.lio import EmulatedConfigfs, emulated_lio
from tcmu_scst.testing.lio.nodes import Group

TARGETS = {
    "loopback": lambda fs, tag=1: LoopbackExport("naa.5001405000000abc", fs, tag=tag),
    "iscsi": lambda fs, tag=1: IscsiTarget("iqn.2003-01.org.example:t1", fs, tag=tag),
    "fc": lambda fs, tag=1: FcTarget("20:00:00:19:99:a8:34:bc", fs),
}


@pytest.fixture
def fs(tmp_path: Path) -> EmulatedConfigfs:
    return emulated_lio(sysfs=tmp_path / "sys")


def affinity_of(target: TargetPortalGroup) -> str:
    return target.fs.read(target.wwn_path / "param" / "cmd_completion_affinity").strip()


def refused(code: int, call, *args) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OSError) as caught:
        call(*args)
    assert caught.value.errno == code


def test_the_emulated_kernel_takes_the_two_policies_and_online_cpus_only(
        fs: EmulatedConfigfs) -> None:
    wwn = "target/loopback/naa.5001405000000abc"
    fs.mkdir("target/loopback")
    fs.mkdir(wwn)
    attribute = f"{wwn}/param/cmd_completion_affinity"
    assert fs.read(attribute) == "-1\n"
    for value in ("-2", "1", "0", "-1"):
        fs.write(attribute, value)
        assert fs.read(attribute) == value + "\n"
    for value in ("2", "-3", "x"):
        refused(errno.EINVAL, fs.write, attribute, value)
    assert fs.read(attribute) == "-1\n"


@pytest.mark.parametrize("fabric", sorted(TARGETS))
def test_a_new_target_completes_on_the_workers_cpu(
        fs: EmulatedConfigfs, fabric: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENVIRONMENT, raising=False)
    target = TARGETS[fabric](fs)
    target.create()
    assert affinity_of(target) == "-2"


@pytest.mark.parametrize(("setting", "expected"), [("initiator", "-1"), ("1", "1"),
                                                   ("worker", "-2")])
def test_the_environment_chooses_the_cpu(fs: EmulatedConfigfs, monkeypatch: pytest.MonkeyPatch,
                                         setting: str, expected: str) -> None:
    monkeypatch.setenv(ENVIRONMENT, setting)
    target = TARGETS["loopback"](fs)
    target.create()
    assert affinity_of(target) == expected


@pytest.mark.parametrize("setting", ["fast", "-2", "1.5"])
def test_a_bad_setting_is_refused_before_anything_is_made(
        fs: EmulatedConfigfs, monkeypatch: pytest.MonkeyPatch, setting: str) -> None:
    before = snapshot(fs)
    monkeypatch.setenv(ENVIRONMENT, setting)
    with pytest.raises(OSError, match=ENVIRONMENT) as caught:
        TARGETS["iscsi"](fs).create()
    assert caught.value.errno == errno.EINVAL
    assert snapshot(fs) == before


def test_an_offline_cpu_undoes_the_target(fs: EmulatedConfigfs,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot(fs)
    monkeypatch.setenv(ENVIRONMENT, "7")  # the emulated kernel has CPUs 0 and 1
    refused(errno.EINVAL, TARGETS["loopback"](fs).create)
    assert snapshot(fs) == before


def test_a_target_someone_else_made_keeps_its_setting(
        fs: EmulatedConfigfs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENVIRONMENT, raising=False)
    fs.mkdir("target/iscsi")
    fs.mkdir("target/iscsi/iqn.2003-01.org.example:t1")
    fs.write("target/iscsi/iqn.2003-01.org.example:t1/param/cmd_completion_affinity", "0")
    target = TARGETS["iscsi"](fs, tag=2)
    target.create()
    assert target.exists() and affinity_of(target) == "0"


def test_a_kernel_without_the_setting_is_left_alone(fs: EmulatedConfigfs) -> None:
    fs.mkdir("target/loopback")
    fs.mkdir("target/loopback/naa.5001405000000abc")
    param = fs.node("target/loopback/naa.5001405000000abc/param")
    assert isinstance(param, Group)
    del param.children["cmd_completion_affinity"]  # as before Linux 5.14
    wwn = TARGETS["loopback"](fs).wwn_path
    assert place_completions(fs, wwn, -2) is False
    assert place_completions(fs, TARGETS["iscsi"](fs).wwn_path, -2) is False  # no WWN at all


def test_names_and_numbers() -> None:
    assert completion_affinity("worker") == -2
    assert completion_affinity(" initiator\n") == -1
    assert completion_affinity("3") == 3
    refused(errno.EINVAL, completion_affinity, "current")
