"""How fast the model itself can train, to judge how much the pipeline costs.

A cell's *pipeline efficiency* is its training-loop throughput divided by the
throughput of the bare model (forward, backward, optimiser step) on random
tensors of the same shape on the same device, measured in the same process.
Both include the optimiser step, so the ratio isolates data handling, target
generation, augmentation and synchronisation.
"""
from __future__ import annotations

import copy
import time

import torch

from benchsuite.train import loop
from benchsuite.train.geometry import extent


def _synchronise(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def bare_images_per_s(model: torch.nn.Module, protocol, runtime: loop.Runtime | None = None,
                      steps: int = 20, warmup: int = 5) -> float:
    """Images/s of forward+backward+step on random input, on a copy of ``model``."""
    runtime = runtime or loop.Runtime()
    dev = loop.device()
    amp = runtime.use_amp(dev)
    memory_format = torch.channels_last if runtime.use_channels_last(dev) else torch.contiguous_format
    clone = copy.deepcopy(model).to(dev, memory_format=memory_format).train()
    optimizer = loop.make_optimizer(clone, protocol)
    scaler = torch.amp.GradScaler(dev.type, enabled=amp)
    width, height = extent(protocol.input_size)
    shape = (protocol.batch_size, protocol.channels, height, width)
    x = torch.randn(shape, device=dev).contiguous(memory_format=memory_format)
    started = 0.0
    for step in range(warmup + steps):
        if step == warmup:
            _synchronise(dev)
            started = time.perf_counter()
        with torch.autocast(dev.type, enabled=amp):
            output = clone(x)
        loss = output.float().square().mean()
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    _synchronise(dev)
    return steps * protocol.batch_size / (time.perf_counter() - started)
