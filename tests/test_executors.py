"""Executors and faults: worker pools, two launchers on one run, grid manifests, killed workers."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchsuite.api import PluginError
from benchsuite.cli import main
from benchsuite.run.environment import usable_cpus
from benchsuite.run.grid import expand, load_spec
from benchsuite.run.store import RunStore
from conftest import mixed_cells

MEAN_ONLY = "-a", "mean-shape"


def _cli(*args):
    return [sys.executable, "-m", "benchsuite.cli", *args]


def _ids(grid_file, registry, **filters):
    return sorted(c.id for c in expand(load_spec(str(grid_file)), registry, filters).cells)


def test_local_pool_runs_every_cell_once_and_shares_the_cores(tiny_grid, tmp_path, registry, capsys):
    assert main(["run", "--grid", str(tiny_grid), "--results", str(tmp_path), "--run", "r", "--jobs", "2",
                 "-a", "[ms]*-*"]) == 0
    store = RunStore(tmp_path / "r")
    records = list(store.records())
    assert sorted(r["id"] for r in records) == _ids(tiny_grid, registry, architectures="[ms]*-*")
    assert all(r["status"] == "ok" for r in records)
    assert len({r["pid"] for r in records}) >= 1 and os.getpid() not in {r["pid"] for r in records}
    assert {r["threads"] for r in records} == {max(1, usable_cpus() // 2)}


def test_two_launchers_on_one_run_never_compute_a_cell_twice(tiny_grid, tmp_path, registry):
    tiny_grid.write_text(tiny_grid.read_text().replace("epochs = 2", "epochs = 4"))
    command = _cli("run", "--grid", str(tiny_grid), "--results", str(tmp_path), "--run", "r", "-a", "[ms]*-*")
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outputs = [p.communicate(timeout=300)[0] for p in (first, second)]
    computed = [int(re.search(r"(\d+) cells? computed", out).group(1)) for out in outputs]
    expected = _ids(tiny_grid, registry, architectures="[ms]*-*")
    assert sum(computed) == len(expected)  # each cell computed by exactly one of them
    store = RunStore(tmp_path / "r")
    assert sorted(r["id"] for r in store.records()) == expected
    assert all(r["status"] == "ok" for r in store.records())
    rerun = subprocess.run(command, capture_output=True, text=True)
    assert rerun.returncode == 0 and "0 cells computed" in rerun.stdout


def test_a_run_refuses_a_changed_grid_unless_asked(tiny_grid, tmp_path, capsys):
    base = ["run", "--grid", str(tiny_grid), "--results", str(tmp_path), "--run", "r", *MEAN_ONLY]
    assert main(base) == 0
    assert main(base + ["-a", "mean-shape"]) == 0  # filtering the same grid is fine
    assert main(base + ["--set", "split_seed=7"]) == 2
    err = capsys.readouterr().err
    assert "started with grid 'tiny'" in err and "--change-grid" in err and len(err.strip().splitlines()) == 1
    assert main(base + ["--set", "split_seed=7", "--change-grid"]) == 0


def test_status_reports_complete_failed_and_missing_cells(tiny_grid, tmp_path, capsys, registry):
    assert main(["run", "--grid", str(tiny_grid), "--results", str(tmp_path), "--run", "r", *MEAN_ONLY]) == 0
    cells = expand(load_spec(str(tiny_grid)), registry).cells
    RunStore(tmp_path / "r").adopt_grid("tiny", [c.id for c in cells])  # a launch asked for all, then was killed
    capsys.readouterr()
    assert main(["status", "r", "--results", str(tmp_path)]) == 1  # the networks' cells are not started
    out = capsys.readouterr().out
    assert re.search(r"ok\s+2", out) and re.search(r"not started\s+4", out) and re.search(r"running\s+0", out)


def test_a_dead_worker_leaves_no_pool_running_behind_the_one_line_error():
    """A broken pool left to wind down at interpreter exit races its own wake-up pipe there, and the user saw a
    traceback (OSError: Bad file descriptor) after the one-line error: the launcher joins its pools first."""
    from concurrent.futures.process import _threads_wakeups

    from benchsuite_builtin.executors.local import Local

    with pytest.raises(PluginError, match="a worker process died"):
        list(Local(jobs=2).map(os._exit, [9, 9, 9]))  # each worker dies on its first cell
    assert not [thread for thread in list(_threads_wakeups) if thread.is_alive()]


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _finished(cells_dir: Path) -> list[str]:
    return [p.name for p in cells_dir.iterdir() if not p.name.startswith(".")] if cells_dir.exists() else []


def test_killing_a_worker_fails_the_launcher_cleanly_and_a_rerun_completes(tiny_grid, tmp_path, registry):
    tiny_grid.write_text(tiny_grid.read_text().replace("epochs = 2", "epochs = 6"))
    command = _cli("run", "--grid", str(tiny_grid), "--results", str(tmp_path), "--run", "r", "--jobs", "2",
                   "-a", "smp-*")
    launcher = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    locks = tmp_path / "r" / "cells" / ".locks"
    deadline = time.time() + 120
    while time.time() < deadline and not (locks.is_dir() and any(locks.iterdir())):
        time.sleep(0.05)
    workers = [p for p in _children(launcher.pid) if "resource_tracker" not in Path(f"/proc/{p}/cmdline").read_text()]
    assert workers, "no worker process found"
    time.sleep(1.0)
    os.kill(workers[0], signal.SIGKILL)
    out, err = launcher.communicate(timeout=300)
    assert launcher.returncode != 0
    assert "a worker process died" in err and "Traceback" not in err
    rerun = subprocess.run(command, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    store = RunStore(tmp_path / "r")
    assert sorted(_finished(store.cells_dir)) == _ids(tiny_grid, registry, architectures="smp-*")
    assert all(r["status"] == "ok" for r in store.records())


def test_workers_are_dealt_round_the_gpus_the_user_or_scheduler_left_visible():
    from benchsuite_builtin.executors.local import device_for, visible_devices

    assert visible_devices(2, "2,3") == ["2", "3"]  # a scheduler's choice is kept, not renumbered 0, 1
    uuids = "GPU-8a1f,MIG-5c2e/1/0"
    assert visible_devices(2, uuids) == ["GPU-8a1f", "MIG-5c2e/1/0"]
    assert visible_devices(4, None) == ["0", "1", "2", "3"] and visible_devices(0, None) == []
    devices = visible_devices(2, "2,3")
    assert [device_for(slot, devices) for slot in range(5)] == ["2", "3", "2", "3", "2"]  # 5 workers, 2 GPUs
    assert device_for(0, []) is None


def test_jobs_are_workers_even_with_one_gpu(monkeypatch):
    import torch

    from benchsuite_builtin.executors.local import Local

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-8a1f")
    executor = Local(jobs=3)
    assert executor.jobs == 3 and executor.devices == ["GPU-8a1f"]


def test_slurm_asks_for_a_gpu_for_network_cells_and_passes_the_clusters_options_through(registry, tmp_path):
    pytest.importorskip("submitit")
    from benchsuite_builtin.executors.slurm import Slurm

    cells = mixed_cells(tmp_path, registry)
    networks = [c for c in cells if c.trains_networks]
    baselines = [c for c in cells if not c.trains_networks]
    assert networks and baselines
    slurm = Slurm(account="lab", qos="short", constraint="a100", sbatch="--reservation=course --nice=10")
    asked = slurm.job_parameters(cells)
    from benchsuite_builtin.executors.slurm import host_memory_gb

    size, channels = cells[0].protocol.input_size, cells[0].protocol.channels
    assert asked["gpus_per_node"] == 1 and asked["mem_gb"] == host_memory_gb(8, size, channels, gpu=True)
    assert (asked["slurm_account"], asked["slurm_qos"], asked["slurm_constraint"]) == ("lab", "short", "a100")
    assert asked["slurm_additional_parameters"] == {"reservation": "course", "nice": "10"}
    assert slurm.job_parameters(baselines)["gpus_per_node"] == 0  # the mean shape needs no GPU
    typed = Slurm(gpu_type="a100", gpus_per_node=2).job_parameters(networks)
    assert typed["slurm_gres"] == "gpu:a100:2" and "gpus_per_node" not in typed
    with pytest.raises(PluginError, match="sbatch options are --name=value"):
        Slurm(sbatch="reservation=course")
