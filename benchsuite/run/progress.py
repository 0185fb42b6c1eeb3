"""Progress over cells and epochs: a live display on a terminal, plain log
lines otherwise (CI logs, files, pipes)."""
from __future__ import annotations

import sys
import time


class PlainProgress:
    """One line per cell start and end, and one every ``every`` epochs."""

    def __init__(self, stream=None, every: int = 10):
        self.stream = stream or sys.stdout
        self.every = every
        self.total = self.index = 0

    def _say(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=self.stream, flush=True)

    def start(self, total: int, already_done: int) -> None:
        self.total, self.index = total, already_done
        self._say(f"{total} cells, {already_done} already complete, {total - already_done} to run")

    def cell_started(self, cell) -> None:
        self._say(f"cell {cell.id} {cell.describe()}: started")

    def epoch(self, epoch: int, epochs: int, train_loss: float, val_loss: float, val_flat: float | None = None) -> None:
        if epoch == 1 or epoch % self.every == 0:
            flat = "" if val_flat is None else f" ({val_flat:.2f} × a flat output's)"
            self._say(f"  epoch {epoch}/{epochs} train loss {train_loss:.5g} val loss {val_loss:.5g}{flat}")

    def cell_finished(self, cell, error: str | None, warning: str | None = None) -> None:
        self.index += 1
        self._say(f"cell {self.index}/{self.total} {cell.id}: " + ("done" if error is None else f"FAILED: {error}"))
        if warning:
            self._say(f"  WARNING {cell.describe()}: {warning}")

    def finish(self) -> None:
        pass


class RichProgress(PlainProgress):
    """A bar over cells and a bar over the current cell's epochs."""

    def __init__(self):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        super().__init__()
        self.bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TimeElapsedColumn(), transient=False)
        self.cells_task = self.epoch_task = None

    def _say(self, text: str) -> None:
        self.bars.console.print(text)

    def start(self, total: int, already_done: int) -> None:
        self.bars.start()
        self.cells_task = self.bars.add_task("cells", total=total, completed=already_done)
        self.epoch_task = self.bars.add_task("epochs", total=1, visible=False)
        self._say(f"{total} cells, {already_done} already complete")

    def cell_started(self, cell) -> None:
        self.bars.update(self.epoch_task, description=cell.describe(), completed=0, total=1, visible=True)

    def epoch(self, epoch: int, epochs: int, train_loss: float, val_loss: float, val_flat: float | None = None) -> None:
        self.bars.update(self.epoch_task, completed=epoch, total=epochs)

    def cell_finished(self, cell, error: str | None, warning: str | None = None) -> None:
        self.bars.advance(self.cells_task)
        if error is not None:
            self._say(f"[red]FAILED[/] {cell.describe()}: {error}")
        if warning:
            self._say(f"[yellow]WARNING[/] {cell.describe()}: {warning}")

    def finish(self) -> None:
        self.bars.stop()


def make_progress(stream=None) -> PlainProgress:
    stream = stream or sys.stdout
    return RichProgress() if stream.isatty() else PlainProgress(stream)
