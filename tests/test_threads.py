"""A cell uses as many compute threads as CPUs it was given, whoever gave them (Slurm, taskset, a container).

Two 1-CPU Slurm tasks that each run torch with every core's thread slow each
other down many times over; the limits are read from the allocation and
recorded in cell.json.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from benchsuite.run import environment
from benchsuite.run.store import RunStore


def _cgroup(tmp_path, files: dict[str, str]):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_cgroup_v2_quota_of_the_group_or_an_ancestor_rounds_up(tmp_path):
    root = _cgroup(tmp_path, {"cpu.max": "max 100000", "job/cpu.max": "150000 100000",
                              "job/step/cpu.max": "max 100000"})
    assert environment.cgroup_cpu_quota(root, "0::/job/step\n") == 2
    assert environment.cgroup_cpu_quota(root, "0::/\n") is None
    (root / "cpu.max").write_text("50000 100000")  # the ancestor's half CPU limits the whole subtree
    assert environment.cgroup_cpu_quota(root, "0::/job/step\n") == 1


def test_cgroup_v1_quota_and_a_group_outside_the_namespace(tmp_path):
    root = _cgroup(tmp_path, {"cpu,cpuacct/cpu.cfs_quota_us": "300000", "cpu,cpuacct/cpu.cfs_period_us": "100000"})
    assert environment.cgroup_cpu_quota(root, "4:memory:/x\n3:cpu,cpuacct:/docker/abc\n") == 3
    (root / "cpu,cpuacct/cpu.cfs_quota_us").write_text("-1")
    assert environment.cgroup_cpu_quota(root, "3:cpu,cpuacct:/docker/abc\n") is None


def test_the_smallest_limit_wins(tmp_path):
    root = _cgroup(tmp_path, {"cpu.max": "200000 100000"})
    limits = environment.cpu_limits({"SLURM_CPUS_PER_TASK": "1", "OMP_NUM_THREADS": ""}, root, "0::/\n")
    assert limits["slurm"] == 1 and limits["cgroup"] == 2 and limits["omp"] is None
    assert environment.usable_cpus(limits) == 1
    assert environment.usable_cpus({"slurm": None, "affinity": 3, "cgroup": None, "omp": None}) == 3
    assert environment.usable_cpus({"slurm": None, "affinity": 8, "cgroup": 4, "omp": 2}) == 2


RUN_AND_REPORT = """
import json, sys
from benchsuite.cli import main
code = main(sys.argv[1:])
import torch
print(json.dumps({"code": code, "torch_threads": torch.get_num_threads()}))
"""


def _run_one_cell(tiny_grid, tmp_path, prefix=(), env=None):
    args = ["run", "--grid", str(tiny_grid), "--results", str(tmp_path), "--run", "r", "-a", "smp-unet",
            "--set", "epochs=1", "--set", "folds=2"]
    out = subprocess.run([*prefix, sys.executable, "-c", RUN_AND_REPORT, *args], capture_output=True, text=True,
                         env={**os.environ, **(env or {})}, timeout=600)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    records = list(RunStore(tmp_path / "r").records())
    assert records and all(r["status"] == "ok" for r in records)
    return report, records


@pytest.mark.skipif(shutil.which("taskset") is None or len(os.sched_getaffinity(0)) < 2,
                    reason="needs taskset and two CPUs")
def test_a_cell_pinned_to_one_core_trains_on_one_thread(tiny_grid, tmp_path):
    report, records = _run_one_cell(tiny_grid, tmp_path, prefix=("taskset", "-c", "0"))
    assert report["torch_threads"] == 1
    assert {r["threads"] for r in records} == {1} and {r["cpu_limits"]["affinity"] for r in records} == {1}


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")
def test_a_cell_given_one_cpu_by_slurm_trains_on_one_thread(tiny_grid, tmp_path):
    """Slurm need not pin a task to its cores: only SLURM_CPUS_PER_TASK says there is one."""
    report, records = _run_one_cell(tiny_grid, tmp_path, env={"SLURM_CPUS_PER_TASK": "1"})
    assert report["torch_threads"] == 1
    assert {r["threads"] for r in records} == {1} and {r["cpu_limits"]["slurm"] for r in records} == {1}
