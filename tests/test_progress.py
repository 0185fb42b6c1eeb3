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


def _cells(prefix: str, n: int, configuration: str, label: str, minutes: float = 0.0):
    from types import SimpleNamespace

    return [SimpleNamespace(id=f"{prefix}{i}", configuration_id=configuration, method=label, fold=i,
                            describe=lambda: f"wings | {label} | fold 0",
                            protocol=SimpleNamespace(max_minutes=minutes)) for i in range(n)]


def _screen(progress) -> list[str]:
    """The live display's two lines as an 80-column terminal shows them."""
    from rich.console import Console

    console = Console(file=io.StringIO(), width=80, color_system=None, force_terminal=False)
    console.print(progress.bars.get_renderable())
    return [line.rstrip() for line in console.file.getvalue().splitlines() if line.strip()]


def test_the_live_display_fits_80_columns_with_bars_counts_and_the_time_left(monkeypatch):
    """The run's line keeps its bar, count and time left at 80 columns; the cell's line names the cell, its
    epoch and the time its budget leaves (30 s here), not the 300 epochs' worth at its pace."""
    from rich.console import Console

    from benchsuite.run import progress as module

    now = [0.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: now[0])
    quick = _cells("q", 2, "mean", "mean shape")
    nets = _cells("n", 3, "net", "U-Net+EfficientNet-Lite0 (ImageNet)+integral regression", minutes=0.5)
    progress = RichProgress(Console(file=io.StringIO(), width=80))
    progress.start(5, 0, quick + nets, {n.id: 30.0 for n in nets}, parallel=1)
    progress.cell_started(quick[0])
    now[0] += 2.0
    progress.cell_finished(quick[0], None)
    progress.cell_started(nets[0])
    progress.phase("training on 46 images, validating on 12")
    now[0] += 10.0
    progress.epoch(3, 300, 14.7, 15.2)
    run_line, cell_line = _screen(progress)
    assert all(len(line) <= 80 for line in (run_line, cell_line))
    assert run_line.startswith("cells") and "━" in run_line and "1/5" in run_line
    assert run_line.endswith("~82 s left")  # a quick cell (2 s), 20 s of the running budget and two more
    assert cell_line.startswith("fold 0 U-Net+Effici") and "━" in cell_line and "epoch 3 " in cell_line
    assert cell_line.endswith("20 s left")  # the budget's 30 s less the 10 s spent, not 297 epochs at 3.3 s
    progress.finish()


def test_the_time_left_divides_among_the_cells_running_at_once_and_uses_their_recorded_durations():
    out = io.StringIO()
    progress = PlainProgress(out)
    quick = _cells("q", 2, "mean", "mean")
    nets = _cells("n", 4, "net", "net", minutes=10)
    progress.start(6, 0, quick + nets, {n.id: 600.0 for n in nets}, parallel=2)
    progress.cell_finished(quick[0], None, seconds=1.0)  # run elsewhere: its duration comes from its record
    assert progress.time_left() == (1.0 + 4 * 600.0) / 2
    progress.cell_finished(nets[0], None, seconds=300.0)
    assert progress.time_left() == (1.0 + 3 * 300.0) / 2


def test_a_terminal_run_at_80_columns_shows_the_bar_counts_and_time_left(tiny_grid, tmp_path):
    """The real command under a pseudo-terminal 80 columns wide (as ``script`` would show it)."""
    import fcntl
    import os
    import pty
    import re
    import struct
    import subprocess
    import sys
    import termios

    main_fd, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    command = [sys.executable, "-m", "benchsuite.cli", "run", "--grid", str(tiny_grid), "--results",
               str(tmp_path), "-a", "smp-*"]
    env = dict(os.environ, COLUMNS="80", LINES="24", TERM="xterm")
    child = subprocess.Popen(command, stdin=terminal, stdout=terminal, stderr=terminal, env=env, close_fds=True)
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert child.wait(timeout=300) == 0
    os.close(main_fd)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode("utf-8", "replace"))
    lines = [line for line in re.split(r"[\r\n]+", text) if line.startswith(("cells ", "fold "))]
    assert lines and max(len(line) for line in lines) <= 80
    assert any(re.match(r"fold 1 smp-unet.*[━╺╸]+ epoch \d · val [\d.]+ · \d+ s left", line) for line in lines), lines
    assert any(re.match(r"cells\s+[━╺╸]+\s+1/2 \d+:\d\d:\d\d, ~\d+ s left", line) for line in lines), lines
    assert any(re.match(r"cells\s+[━╺╸]+\s+2/2 \d+:\d\d:\d\d$", line.rstrip()) for line in lines), lines
