"""Progress over cells and epochs: a live display on a terminal, plain log
lines otherwise (CI logs, files, pipes)."""
from __future__ import annotations

import sys
import time


class PlainProgress:
    """One line per cell start and end (with an estimate of the time left), per phase, and every ``every`` epochs."""

    def __init__(self, stream=None, every: int = 10):
        self.stream = stream or sys.stdout
        self.every = every
        self.total = self.index = self.done_here = 0
        self.started = time.monotonic()
        self.left: dict[str, tuple[str, float | None]] = {}  # cell id -> (configuration, time budget in s or None)
        self.took: dict[str, list[float]] = {}  # configuration -> its finished cells' seconds
        self.cell_began = self.started

    def _say(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=self.stream, flush=True)

    def start(self, total: int, already_done: int, todo=(), budgets: dict[str, float] | None = None) -> None:
        """``todo``: the cells to run; ``budgets``: cell id -> its training time budget in seconds, for cells
        that train networks under one (the estimate's guess until a cell of that method has finished)."""
        self.total, self.index, self.started = total, already_done, time.monotonic()
        self.left = {c.id: (c.configuration_id, (budgets or {}).get(c.id)) for c in todo}
        self._say(f"{total} cells, {already_done} already complete, {total - already_done} to run")

    def eta(self) -> str:
        """The time left: each cell to run at the pace of its method's cells finished in this run, else its
        time budget, else the pace of all cells finished so far (methods differ by orders of magnitude)."""
        if not self.done_here or self.index >= self.total:
            return ""
        pace = (time.monotonic() - self.started) / self.done_here
        unknown = max(0, self.total - self.index - len(self.left))  # cells not announced at start
        left = pace * unknown
        for configuration, budget in self.left.values():
            took = self.took.get(configuration)
            left += sum(took) / len(took) if took else budget if budget else pace
        return f", about {_duration(left)} left"

    def phase(self, text: str) -> None:
        self._say(f"  {text}")

    def cell_started(self, cell) -> None:
        self.cell_began = time.monotonic()
        self._say(f"cell {cell.id} {cell.describe()}: started")

    def epoch(self, epoch: int, epochs: int, train_loss: float, val_loss: float, val_flat: float | None = None) -> None:
        if epoch == 1 or epoch % self.every == 0:
            flat = "" if val_flat is None else f" ({val_flat:.2f} × a flat output's)"
            self._say(f"  epoch {epoch}/{epochs} train loss {train_loss:.5g} val loss {val_loss:.5g}{flat}")

    def cell_finished(self, cell, error: str | None, warning: str | None = None) -> None:
        self.index += 1
        self.done_here += 1
        if self.left.pop(cell.id, None) is not None and self.cell_began > self.started:
            self.took.setdefault(cell.configuration_id, []).append(time.monotonic() - self.cell_began)
        self._say(f"cell {self.index}/{self.total} {cell.id}: " + ("done" if error is None else f"FAILED: {error}")
                  + self.eta())
        if warning:
            self._say(f"  WARNING {cell.describe()}: {warning}")

    def finish(self) -> None:
        pass


class RichProgress(PlainProgress):
    """A bar over cells and a bar over the current cell's epochs."""

    def __init__(self):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        super().__init__()
        self.bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TimeElapsedColumn(), TimeRemainingColumn(), transient=False)
        self.current = ""
        self.cells_task = self.epoch_task = None

    def _say(self, text: str) -> None:
        self.bars.console.print(text)

    def start(self, total: int, already_done: int, todo=(), budgets: dict[str, float] | None = None) -> None:
        self.bars.start()
        self.cells_task = self.bars.add_task("cells", total=total, completed=already_done)
        self.epoch_task = self.bars.add_task("epochs", total=1, visible=False)
        self._say(f"{total} cells, {already_done} already complete")

    def cell_started(self, cell) -> None:
        self.current = cell.describe()
        self.bars.update(self.epoch_task, description=self.current, completed=0, total=1, visible=True)

    def phase(self, text: str) -> None:
        self.bars.update(self.epoch_task, description=f"{self.current}: {text}")

    def epoch(self, epoch: int, epochs: int, train_loss: float, val_loss: float, val_flat: float | None = None) -> None:
        self.bars.update(self.epoch_task, completed=epoch, total=epochs,
                         description=f"{self.current}: training, loss {train_loss:.3g}, validation {val_loss:.3g}")

    def cell_finished(self, cell, error: str | None, warning: str | None = None) -> None:
        self.bars.advance(self.cells_task)
        if error is not None:
            self._say(f"[red]FAILED[/] {cell.describe()}: {error}")
        if warning:
            self._say(f"[yellow]WARNING[/] {cell.describe()}: {warning}")

    def finish(self) -> None:
        self.bars.stop()


def _duration(seconds: float) -> str:
    minutes = seconds / 60
    return f"{seconds:.0f} s" if seconds < 90 else f"{minutes:.0f} min" if minutes < 90 else f"{minutes / 60:.1f} h"


def make_progress(stream=None) -> PlainProgress:
    stream = stream or sys.stdout
    return RichProgress() if stream.isatty() else PlainProgress(stream)
