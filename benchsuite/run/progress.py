"""Progress over cells and epochs: a live display on a terminal, plain log
lines otherwise (CI logs, files, pipes).

Both count the time left the same way (:meth:`PlainProgress.time_left`): each cell still to run at the
pace of its method's finished cells, else its time budget, spread over the cells running at once.
"""
from __future__ import annotations

import shutil
import sys
import time

from benchsuite.api import counted, duration


class PlainProgress:
    """One line per cell start and end (with an estimate of the time left), per phase, and every ``every`` epochs."""

    def __init__(self, stream=None, every: int = 10):
        self.stream = stream or sys.stdout
        self.every = every
        self.total = self.index = self.done_here = 0
        self.parallel = 1
        self.started = time.monotonic()
        self.left: dict[str, tuple[str, float | None]] = {}  # cell id -> (configuration, time budget in s or None)
        self.took: dict[str, list[float]] = {}  # configuration -> its finished cells' seconds
        self.cell_began = self.phase_began = self.started
        self.budget: float | None = None  # the current cell's training time budget (s)
        self.running: str | None = None  # the id of the cell running in this process

    def _say(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=self.stream, flush=True)

    def note(self, text: str) -> None:
        """Something the user should know before the cells start (a pattern that took several methods)."""
        self._say(f"note: {text}")

    def start(self, total: int, already_done: int, todo=(), budgets: dict[str, float] | None = None,
              parallel: int = 1) -> None:
        """``todo``: the cells to run; ``budgets``: cell id -> its training time budget in seconds, for cells
        that train networks under one (the estimate's guess until a cell of that method has finished);
        ``parallel``: how many cells run at once."""
        self.total, self.index, self.started = total, already_done, time.monotonic()
        self.parallel = max(1, parallel)
        self.left = {c.id: (c.configuration_id, (budgets or {}).get(c.id)) for c in todo}
        self._say(f"{counted(total, 'cell')}, {already_done} already complete, {total - already_done} to run")

    def time_left(self) -> float | None:
        """Seconds left for the cells not finished yet, or None before any estimate is possible: each cell at
        the mean duration of its method's cells finished in this run, else its time budget, else the mean of
        all finished cells (methods differ by orders of magnitude), divided among the cells running at once."""
        if self.index >= self.total:
            return None
        durations = [s for took in self.took.values() for s in took]
        if durations:
            typical = sum(durations) / len(durations)
        elif self.done_here:
            typical = (time.monotonic() - self.started) * self.parallel / self.done_here
        else:
            typical = None
        estimates = []
        for cell_id, (configuration, budget) in self.left.items():
            took = self.took.get(configuration)
            estimate = sum(took) / len(took) if took else budget if budget else typical
            if cell_id == self.running and estimate is not None:  # the cell running here is partly done
                estimate = max(estimate - (time.monotonic() - self.cell_began), 0.0)
            estimates.append(estimate)
        estimates += [typical] * max(0, self.total - self.index - len(self.left))  # cells not announced at start
        if not estimates or any(e is None for e in estimates):
            return None
        return sum(estimates) / min(self.parallel, len(estimates))

    def eta(self) -> str:
        left = self.time_left() if self.done_here else None
        return "" if left is None else f", about {duration(left)} left"

    def phase(self, text: str) -> None:
        self.phase_began = time.monotonic()
        self._say(f"  {text}")

    def cell_started(self, cell) -> None:
        self._begin(cell)
        self._say(f"cell {cell.id} {cell.describe()}: started")

    def _begin(self, cell) -> None:
        self.cell_began = self.phase_began = time.monotonic()
        self.running = cell.id
        minutes = getattr(getattr(cell, "protocol", None), "max_minutes", None)
        self.budget = 60.0 * minutes if minutes else None

    def epoch(self, epoch: int, epochs: int, train_loss: float, val_loss: float, val_flat: float | None = None) -> None:
        if epoch == 1 or epoch % self.every == 0:
            flat = "" if val_flat is None else f" ({val_flat:.2f} × a flat output's)"
            self._say(f"  epoch {epoch}/{epochs} train loss {train_loss:.5g} val loss {val_loss:.5g}{flat}"
                      + _left(self.training_left(epoch, epochs)))

    def training_left(self, epoch: int, epochs: int) -> float:
        """Seconds of training left in the current cell: the epochs left at this cell's pace, or what is left
        of its time budget when that ends the cell first."""
        spent = time.monotonic() - self.phase_began
        left = spent / max(epoch, 1) * max(epochs - epoch, 0)
        return min(left, max(self.budget - spent, 0.0)) if self.budget else left

    def cell_finished(self, cell, error: str | None, warning: str | None = None,
                      seconds: float | None = None) -> None:
        """``seconds``: the cell's own duration when the caller knows it (from its record); else it is timed
        here when the cell ran in this process."""
        self._count_finished(cell, error, seconds)
        self._say(f"cell {self.index}/{self.total} {cell.id}: " + ("done" if error is None else f"FAILED: {error}")
                  + self.eta())
        if warning:
            self._say(f"  WARNING {cell.describe()}: {warning}")

    def _count_finished(self, cell, error: str | None, seconds: float | None) -> None:
        self.index += 1
        self.done_here += 1
        announced = self.left.pop(cell.id, None) is not None
        if seconds is None and announced and self.running == cell.id:
            seconds = time.monotonic() - self.cell_began
        self.running = None if self.running == cell.id else self.running
        if seconds is not None and error is None:
            self.took.setdefault(cell.configuration_id, []).append(seconds)

    def finish(self) -> None:
        pass


