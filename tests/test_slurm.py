"""The slurm executor against a real Slurm cluster (.ci/run starts a single-node one)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import slurm_up

from benchsuite.api import counted
from benchsuite.run.grid import expand, load_spec
from benchsuite.run.store import RunStore

pytestmark = [pytest.mark.slurm,
              pytest.mark.skipif(not slurm_up(), reason="no Slurm cluster (start one with ../shared/slurm/start-slurm.sh)")]


def _command(grid, results, *extra):
    return [sys.executable, "-m", "benchsuite.cli", "run", "--grid", str(grid), "--results", str(results),
            "--run", "r", "--executor", "slurm", "-x", "poll_s=0.5", "-x", "gpus_per_node=0", *extra]  # no GPUs here


def _expected(grid, registry, **filters):
    return sorted(c.id for c in expand(load_spec(str(grid)), registry, filters).cells)


def _wait_until(predicate, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def _holder(lock: Path) -> int:
    """The process that has ``lock`` open: the job computing that cell."""
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            if fd.readlink() == lock.resolve():
                return int(fd.parts[2])
        except OSError:
            continue  # a process or descriptor that went away while we looked
    raise AssertionError(f"no process holds {lock}")


def test_grid_runs_as_a_job_array(tiny_grid, tmp_path, registry):
    out = subprocess.run(_command(tiny_grid, tmp_path, "-a", "mean-shape"), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "as Slurm job array" in out.stdout and "2 cells computed" in out.stdout
    records = list(RunStore(tmp_path / "r").records())
    assert sorted(r["id"] for r in records) == _expected(tiny_grid, registry, architectures="mean-shape")
    assert all(r["status"] == "ok" for r in records)
    # one CPU per task (the default cpus_per_task): one thread, though Slurm does not pin the task to a core
    assert {r["threads"] for r in records} == {1} and {r["cpu_limits"]["slurm"] for r in records} == {1}


def test_launcher_can_exit_and_a_later_run_collects(tiny_grid, tmp_path, registry):
    first = subprocess.run(_command(tiny_grid, tmp_path, "-a", "mean-shape", "-x", "wait=false"),
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 1 and "submitted and not finished" in first.stdout
    status = [sys.executable, "-m", "benchsuite.cli", "status", "r", "--results", str(tmp_path)]
    assert _wait_until(lambda: re.search(r"ok\s+2\n", subprocess.run(status, capture_output=True, text=True).stdout))
    again = subprocess.run(_command(tiny_grid, tmp_path, "-a", "mean-shape"), capture_output=True, text=True)
    assert again.returncode == 0 and "0 cells computed, 2 already complete" in again.stdout


def test_a_killed_job_is_resubmitted_and_the_grid_completes_once(tiny_grid, tmp_path, registry):
    # cells that train for 20 s whatever the machine's speed (a time budget, no epoch limit, no early stop), so the
    # kill lands while one is training
    tiny_grid.write_text(tiny_grid.read_text().replace(
        "epochs = 2", "epochs = 1000000\npatience = 1000000\nmax_minutes = 0.33"))
    first = subprocess.run(_command(tiny_grid, tmp_path, "-a", "smp-*", "-x", "wait=false"),
                           capture_output=True, text=True, timeout=120)
    assert "submitted 2 cells" in first.stdout
    locks = tmp_path / "r" / "cells" / ".locks"
    assert _wait_until(lambda: locks.is_dir() and any(locks.iterdir())), "no job started"
    # the cell's process dies as under the kernel's OOM killer: scancel --signal=KILL on this test cluster
    # (proctrack/linuxproc) marks the task cancelled but leaves its srun step running to completion
    os.kill(_holder(next(locks.iterdir())), signal.SIGKILL)
    store = RunStore(tmp_path / "r")
    expected = _expected(tiny_grid, registry, architectures="smp-*")
    # wait until no job of ours is left in the queue, then re-run: only the killed cell is resubmitted
    assert _wait_until(lambda: not subprocess.run(["squeue", "-h", "-n", "benchsuite"], capture_output=True,
                                                  text=True).stdout.strip())
    done_before = [r["id"] for r in store.records() if r["status"] == "ok"]
    assert len(done_before) < len(expected)
    rerun = subprocess.run(_command(tiny_grid, tmp_path, "-a", "smp-*"), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"submitted {counted(len(expected) - len(done_before), 'cell')} as Slurm" in rerun.stdout
    assert sorted(r["id"] for r in store.records()) == expected
    assert all(r["status"] == "ok" for r in store.records())
