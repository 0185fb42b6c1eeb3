"""The GPU check runs on the CPU in its quick mode, so it cannot rot before a GPU is lent: the same code,
tiny sizes, one JSON with the training step's host reads counted structurally."""
from __future__ import annotations

import json

from benchsuite.cli import main
from benchsuite.run.gpu_check import busy_fraction


def test_the_gpu_check_runs_on_a_cpu_in_quick_mode_and_writes_its_json(tmp_path, capsys):
    out = tmp_path / "check.json"
    assert main(["bench", "gpu", "--quick", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["quick"] is True and result["device"] == "cpu" and result["skipped"] == []
    (row,) = result["networks"]  # quick: the lab grid's smallest network, once
    assert row["network"].startswith("U-Net+EfficientNet-Lite0") and row["precision"] == "fp32"
    assert row["host_syncs_per_step"] == 0 and row["host_reads"] == {}
    assert 0 < row["efficiency"] <= 1 and row["loop_images_per_s"] > 0
    assert set(row["bare_images_per_s_by_batch"]) == {"2", "4"}
    assert row["busy_fraction"] is None and row["peak_memory_mb"] is None  # CUDA-only measurements
    assert result["determinism"]["identical_weights"] is True
    assert [run["cells"] for run in result["packing"]["runs"]] == [1, 2]
    assert all(run["images_per_s"] > 0 for run in result["packing"]["runs"])
    assert f"written to {out}" in capsys.readouterr().out


def test_the_busy_fraction_is_kernel_time_over_wall_time_at_most_one():
    assert busy_fraction(900_000, 1.0) == 0.9
    assert busy_fraction(3_000_000, 1.0) == 1.0  # kernels overlapping on streams
    assert busy_fraction(1.0, 0.0) is None