class RichProgress(PlainProgress):
    """Two lines laid out for the terminal's width (80 columns first): the run's bar with its count of cells,
    elapsed time and time left; the current cell's bar with its epoch and time left, under its name."""

    BAR = 20
    STATUS = 36  # "epoch 123 · val 0.0523 · 12 min left"

    def __init__(self, console=None):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        super().__init__()
        self.bars = Progress(TextColumn("{task.description}"), BarColumn(bar_width=self.BAR),
                             TextColumn("{task.fields[status]}"), console=console or Console(), transient=False)
        self.current = ""
        self.cells_task = self.epoch_task = None

    def _say(self, text: str) -> None:
        self.bars.console.print(text)

    def _width(self) -> int:
        return self.bars.console.width or shutil.get_terminal_size().columns

    def start(self, total: int, already_done: int, todo=(), budgets: dict[str, float] | None = None,
              parallel: int = 1) -> None:
        PlainProgress.start(self, total, already_done, todo, budgets, parallel)
        self.bars.start()
        self.cells_task = self.bars.add_task("cells", total=total, completed=already_done, status="")
        self.epoch_task = self.bars.add_task("", total=1, visible=False, status="")
        self._update_run()

    def _update_run(self) -> None:
        done = self.bars.tasks[self.cells_task].completed
        elapsed = _clock(time.monotonic() - self.started)
        left = self.time_left() if self.done_here else None
        status = f"{done:.0f}/{self.total} {elapsed}" + ("" if left is None else f", ~{duration(left)} left")
        self.bars.update(self.cells_task, description=_fit("cells", 5), status=status)
        self.bars.refresh()  # drawn now, not at the next tick: a quick epoch or cell would otherwise never show

    def _update_cell(self, status: str) -> None:
        room = self._width() - self.BAR - 3  # three separating spaces
        status = _fit(status, min(self.STATUS, room - 12))  # the cell's name gets what is left, 12 at least
        self.bars.update(self.epoch_task, description=_fit(self.current, room - len(status)), status=status)
        self._update_run()

    def cell_started(self, cell) -> None:
        self._begin(cell)
        self.current = _short_name(cell)
        self.bars.update(self.epoch_task, completed=0, total=1, visible=True)
        self._update_cell("starting")

    def phase(self, text: str) -> None:
        self.phase_began = time.monotonic()
        self._update_cell(text)

    def epoch(self, epoch: int, epochs: int, train_loss: float, val_loss: float, val_flat: float | None = None) -> None:
        left = self.training_left(epoch, epochs)
        spent = time.monotonic() - self.phase_began
        share = max(epoch / max(epochs, 1), spent / self.budget if self.budget else 0.0)
        self.bars.update(self.epoch_task, completed=min(share, 1.0), total=1.0)
        self._update_cell(f"epoch {epoch} · val {val_loss:.3g} · {duration(left)} left")

    def cell_finished(self, cell, error: str | None, warning: str | None = None,
                      seconds: float | None = None) -> None:
        self._count_finished(cell, error, seconds)
        self.bars.advance(self.cells_task)
        self._update_run()
        if error is not None:
            self._say(f"[red]FAILED[/] {cell.describe()}: {error}")
        if warning:
            self._say(f"[yellow]WARNING[/] {cell.describe()}: {warning}")

    def finish(self) -> None:
        self._update_run()
        self.bars.stop()


def _short_name(cell) -> str:
    """The cell as the live line names it: fold first, so that the cut falls in the method's long name (the
    dataset is on the line that announced the cell)."""
    method, fold = getattr(cell, "method", None), getattr(cell, "fold", None)
    return f"fold {fold} {method}" if method and fold is not None else cell.describe()


def _fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters (an ellipsis marks the cut) and padded to it."""
    width = max(width, 1)
    return (text if len(text) <= width else text[:width - 1] + "…").ljust(width)


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}"


def _left(seconds: float | None) -> str:
    return "" if seconds is None else f", about {duration(seconds)} left"


def make_progress(stream=None) -> PlainProgress:
    stream = stream or sys.stdout
    return RichProgress() if stream.isatty() else PlainProgress(stream)
