"""The smoke grid end to end (pytest-benchmark, only with --benchmark-enable: minutes on a CPU).

Its extra_info splits the grid's wall time into the cells' training, validation and speed-ceiling
measurement and the rest, the overhead that does not grow with the work: starting, reading and preparing
images, building networks, predicting, writing results.
"""
from __future__ import annotations

import itertools
import json
import time

import pytest

from benchsuite.run.launch import run_grid


def test_smoke_grid_overhead(benchmark, tmp_path):
    if benchmark.disabled:
        pytest.skip("grid-scale benchmark: run with --benchmark-enable (tox -e bench)")
    runs = itertools.count()

    def grid():
        name = f"smoke{next(runs)}"
        started = time.perf_counter()
        run_grid("smoke", results=tmp_path, run=name)
        return time.perf_counter() - started, name

    wall, name = benchmark.pedantic(grid, rounds=1, iterations=1)
    records = [json.loads(p.read_text()) for p in (tmp_path / name / "cells").glob("*/cell.json")]
    spent = {key: sum(r.get(key, 0.0) for r in records)
             for key in ("train_seconds", "validation_seconds", "ceiling_seconds", "wall_seconds")}
    rest = wall - spent["train_seconds"] - spent["validation_seconds"] - spent["ceiling_seconds"]
    benchmark.extra_info.update(spent, grid_seconds=wall, overhead_share=rest / wall,
                                train_share=spent["train_seconds"] / wall)
    print(f"\nsmoke grid: {wall:.1f} s, training {spent['train_seconds'] / wall:.1%}, validation "
          f"{spent['validation_seconds'] / wall:.1%}, ceiling {spent['ceiling_seconds'] / wall:.1%}, "
          f"rest {rest / wall:.1%} ({len(records)} cells)")
    assert len(records) == 9
