"""A cell meant for a GPU that trained on the CPU says so (record and progress), and Slurm's host memory is
sized from the dataset: both checked on a CPU."""
from __future__ import annotations

import json
import os

import pytest

from benchsuite import api
from benchsuite.cli import main
from benchsuite.run.runner import device_warning
from benchsuite.run.store import RunStore
from conftest import mixed_cells


def test_a_network_cell_given_a_gpu_that_saw_none_warns():
    record = {"gpu_given": "GPU-8a1f", "device": "cpu", "hardware": {"gpus": []}}
    assert "meant for a GPU (GPU-8a1f) but trained on the CPU" in device_warning(record, trains_networks=True)
    assert device_warning(record, trains_networks=False) is None  # the mean shape needs no GPU
    assert device_warning({**record, "device": "cuda"}, True) is None
    assert device_warning({**record, "hardware": {"gpus": ["NVIDIA H200"]}}, True) is None
    assert device_warning({"device": "cpu", "hardware": {"gpus": []}}, True) is None  # never given one


def test_the_run_prints_one_warning_line_naming_the_cell_and_records_it(tiny_grid, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(api.GIVEN_GPU, "3")  # as a GPU worker's environment says, on this CPU-only machine
    assert main(["run", "--grid", str(tiny_grid), "--results", str(tmp_path), "--run", "r", "-a", "mean-shape",
                 "-a", "smp-*"]) == 0
    out = capsys.readouterr().out
    records = list(RunStore(tmp_path / "r").records())
    networks = [r for r in records if r.get("device")]
    assert networks and all(r["gpu_given"] == "3" and "trained on the CPU" in r["device_warning"] for r in networks)
    assert all("device_warning" not in r for r in records if not r.get("device"))
    warnings = [line for line in out.splitlines() if "meant for a GPU" in line]
    assert len(warnings) == len(networks) and all("WARNING" in w and "smp-unet" in w for w in warnings)
    assert all("peak_memory_bytes" not in r for r in records)  # no CUDA here: nothing measured


def test_slurm_host_memory_grows_with_the_staged_images():
    pytest.importorskip("submitit")
    from benchsuite_builtin.executors.slurm import MODEL_GB, PROCESS_GB, STAGING_FACTOR, host_memory_gb

    assert host_memory_gb(0, 256, 3, gpu=False) == PROCESS_GB[False] + MODEL_GB
    xrays = 400 * 1 * 512 * 512 / 1e9  # 400 grayscale X-rays at 512 × 512: 0.1 GB staged
    assert host_memory_gb(400, 512, 1, gpu=True) == int(PROCESS_GB[True] + MODEL_GB + 1)  # rounded up
    big = 20000 * 3 * 384 * 256 / 1e9  # 5.9 GB staged
    assert host_memory_gb(20000, (384, 256), 3, gpu=True) == 29  # 4 + 4 × 5.9 + 1, rounded up
    assert host_memory_gb(20000, (384, 256), 3, gpu=True) > host_memory_gb(400, 512, 1, gpu=True)
    assert STAGING_FACTOR * xrays < 1 < STAGING_FACTOR * big


def test_slurm_asks_what_the_grids_largest_dataset_needs(tmp_path, registry):
    pytest.importorskip("submitit")
    from benchsuite_builtin.executors.slurm import FALLBACK_GB, Slurm, cells_memory_gb, host_memory_gb

    cells = mixed_cells(tmp_path, registry, 'input_size = 64\n')
    assert cells_memory_gb(cells, gpu=True) == host_memory_gb(8, 64, cells[0].protocol.channels, gpu=True)
    assert Slurm().job_parameters(cells)["mem_gb"] == host_memory_gb(8, 64, cells[0].protocol.channels, True)
    assert Slurm(mem_gb=32).job_parameters(cells)["mem_gb"] == 32  # the user's figure wins
    assert cells_memory_gb([object()], gpu=False) == FALLBACK_GB[False]  # a cell that does not say its dataset
    assert json.dumps(Slurm().job_parameters(cells))  # submitit's parameters stay plain values


def _given(item):
    import os

    return os.environ.get(api.GIVEN_GPU)


def test_a_slurm_job_that_asked_for_a_gpu_tells_its_cell(monkeypatch):
    pytest.importorskip("submitit")
    from benchsuite_builtin.executors.slurm import _CellJob

    monkeypatch.setenv(api.GIVEN_GPU, "")  # undone at the end, so the jobs' own setting never leaks out
    os.environ.pop(api.GIVEN_GPU)
    assert _CellJob(_given, gpu=False)(None) is None
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "MIG-5c2e")
    assert _CellJob(_given, gpu=True)(None) == "MIG-5c2e"
    os.environ.pop(api.GIVEN_GPU)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # the job asked, Slurm passed nothing through
    assert _CellJob(_given, gpu=True)(None) == "requested from Slurm"


def test_a_cell_that_used_cuda_records_its_own_peak_memory(tiny_grid, tmp_path, monkeypatch):
    import torch

    resets = []
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)  # as in a worker whose earlier cell used CUDA
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda *a: resets.append(1))
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda *a: 123_456_789)
    assert main(["run", "--grid", str(tiny_grid), "--results", str(tmp_path), "--run", "r", "-a", "mean-shape"]) == 0
    records = list(RunStore(tmp_path / "r").records())
    assert records and all(r["peak_memory_bytes"] == 123_456_789 for r in records)
    assert len(resets) == len(records)  # each cell's peak is its own, not the worker's so far
