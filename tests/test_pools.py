"""The local executor's pools on a machine with GPUs, tested on a CPU with fake device lists: network cells on
GPU workers, cells that train no network in a CPU pool that never sees a GPU, workers per GPU from memory."""
from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from benchsuite import api
from benchsuite.api import PluginError
from benchsuite_builtin.executors.local import (CONTEXT_BYTES, Local, cells_per_gpu_for, measured_peak, pool_for,
                                                pool_plan, worker_env)

GIB = 1 << 30


@dataclass(frozen=True)
class Item:
    id: str
    trains_networks: bool
    configuration_id: str = "c"

    def describe(self) -> str:
        return self.id


def where(item: Item) -> tuple[str, bool, str | None, str | None, int]:
    """What a worker saw: picklable, so that spawned workers can run it."""
    return (item.id, item.trains_networks, os.environ.get("CUDA_VISIBLE_DEVICES"), os.environ.get(api.GIVEN_GPU),
            os.getpid())


def test_cells_that_train_no_network_never_go_to_a_gpu_pool():
    assert pool_for(Item("net", True), ["0"]) == "gpu"
    assert pool_for(Item("mean", False), ["0", "1"]) == "cpu"
    assert pool_for(Item("net", True), []) == "cpu"  # no GPU: one pool, as before
    assert pool_for(object(), ["0"]) == "gpu"  # an item that does not say is taken to need one


def test_the_cpu_pool_gets_the_cores_the_gpu_workers_leave_free():
    assert pool_plan(10, 4, gpu_workers=2, cpus=8) == {"gpu": (2, 1), "cpu": (4, 1)}
    assert pool_plan(10, 2, gpu_workers=2, cpus=8) == {"gpu": (2, 1), "cpu": (2, 3)}  # 6 free cores, 2 cells
    assert pool_plan(10, 5, gpu_workers=4, cpus=4) == {"gpu": (4, 1), "cpu": (1, 1)}  # at least one CPU worker
    assert pool_plan(10, 0, gpu_workers=2, cpus=8) == {"gpu": (2, 4)}  # no CPU pool: the cores shared out
    assert pool_plan(1, 0, gpu_workers=4, cpus=8) == {"gpu": (1, 8)}  # no more workers than cells
    assert pool_plan(0, 3, gpu_workers=2, cpus=8) == {"cpu": (3, 2)}


def test_each_worker_gets_its_gpu_or_none_at_all():
    devices = ["2", "GPU-8a1f"]
    assert worker_env("gpu", 3, devices, 1) == {"OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "GPU-8a1f",
                                                api.GIVEN_GPU: "GPU-8a1f"}
    assert worker_env("cpu", 0, devices, 2) == {"OMP_NUM_THREADS": "2", "CUDA_VISIBLE_DEVICES": ""}
    assert worker_env("cpu", 0, [], 2) == {"OMP_NUM_THREADS": "2"}  # no GPU: CUDA_VISIBLE_DEVICES left alone


def test_cells_per_gpu_by_default_from_free_memory_and_the_measured_peak():
    assert cells_per_gpu_for(None, 2 * GIB, most=8) == 1 and cells_per_gpu_for(40 * GIB, None, most=8) == 1
    per_worker = 2 * GIB * 1.25 + CONTEXT_BYTES  # 3.5 GiB
    assert cells_per_gpu_for(int(10 * per_worker) + 1, 2 * GIB, most=16) == 10
    assert cells_per_gpu_for(int(10 * per_worker) + 1, 2 * GIB, most=4) == 4  # no more than cores to drive them
    assert cells_per_gpu_for(GIB, 2 * GIB, most=8) == 1  # a cell larger than the free memory still gets one
    records = [{"configuration_id": "a", "peak_memory_bytes": 3}, {"configuration_id": "a", "peak_memory_bytes": 5},
               {"configuration_id": "b", "peak_memory_bytes": 4}, {"configuration_id": "c"}]
    assert measured_peak(records, {"a", "b"}) == 5
    assert measured_peak(records, {"a", "c"}) is None  # c never measured: it could need more
    assert measured_peak(records, set()) is None


def test_jobs_or_cells_per_gpu_sets_the_gpu_workers(monkeypatch, tmp_path):
    executor = Local(cells_per_gpu=3)
    executor.devices = ["0", "1"]
    assert executor.gpu_workers([Item("n", True)]) == 6
    executor = Local(jobs=5)
    executor.devices = ["0", "1"]
    assert executor.gpu_workers([Item("n", True)]) == 5
    executor = Local()
    executor.devices = ["0"]
    monkeypatch.setattr(executor, "_free_memory", lambda: 40 * GIB)
    assert executor.gpu_workers([Item("n", True)], tmp_path) == 1  # nothing measured in this run yet
    cell = tmp_path / "cells" / "x" / "cell.json"
    cell.parent.mkdir(parents=True)
    cell.write_text('{"configuration_id": "c", "peak_memory_bytes": %d}' % (2 * GIB))
    monkeypatch.setattr("benchsuite.toolkit.usable_cpus", lambda: 64)
    assert executor.gpu_workers([Item("n", True)], tmp_path) == 11  # 40 GiB / 3.5 GiB
    with pytest.raises(PluginError, match="not both"):
        Local(jobs=2, cells_per_gpu=2)
    with pytest.raises(PluginError, match="cells_per_gpu must be at least 1"):
        Local(cells_per_gpu=0)


def test_with_a_gpu_codec_free_cells_run_beside_it_in_a_pool_that_sees_none(monkeypatch):
    executor = Local(cells_per_gpu=2)
    monkeypatch.setattr(executor, "devices", ["0"])
    monkeypatch.setattr(executor, "in_process", False)
    items = [Item(f"net{i}", True) for i in range(3)] + [Item(f"mean{i}", False) for i in range(2)]
    seen = {result[0]: result for result in executor.map(where, items)}
    assert sorted(seen) == sorted(item.id for item in items)  # every item once
    assert all(seen[f"net{i}"][2:4] == ("0", "0") for i in range(3))
    assert all(seen[f"mean{i}"][2:4] == ("", None) for i in range(2))
    assert {seen[f"net{i}"][4] for i in range(3)}.isdisjoint({seen[f"mean{i}"][4] for i in range(2)})


def test_without_a_gpu_one_pool_as_before():
    executor = Local(jobs=2)
    assert executor.devices == [] and not executor.in_process
    before = os.environ.get("CUDA_VISIBLE_DEVICES")
    seen = list(executor.map(where, [Item("net", True), Item("mean", False)]))
    assert sorted(r[0] for r in seen) == ["mean", "net"]
    assert {r[2] for r in seen} == {before} and {r[3] for r in seen} == {None}
    assert Local().in_process  # no GPU and no --jobs: in this process, as before
