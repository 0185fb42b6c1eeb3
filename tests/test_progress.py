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
    assert "training on " in out and "predicting " in out and "measuring the bare network's speed" in out  # phases
    assert "left" in out.split("cell 1/2 ")[1].splitlines()[0]  # after the first cell: the time left
    assert "next: benchsuite stats" in out and "benchsuite report" in out


def test_a_terminal_gets_the_live_display():
    assert isinstance(make_progress(_Terminal()), RichProgress)
    assert type(make_progress(io.StringIO())) is PlainProgress
