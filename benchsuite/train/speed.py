"""How fast the model itself can train, to judge how much the pipeline costs.

A cell's *pipeline efficiency* is its training loop's images/s over the
*ceiling*: the fastest the same model trains with the same loss, batch size,
input shape, precision and memory format on the same device. The ceiling is
the faster of two measurements of the same work: the bare step (forward,
the codec's loss on random landmarks, backward, optimiser step, on random
images already on the device; the fastest of several timed steps, since
noise only ever adds time) and the cell's fastest training epoch. The loop's
average can never beat its own fastest epoch, so the efficiency is at most 1
by construction; 1 means data handling, augmentation, target generation and
synchronisation cost nothing. The time a cell spends outside its training
epochs (reading and preparing images, validation, prediction) is its
``train_share`` of the wall time, recorded beside it.

The bare step is measured once per model configuration, input shape, batch
size, precision and device in a process, and reused by its other folds.
"""
from __future__ import annotations

import copy
import json
import time

import torch

from benchsuite.train import loop
from benchsuite.train.geometry import extent

_BARE: dict[str, float] = {}  # measured images/s by configuration key, for this process


def _synchronise(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def bare_images_per_s(model: torch.nn.Module, codec, n_landmarks: int, protocol, runtime: loop.Runtime | None = None,
                      configuration: str | None = None, steps: int = 8, warmup: int = 2,
                      max_seconds: float | None = None) -> float:
    """Images/s of the fastest of ``steps`` bare training steps, on a copy of ``model``.

    ``configuration`` names what determines the model's compute (architecture, encoder, codec and their
    parameters); with it, the measurement is made once per process for that configuration and shape.
    ``max_seconds`` caps the measurement once one step after the first has been timed, so that measuring a
    large network on a CPU never costs more than a small share of its cell (the cell's fastest epoch bounds
    the ceiling from below anyway).
    """
    runtime = runtime or loop.Runtime()
    dev = loop.device()
    dtype, channels_last = runtime.autocast_dtype(dev), runtime.use_channels_last(dev)
    key = configuration and json.dumps([configuration, n_landmarks, protocol.channels, extent(protocol.input_size),
                                        protocol.batch_size, protocol.optimizer, str(dev), str(dtype),
                                        channels_last])
    if key in _BARE:
        return _BARE[key]
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    clone = copy.deepcopy(model).to(dev, memory_format=memory_format).train()
    optimizer = loop.make_optimizer(clone, protocol, fused=dev.type == "cuda")
    scaler = loop.gradient_scaler(dev, dtype)
    width, height = extent(protocol.input_size)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn((protocol.batch_size, protocol.channels, height, width), generator=generator).to(dev)
    x = x.contiguous(memory_format=memory_format)
    landmarks = (torch.rand((protocol.batch_size, n_landmarks, 2), generator=generator)
                 * torch.tensor([width - 1, height - 1])).to(dev)
    fastest = float("inf")
    begun = time.perf_counter()
    for step in range(warmup + steps):
        _synchronise(dev)
        started = time.perf_counter()
        loop.training_step(clone, codec, x, landmarks, protocol, optimizer, scaler, dev, dtype)
        _synchronise(dev)
        now = time.perf_counter()
        over = max_seconds is not None and now - begun > max_seconds
        if step >= warmup or (over and step >= 1):
            fastest = min(fastest, now - started)
        if over and fastest < float("inf"):
            break
    images_per_s = protocol.batch_size / fastest
    if key:
        _BARE[key] = images_per_s
    return images_per_s


def pipeline_efficiency(train_images_per_s: float, fastest_epoch_images_per_s: float,
                        bare: float) -> tuple[float, float]:
    """(ceiling images/s, efficiency): the ceiling is the faster of the bare step and the fastest epoch."""
    ceiling = max(bare, fastest_epoch_images_per_s)
    return ceiling, (train_images_per_s / ceiling if ceiling > 0 else 0.0)
