"""``check_executor``: ``preflight``, then ``map`` over three cells, in or out of this process as declared."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from benchsuite.api import PluginError
from benchsuite.protocol import load_protocol
from benchsuite.run.cells import Cell, Component
from benchsuite.testing.subject import AXES, start


def _work_elsewhere(cell: Cell) -> tuple[str, int]:
    """Picklable work for an executor that runs cells in other processes."""
    return cell.id, os.getpid()


def check_executor(cls: type, **params: Any) -> list[str]:
    """``preflight``, then ``map`` over three cells: each result once; ``in_process`` executors call the
    work here (it is then unpicklable, as the core's may be), the others get picklable work and cells."""
    subject, _, executor = start("executors", cls, params)
    if executor is None:
        return subject.notes
    with subject.calling("in_process"):
        in_process = executor.in_process
    subject.expect(isinstance(in_process, bool), "in_process", f"must be a bool, got {in_process!r}")
    try:
        with subject.calling("preflight()"):
            executor.preflight()
    except AssertionError as failure:
        if not isinstance(failure.__cause__, PluginError):
            raise
        subject.notes.append(f"map() not run: preflight says it cannot run here: {failure.__cause__}")
        return subject.notes
    cells = [Cell(*(Component(f"kit-{axis}") for axis in AXES), fold=fold, protocol=load_protocol("smoke"))
             for fold in range(3)]
    here = os.getpid()
    work = (lambda cell: (cell.id, here)) if in_process else _work_elsewhere
    with tempfile.TemporaryDirectory() as workdir, subject.calling("map()"):
        results = list(executor.map(work, iter(cells), Path(workdir)))
    if not results:
        subject.notes.append("map() yielded no results (it does not wait): results not checked")
        return subject.notes
    subject.expect(sorted(r[0] for r in results) == sorted(c.id for c in cells), "map()",
                   f"must yield each item's result once: {len(cells)} items, {len(results)} results")
    if in_process:
        subject.expect({r[1] for r in results} == {here}, "map()", "in_process is true but work ran in "
                                                                   "another process")
    return subject.notes
