"""Running a grid end to end: results store, resume, force, failures, SIGKILL, leaderboard."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from benchsuite.cli import main
from benchsuite.run import runner
from benchsuite.run.grid import expand, load_spec
from benchsuite.run.store import IMAGE_COLUMNS, PREDICTION_COLUMNS, RunStore


def _cells(tiny_grid, registry):
    return expand(load_spec(str(tiny_grid)), registry).cells


def _cell_dirs(root):
    """Every entry of cells/ but the lock folder: leftover temporaries would show up here."""
    return sorted(p.name for p in (root / "cells").iterdir() if p.name != ".locks")


def test_run_stores_every_cell_with_its_record_and_predictions(tiny_grid, tmp_path, registry, capsys):
    assert main(["run", "--grid", str(tiny_grid), "--results", str(tmp_path), "--run", "r"]) == 0
    store = RunStore(tmp_path / "r")
    cells = _cells(tiny_grid, registry)
    assert _cell_dirs(store.root) == sorted(c.id for c in cells) and len(cells) == 6
    for cell in cells:
        record = store.record(cell.id)
        assert record["status"] == "ok" and record["config"] == json.loads(json.dumps(cell.identity()))
        assert record["run"] == "r" and record["configuration_id"] == cell.configuration_id
        assert {"packages", "git_revision", "hardware", "wall_seconds", "split"} <= set(record)
        assert record["packages"]["torch"] and record["hardware"]["cpu_count"]
        if cell.architecture.name != "mean-shape":
            assert record["epochs_run"] == 2 and 1 <= record["best_epoch"] <= 2 and record["train_images_per_s"] > 0
        table = store.predictions(cell.id)
        assert list(table.columns) == PREDICTION_COLUMNS + IMAGE_COLUMNS
        assert len(table) == record["split"]["test"] * 3 and table.pred_x.notna().all()
    out = capsys.readouterr().out
    assert "6 cells computed" in out and "| mean-shape" in out  # the leaderboard is printed
    assert main(["leaderboard", "r", "--results", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() in out  # the same one, flags and notes included
    for cell in cells:  # the fixed rest of a cell's time is what training, validation and the ceiling leave
        record = store.record(cell.id)
        if "epochs_run" in record:
            spent = record["train_seconds"] + record["validation_seconds"] + record["ceiling_seconds"]
            assert record["fixed_seconds"] == pytest.approx(record["wall_seconds"] - spent)


def test_rerun_skips_completed_cells_and_force_recomputes(tiny_grid, tmp_path, monkeypatch, capsys):
    args = ["run", "--grid", str(tiny_grid), "--results", str(tmp_path), "--run", "r", "-a", "mean-shape"]
    assert main(args) == 0
    computed = []
    original = runner.compute_cell
    monkeypatch.setattr(runner, "compute_cell", lambda cell, *a, **k: computed.append(cell) or original(cell, *a, **k))
    assert main(args) == 0
    assert computed == [] and "2 already complete (skipped)" in capsys.readouterr().out
    assert main(args + ["--force"]) == 0
    assert len(computed) == 2


def test_a_failing_cell_is_recorded_the_grid_goes_on_and_the_next_run_retries(tiny_grid, tmp_path, monkeypatch, capsys):
    args = ["run", "--grid", str(tiny_grid), "--results", str(tmp_path), "--run", "r", "-a", "mean-shape"]
    original = runner.compute_cell

    def flaky(cell, *a, **k):
        if cell.fold == 0:
            raise RuntimeError("out of memory (simulated)")
        return original(cell, *a, **k)

    monkeypatch.setattr(runner, "compute_cell", flaky)
    assert main(args) == 1
    captured = capsys.readouterr()
    assert "1 failed" in captured.out and "out of memory (simulated)" in captured.err
    store = RunStore(tmp_path / "r")
    statuses = sorted(r["status"] for r in store.records())
    assert statuses == ["failed", "ok"]
    failed = next(r for r in store.records() if r["status"] == "failed")
    assert "out of memory" in failed["error"] and "Traceback" in failed["traceback"]
    monkeypatch.setattr(runner, "compute_cell", original)
    assert main(args) == 0
    assert "1 cell computed, 1 already complete" in capsys.readouterr().out
    assert sorted(r["status"] for r in store.records()) == ["ok", "ok"]


def test_a_cell_interrupted_while_writing_leaves_no_trace(tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    table = pd.DataFrame({c: [1.0] for c in PREDICTION_COLUMNS})

    def crash(*a, **k):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", crash)
    with pytest.raises(OSError):
        store.write("abc", {"status": "ok"}, table)
    assert store.status("abc") is None and list(store.records()) == []
    assert _cell_dirs(tmp_path) == []  # the failed write removed its own temporary
    monkeypatch.undo()
    leftover = tmp_path / "cells" / ".tmp-abc-0123456789ab"  # what a killed writer leaves
    leftover.mkdir()
    assert store.remove_stale_temporaries() == 0  # too recent: its writer may still be renaming it
    os.utime(leftover, (time.time() - 3600, time.time() - 3600))
    assert store.remove_stale_temporaries() == 1 and not leftover.exists()


def test_sigkill_mid_run_then_rerun_completes_every_cell_exactly_once(tiny_grid, tmp_path, registry):
    grid_text = tiny_grid.read_text().replace("epochs = 2", "epochs = 6")
    tiny_grid.write_text(grid_text)
    command = [sys.executable, "-m", "benchsuite.cli", "run", "--grid", str(tiny_grid), "--results", str(tmp_path),
               "--run", "r"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cells_dir = tmp_path / "r" / "cells"
    deadline = time.time() + 600  # generous: a loaded machine is slow, an idle one gets there in seconds
    while time.time() < deadline:
        done = [p for p in cells_dir.glob("*") if not p.name.startswith(".")] if cells_dir.exists() else []
        if len(done) >= 3:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    store = RunStore(tmp_path / "r")
    expected = sorted(c.id for c in _cells(tiny_grid, registry))
    finished = [p.name for p in cells_dir.iterdir() if not p.name.startswith(".")]
    assert 3 <= len(finished) < len(expected), "the kill should land mid-grid"
    for name in finished:  # whatever is visible is complete
        assert store.status(name) == "ok" and (cells_dir / name / "predictions.parquet").is_file()
    rerun = subprocess.run(command, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(expected) - len(finished)} cells computed, {len(finished)} already complete" in rerun.stdout
    cells = [name for name in _cell_dirs(store.root) if not name.startswith(".")]
    assert cells == expected  # no duplicates, nothing missing
    assert all(r["status"] == "ok" for r in store.records())
    # the killed writer's half-built cell stays hidden until it is stale (a writer on another node may not be
    # able to see our locks, so a fresh temporary is never taken from it), then any later run removes it
    for leftover in set(_cell_dirs(store.root)) - set(cells):
        os.utime(store.root / "cells" / leftover, (time.time() - 3600, time.time() - 3600))
    store.remove_stale_temporaries()
    assert _cell_dirs(store.root) == expected


def test_a_filtered_run_is_a_complete_run_and_a_later_unfiltered_one_extends_it(tiny_grid, tmp_path, capsys,
                                                                                registry):
    """Issue 20, point 1: the cells a user asked for are the run; those the filters left out are not missing."""
    from benchsuite.report.page import Report

    args = ["run", "--grid", str(tiny_grid), "--results", str(tmp_path), "--run", "r"]
    assert main(args + ["-a", "mean-shape"]) == 0
    capsys.readouterr()
    assert main(["status", "r", "--results", str(tmp_path)]) == 0  # complete: both asked cells are ok
    out = capsys.readouterr().out
    assert "2 cells" in out and "4 more cells of the grid left out by the run's filters" in out
    report = Report(tmp_path / "r", registry=registry)
    assert report.pending == [] and "partial" not in report.overview()
    manifest = json.loads((tmp_path / "r" / "grid.json").read_text())
    assert len(manifest["cells"]) == 6 and len(manifest["asked"]) == 2
    assert main(args + ["-a", "fc-regression"]) == 0  # a second filter adds its cells to the run
    assert len(json.loads((tmp_path / "r" / "grid.json").read_text())["asked"]) == 4
    assert main(["status", "r", "--results", str(tmp_path)]) == 0
    assert "2 more cells of the grid left out" in capsys.readouterr().out


def test_a_record_names_its_commit_and_says_when_the_code_had_uncommitted_changes(tmp_path):
    """A result claims the commit whose code ran: the same commit with edited tracked files is "-dirty"."""
    import shutil

    from benchsuite.run.environment import _git_revision

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    git = ["git", "-c", "user.email=lab@example.org", "-c", "user.name=lab"]
    (tmp_path / "code.py").write_text("x = 1\n")
    subprocess.run(git + ["init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(git + ["add", "code.py"], cwd=tmp_path, check=True)
    subprocess.run(git + ["commit", "-q", "-m", "one"], cwd=tmp_path, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    (tmp_path / "notes.txt").write_text("untracked files change no code that ran\n")
    assert _git_revision(tmp_path) == head
    (tmp_path / "code.py").write_text("x = 2\n")
    assert _git_revision(tmp_path) == f"{head}-dirty"
