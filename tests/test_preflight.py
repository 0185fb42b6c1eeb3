"""A dry run reports what the run refuses, and knows the run (issue 20, points 6, 15, 21 and 22).

Each refused case is given to ``run --dry-run`` and to ``run``: both exit 2 with the same one-line reason,
and neither writes anything.
"""
from __future__ import annotations

import re
from pathlib import Path

import landmark_files as lf
import pytest

from benchsuite.cli import main
from benchsuite.run import preflight

GRID = """
protocol = "smoke"
datasets = [{dataset}]
architectures = [{architectures}]
encoders = ["resnet18"]
codecs = ["integral"]
[settings]
input_size = 32
folds = 2
epochs = 1
"""
SYNTHETIC = '{ name = "synthetic", n_images = 8, n_landmarks = 2, min_size = 32, max_size = 40 }'


def _grid(folder: Path, dataset: str = SYNTHETIC, architectures: str = '"mean-shape"') -> str:
    path = folder / "grid.toml"
    path.write_text(GRID.format(dataset=dataset, architectures=architectures))
    return str(path)


def _folder_grid(tmp_path: Path, damage) -> str:
    data = lf.tps_folder(tmp_path / "data", n=4, size=(40, 30))
    damage(data)
    return _grid(tmp_path, f'{{ name = "folder", path = "{data}" }}')


