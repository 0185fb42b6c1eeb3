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

    def _say(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=self.stream, flush=True)

    def start(self, total: int, already_done: int) -> None:
        self.total, self.index, self.started = total, already_done, time.monotonic()
        self._say(f"{total} cells, {already_done} already complete, {total - already_done} to run")

    def eta(self) -> str:
        """The time left at the pace of the cells finished in this run so far."""
        if not self.done_here:
            return ""
        left = (time.monotonic() - self.started) / self.done_here * (self.total - self.index)
        return f", about {_duration(left)} left" if self.index < self.total else ""

    def phase(self, text: str) -> None:
        self._say(f"  {text}")

    def cell_started(self, cell) -> None:
        self._say(f"cell {cell.id} {cell.describe()}: started")

    def epoch(self, epoch: int, epochs: int, train_loss: float, val_loss: float, val_flat: float | None = None) -> None:
        if epoch == 1 or epoch % self.every == 0:
            flat = "" if val_flat is None else f" ({val_flat:.2f} × a flat output's)"
            self._say(f"  epoch {epoch}/{epochs} train loss {train_loss:.5g} val loss {val_loss:.5g}{flat}")

    def cell_finished(self, cell, error: str | None, warning: str | None = None) -> None:
        self.index += 1
        self.done_here += 1
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

    def start(self, total: int, already_done: int) -> None:
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
