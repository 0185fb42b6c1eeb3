"""Progress: plain log lines when the output is not a terminal."""
from __future__ import annotations

import io

from benchsuite.cli import main
from benchsuite.run.progress import PlainProgress, RichProgress, make_progress


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_plain_lines_when_not_a_terminal(tiny_grid, tmp_path, capsys):
    assert main(["run", "--grid", str(tiny_grid), "--results", str(tmp_path), "-a", "smp-*"]) == 0
    out = capsys.readouterr().out
    assert "cell 1/2 " in out and "cell 2/2 " in out and ": done" in out and ": started" in out and "epoch 1/2" in out
    assert "\x1b[" not in out  # no terminal control codes in logs
    assert "training on " in out and "predicting " in out  # phases
    assert "left" in out.split("cell 1/2 ")[1].splitlines()[0]  # after the first cell: the time left
    assert "next: benchsuite stats" in out and "benchsuite report" in out


def test_a_terminal_gets_the_live_display():
    assert isinstance(make_progress(_Terminal()), RichProgress)
    assert type(make_progress(io.StringIO())) is PlainProgress


def test_the_time_left_counts_each_method_at_its_own_pace_or_budget(monkeypatch):
    """A grid of a quick baseline and a budgeted network: after the baseline's cells the estimate is the
    networks' budgets, not the baseline's pace; after a network cell, that cell's own duration."""
    from types import SimpleNamespace

    from benchsuite.run import progress as module

    now = [0.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: now[0])
    quick = [SimpleNamespace(id=f"q{i}", configuration_id="mean", describe=lambda: "mean") for i in range(2)]
    nets = [SimpleNamespace(id=f"n{i}", configuration_id="net", describe=lambda: "net") for i in range(3)]
    out = io.StringIO()
    progress = PlainProgress(out)
    progress.start(5, 0, quick + nets, {n.id: 600.0 for n in nets})
    for cell, seconds in zip(quick + nets[:1], (0.5, 0.5, 600.0)):
        progress.cell_started(cell)
        now[0] += seconds
        progress.cell_finished(cell, None)
    lines = [line for line in out.getvalue().splitlines() if "left" in line]
    assert lines[0].endswith("about 30 min left")  # one quick cell (1 s) and three 10-minute budgets
    assert lines[1].endswith("about 30 min left")
    assert lines[2].endswith("about 20 min left")  # the network cell took 600 s: two more like it