def _truncated_jpeg(data: Path) -> None:
    lf.image(data / "img0.jpg", 40, 30, seed=1)
    (data / "img0.png").unlink()
    text = (data / "landmarks.tps").read_text().replace("IMAGE=img0.png", "IMAGE=img0.jpg")
    (data / "landmarks.tps").write_text(text)
    payload = (data / "img0.jpg").read_bytes()
    (data / "img0.jpg").write_bytes(payload[: len(payload) * 2 // 3])


def _far_landmark(data: Path) -> None:
    text = (data / "landmarks.tps").read_text().splitlines()
    text[1] = "1e30 5"
    (data / "landmarks.tps").write_text("\n".join(text) + "\n")


def _predicted(data: Path) -> None:
    text = (data / "landmarks.tps").read_text().replace("ID=0", "ID=0\nCOMMENT=predicted by benchsuite: delete "
                                                        "this line once proofread")
    (data / "landmarks.tps").write_text(text)


def _dlib(params: str) -> str:
    return f'{{ name = "dlib-ert", {params} }}'


CASES = {
    "run name with ..": (lambda t: _grid(t), ["--run", "../escape"], "run name '../escape'"),
    "absolute run name": (lambda t: _grid(t), ["--run", "/abs"], "run name '/abs'"),
    "run name with a newline": (lambda t: _grid(t), ["--run", "a\nb"], "run name 'a\\nb'"),
    "empty run name": (lambda t: _grid(t), ["--run", ""], "run name ''"),
    "unknown executor option": (lambda t: _grid(t), ["-x", "bogus=1"], "unknown parameter 'bogus'"),
    "negative checkpoint interval": (lambda t: _grid(t), ["--checkpoint-every", "-5"], "checkpoint interval"),
    "dlib tree depth": (lambda t: _grid(t, architectures=_dlib("tree_depth = -3")), [], "tree_depth"),
    "dlib downscale": (lambda t: _grid(t, architectures=_dlib("downscale = 0")), [], "downscale must be in (0, 1]"),
    "truncated JPEG": (lambda t: _folder_grid(t, _truncated_jpeg), [], "img0.jpg: truncated JPEG"),
    "landmark at 1e30": (lambda t: _folder_grid(t, _far_landmark), [], "lies far outside the 40×30 image"),
    "unproofread predictions": (lambda t: _folder_grid(t, _predicted), [], "nobody has proofread"),
    "input of 100000 pixels": (lambda t: _grid(t), ["--set", "input_size=100000"], "more than this machine's"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_dry_run_refuses_what_the_run_refuses_with_the_same_line_and_neither_writes(tmp_path, capsys, case):
    if "dlib" in case:
        pytest.importorskip("dlib")
    make, extra, expected = CASES[case]
    grid, results = make(tmp_path), tmp_path / "results"
    before = sorted(tmp_path.rglob("*"))
    assert main(["run", "--grid", grid, "--results", str(results), "--dry-run", *extra]) == 2
    dry = capsys.readouterr().err.strip().splitlines()
    assert main(["run", "--grid", grid, "--results", str(results), *extra]) == 2
    real = capsys.readouterr().err.strip().splitlines()
    assert len(real) == 1 and expected in real[0], real
    assert [line.removeprefix("benchsuite: error: ") for line in dry] == \
        [real[0].removeprefix("benchsuite: error: ")], dry
    assert sorted(tmp_path.rglob("*")) == before  # nothing written, not even the results folder


def test_a_grid_with_an_empty_methods_list_is_refused_not_read_as_the_whole_product(tmp_path, capsys):
    path = tmp_path / "grid.toml"
    path.write_text(f'protocol = "smoke"\ndatasets = [{SYNTHETIC}]\nmethods = []\n')
    for extra in (["--dry-run"], []):
        assert main(["run", "--grid", str(path), "--results", str(tmp_path / "r"), *extra]) == 2
        assert "methods = [] lists no method" in capsys.readouterr().err


def test_a_slurm_controller_that_is_down_is_said_by_the_dry_run(tmp_path, capsys, monkeypatch):
    pytest.importorskip("submitit")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for command in ("sbatch", "srun", "sacct", "scancel", "scontrol"):
        answer = "echo 'Slurmctld(primary) at head is DOWN'; exit 1" if command == "scontrol" else "exit 0"
        (bin_dir / command).write_text(f"#!/bin/sh\n{answer}\n")
        (bin_dir / command).chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    grid = _grid(tmp_path)
    for extra in (["--dry-run"], []):
        assert main(["run", "--grid", grid, "--results", str(tmp_path / "r"), "--executor", "slurm", *extra]) == 2
        err = capsys.readouterr().err
        assert "Slurm controller is not answering (scontrol ping: Slurmctld(primary) at head is DOWN)" in err
    assert not (tmp_path / "r").exists()


def test_a_dry_run_of_a_paper_grid_without_its_images_lists_its_cells_and_where_to_put_them(tmp_path, capsys,
                                                                                             monkeypatch):
    monkeypatch.setenv("BENCHSUITE_DATA", str(tmp_path / "nothing-here"))
    assert main(["run", "--grid", "paper-fish", "--results", str(tmp_path / "r"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^  run   \w+  zebrafish \| ", out, re.M)  # the design is listed
    assert re.search(r"^  missing dataset zebrafish: dataset files not found at .*nothing-here.*put them there", out,
                     re.M)
    assert re.search(r"^120 cells to run, 0 already complete", out, re.M)
    assert main(["run", "--grid", "paper-fish", "--results", str(tmp_path / "r")]) == 2  # a run refuses it
    assert "zebrafish: dataset files not found" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_the_dry_run_knows_the_run_its_folder_its_complete_cells_and_the_time_in_all(tiny_grid, tmp_path, capsys):
    args = ["run", "--grid", str(tiny_grid), "--results", str(tmp_path), "--run", "r"]
    assert main([*args, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"run r in {tmp_path / 'r'} (new)\n")
    assert re.search(r"^6 cells to run, 0 already complete, .* skipped; about \d+ s of computing here$", out, re.M)
    assert main([*args, "-a", "mean-shape"]) == 0
    capsys.readouterr()
    assert main([*args, "--dry-run", "-j", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"run r in {tmp_path / 'r'} (2 of 6 cells complete)\n")
    assert len(re.findall(r"^  done  \w+  .*mean-shape \| fold \d  \[complete in this run: not run again\]$", out,
                          re.M)) == 2
    assert len(re.findall(r"^  run   ", out, re.M)) == 4
    assert re.search(r"^4 cells to run, 2 already complete, .*; about \d+ s of computing here \(about \d+ s over 2 "
                     r"workers\)$", out, re.M)


def test_a_batch_larger_than_a_fold_is_said_and_still_runs(tmp_path, capsys):
    grid = _grid(tmp_path, architectures='{ name = "smp-unet", encoder_depth = 3, decoder_channels = [16, 8, 8] }')
    assert main(["run", "--grid", grid, "--results", str(tmp_path / "r"), "--dry-run", "--set",
                 "batch_size=100000000"]) == 0
    assert "note  batch_size 100000000 is more than the 3 training images of a fold" in capsys.readouterr().out


def test_fit_refuses_unproofread_predictions_as_training_images(tmp_path, capsys):
    data = lf.tps_folder(tmp_path / "data", n=4, size=(40, 30))
    grid = _grid(tmp_path, f'{{ name = "folder", path = "{data}" }}')
    assert main(["run", "--grid", grid, "--results", str(tmp_path / "results"), "--run", "r"]) == 0
    _predicted(data)
    capsys.readouterr()
    code = main(["fit", "r", "mean-shape", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "m")])
    assert code == 2 and "nobody has proofread" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_damaged_images_are_found_from_the_two_ends_of_the_file(tmp_path):
    whole = lf.image(tmp_path / "a.jpg", 40, 30)
    assert preflight.damaged_image(whole) is None
    assert preflight.damaged_image(lf.image(tmp_path / "a.png", 40, 30)) is None
    cut = tmp_path / "cut.png"
    cut.write_bytes((tmp_path / "a.png").read_bytes()[:-20])
    assert "truncated PNG" in preflight.damaged_image(cut)
    (tmp_path / "empty.jpg").write_bytes(b"")
    assert preflight.damaged_image(tmp_path / "empty.jpg") == "empty file"


def test_the_memory_bound_is_a_lower_bound_from_the_images_and_one_batch(registry, tiny_grid):
    from benchsuite.run.launch import plan_grid

    plan = plan_grid(str(tiny_grid), registry=registry, settings={"input_size": 1000})
    label = plan.cells[0].dataset.label
    # 12 grayscale images of 1000×1000 bytes, and a batch of 4 (a fold trains on 4) in float32 with its gradient
    needed = 12 * 1_000_000 + 2 * 4 * 4 * 1_000_000
    assert preflight.settings_problems(plan.cells, registry, {label: 12}, memory=needed)[0] == []
    problems = preflight.settings_problems(plan.cells, registry, {label: 12}, memory=needed - 1)[0]
    assert len(problems) == 1 and "input_size 1000×1000" in problems[0]


def test_a_pattern_that_selects_several_methods_is_said_before_the_run(tiny_grid, tmp_path, capsys):
    """Issue 20, point 11: ``-a dlib-ert`` takes both dlib presets; the user hears which methods a pattern took."""
    args = ["run", "--grid", str(tiny_grid), "--results", str(tmp_path), "--run", "r", "-a", "*-*"]
    assert main([*args, "--dry-run"]) == 0
    note = r"-a \*-\* selects 3 methods: fc-regression\S*; mean-shape; smp-unet\S* \(quote one of them"
    assert re.search(f"^  note  {note}", capsys.readouterr().out, re.M)
    assert main(args) == 0
    out = capsys.readouterr().out
    assert re.search(f"note: {note}", out) and out.index("note: ") < out.index(" cells, 0 already complete")


def test_the_dry_run_says_how_many_epochs_fit_in_a_budget_that_ends_training_first(tiny_grid, tmp_path, capsys):
    """Issue 18: whether a budget lets a network converge is the question a CPU user asks before the run."""
    args = ["run", "--grid", str(tiny_grid), "--results", str(tmp_path), "-a", "smp-*", "--dry-run",
            "--set", "epochs=100000", "--set", "max_minutes=0.01"]
    assert main(args) == 0
    assert re.search(r"≤100000 epochs, budget 0\.01 min: ≤\d+ epochs here, from scratch", capsys.readouterr().out)
