"""Counting host reads of tensors: each one would stall the host until a GPU has drained.

A value crosses from the device to the host through a handful of tensor methods (``.item()``,
``bool(tensor)``, ``.tolist()``, ``.cpu()``...), and a host value becomes a device tensor through
``torch.tensor(..., device=)``. Patching them to count works the same on a CPU as on a GPU, so the training
step's promise of no host synchronisation is checked where CI runs (tests/test_syncs.py) and measured by
``benchsuite bench gpu`` where a GPU is.
"""
from __future__ import annotations

import contextlib
import traceback
from collections import Counter
from typing import Iterator

import torch

READS = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__", "nonzero")


class HostReads(Counter):
    """Calls by name; ``where`` holds the caller of each, for a failing test's message."""

    def __init__(self):
        super().__init__()
        self.where: list[str] = []

    def clear(self) -> None:
        super().clear()
        self.where.clear()

    def total(self) -> int:
        return sum(self.values())


@contextlib.contextmanager
def counting_host_reads() -> Iterator[HostReads]:
    """Count every host read of a tensor, and every tensor made on a device from host values, in the block."""
    reads = HostReads()
    originals = {name: getattr(torch.Tensor, name) for name in READS}
    made = torch.tensor

    def counting(name, original):
        def wrapper(*args, **kwargs):
            reads[name] += 1
            reads.where.append(traceback.format_stack(limit=3)[0].strip())
            return original(*args, **kwargs)
        return wrapper

    def tensor(*args, **kwargs):
        if kwargs.get("device") is not None:
            reads["tensor(device=)"] += 1
            reads.where.append(traceback.format_stack(limit=3)[0].strip())
        return made(*args, **kwargs)

    try:
        for name, original in originals.items():
            setattr(torch.Tensor, name, counting(name, original))
        torch.tensor = tensor
        yield reads
    finally:
        for name, original in originals.items():
            setattr(torch.Tensor, name, original)
        torch.tensor = made
