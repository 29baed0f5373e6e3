"""The order in which bench/vm-fio runs its targets: a measured bias (the target always run
right after tcmu-runner measured lower) must not be built into the benchmark."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import itertools
from collections import Counter
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "vm-fio"


def load_vm_fio():
    loader = importlib.machinery.SourceFileLoader("vm_fio", str(SCRIPT))
    spec = importlib.util.spec_from_loader("vm_fio", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.mark.parametrize("count", [2, 3, 4, 5, 6])
def test_every_target_follows_every_other_equally_often(count):
    orders = load_vm_fio().balanced_orders(count)
    assert len(orders) == (count if count % 2 == 0 else 2 * count)
    assert all(sorted(order) == list(range(count)) for order in orders)
    firsts = Counter(order[0] for order in orders)
    assert set(firsts.values()) == {len(orders) // count}
    pairs = Counter((a, b) for order in orders for a, b in itertools.pairwise(order))
    assert len(pairs) == count * (count - 1)
    assert len(set(pairs.values())) == 1


def test_each_job_runs_every_order_once_with_the_default_rounds():
    vm_fio = load_vm_fio()
    rounds = len(vm_fio.balanced_orders(len(vm_fio.TARGETS)))
    script = vm_fio.guest_script(rounds, runtime=1, size_mb=16, variants={})
    sequences: dict[str, list[tuple[str, ...]]] = {}
    current: dict[tuple[str, str], list[str]] = {}
    for line in script.splitlines():
        if line.startswith("run_fio "):
            _, round_number, job, target, *_ = line.split()
            current.setdefault((round_number, job), []).append(target)
    for (_, job), targets in current.items():
        sequences.setdefault(job, []).append(tuple(targets))
    assert set(sequences) == set(vm_fio.JOBS)
    for job, orders in sequences.items():
        assert len(set(orders)) == rounds, job
    after_runner = Counter(order[order.index("runner") + 1]
                           for orders in sequences.values() for order in orders
                           if order.index("runner") + 1 < len(order))
    assert after_runner["ours"] == after_runner["kernel"]
