"""The dry run's time estimate for a network cell comes from how the same configuration trained before (issue 18):
when its learning curve converged, how long it trained, whether its budget stopped it still improving; the
epochs' upper bound only where nothing was measured yet."""
from __future__ import annotations

import numpy as np

from benchsuite.cli import main
from benchsuite.run.curves import converged
from benchsuite.run.estimate import _measured
from conftest import TINY_GRID
from fake_runs import trained

FLAT = np.r_[np.linspace(40.0, 5.0, 8), np.full(12, 5.0)]  # at its best from epoch 8, flat after
FALLING = np.linspace(40.0, 5.0, 20)  # still falling at its 20th epoch
SLOW = np.r_[np.linspace(40.0, 5.2, 10), np.linspace(5.2, 5.0, 5), np.full(10, 5.0)]  # within 5 % from epoch 10


def test_a_curve_converged_when_it_first_came_within_5_percent_of_its_best():
    assert converged(trained(FLAT, seconds_per_epoch=6.0)) == (8, 48.0)  # with its validation passes
    assert converged(trained(SLOW))[0] == 10  # not epoch 15, where its last small gain came
    assert converged(trained(FALLING)) is None  # still improving: it had not converged
    assert converged(trained(FLAT, curve=False)) is None  # no curve, no epoch to name
    assert converged({"train_seconds": 3.0}) is None  # the mean shape, dlib: no epochs


def test_earlier_trainings_say_when_it_converged_and_which_the_budget_stopped_still_improving():
    text, seconds = _measured([trained(FLAT, seconds_per_epoch=30.0), trained(SLOW, seconds_per_epoch=45.0),
                               trained(FALLING, seconds_per_epoch=30.0)])
    assert text == ("3 earlier trainings of this configuration: converged by epoch 8–10 (4–8 min), "
                    "1 stopped by the budget still improving (more time would help), trained 9–17 min")
    assert seconds == 0.9 * 30.0 * 20  # the median training time, not the 300 epochs' bound
    text, _ = _measured([trained(FALLING, seconds_per_epoch=1.0)])
    assert text == ("1 earlier training of this configuration: 1 stopped by the budget still improving "
                    "(more time would help), trained 18 s")


def test_a_dry_run_reads_the_folds_another_run_trained_of_the_same_configuration(tmp_path, capsys):
    grid = tmp_path / "tiny.toml"
    grid.write_text(TINY_GRID)
    results = tmp_path / "results"
    network = ["--grid", str(grid), "--results", str(results), "-a", "smp-unet", "-c", "gaussian"]
    assert main(["run", *network, "--run", "first"]) == 0
    capsys.readouterr()
    assert main(["run", *network, "--run", "second", "--dry-run"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("  run ")]
    assert len(lines) == 2, out
    for line in lines:  # each fold of the second run is told what both folds of the first did
        assert "2 earlier trainings of this configuration" in line and "≈" not in line, line
    assert main(["run", "--grid", str(grid), "--results", str(results), "-a", "mean-shape", "--run", "second",
                 "--dry-run"]) == 0
    assert "earlier training" not in capsys.readouterr().out  # nothing measured of the mean shape's cells


def test_a_damaged_record_neither_stops_the_estimate_nor_enters_it():
    broken = trained(FLAT, seconds_per_epoch=30.0) | {"train_seconds": float("nan")}
    broken["learning_curve"] = ["not a point", *broken["learning_curve"]]
    assert converged(broken) == (8, 240.0)  # the points that are points still say when it converged
    text, seconds = _measured([broken, trained(SLOW, seconds_per_epoch=45.0)])
    assert text.endswith("trained 17 min") and seconds == 0.9 * 45.0 * 25  # the NaN time is left out
