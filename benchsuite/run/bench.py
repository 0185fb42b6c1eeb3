"""``benchsuite bench``: images/s and pipeline efficiency of each architecture.

For every architecture × codec pair the grid would accept, one short training
run on synthetic images at the requested input size measures the training
loop's throughput against the ceiling of the same training step (see
:mod:`benchsuite.train.speed`).
"""
from __future__ import annotations

import dataclasses
import fnmatch

import pandas as pd
import torch

from benchsuite.plugins import Registry
from benchsuite.protocol import load_protocol
from benchsuite.run.grid import codec_incompatibility, encoder_incompatibility
from benchsuite.train import inputs, loop, speed
from benchsuite.train.networks import build_network


def _pairs(registry: Registry, pattern: str, encoder: str | None):
    """(architecture, encoder or None, codec) triples to measure, one codec per output kind."""
    for arch in registry.entries("architectures"):
        if not fnmatch.fnmatchcase(arch.name, pattern) or not arch.cls.outputs:
            continue
        enc = registry.get("encoders", encoder or registry.names("encoders")[0]) if arch.cls.encoder == "required" \
            else None
        if encoder_incompatibility(arch.cls, enc and enc.cls):
            continue
        for output in sorted(arch.cls.outputs):
            codec = next(c for c in registry.entries("codecs") if c.cls.output == output)  # the first of each kind
            if codec_incompatibility(arch.cls, codec.cls) is None:
                yield arch, enc, codec


def bench(registry: Registry, pattern: str = "*", size: int = 256, batch_size: int = 8, images: int = 32,
          epochs: int = 2, encoder: str | None = None, n_landmarks: int = 19, amp: bool | None = None) -> pd.DataFrame:
    protocol = dataclasses.replace(load_protocol("smoke"), input_size=size, channels=3, batch_size=batch_size,
                                   epochs=epochs, patience=epochs)
    generator = registry.the_one("datasets", lambda cls: cls.synthetic, "a synthetic image generator (synthetic)")
    dataset = registry.create("datasets", generator.name, {"n_images": images, "n_landmarks": n_landmarks,
                                                           "channels": 3, "min_size": size, "max_size": size})
    data = inputs.prepare(dataset, dataset.samples(), protocol)
    runtime = loop.Runtime(amp=amp, channels_last=amp)
    rows = []
    for arch, enc, codec_entry in _pairs(registry, pattern, encoder):
        codec = registry.create("codecs", codec_entry.name)
        torch.manual_seed(0)
        model = build_network(registry.create("architectures", arch.name), codec,
                              registry.create("encoders", enc.name) if enc else None, n_landmarks, 3)
        report = loop.train(model, codec, data, data, protocol, runtime=runtime)
        bare = speed.bare_images_per_s(model, codec, n_landmarks, protocol, runtime)  # after training, as in a cell
        ceiling, efficiency = speed.pipeline_efficiency(report.train_images_per_s,
                                                        report.fastest_epoch_images_per_s, bare)
        rows.append({
            "architecture": arch.name, "encoder": enc.name if enc else "", "codec": codec_entry.name,
            "parameters_M": sum(p.numel() for p in model.parameters()) / 1e6,
            "device": torch.cuda.get_device_name() if loop.device().type == "cuda" else "cpu",
            "input": f"{size}x{size}", "batch": batch_size, "amp": runtime.use_amp(loop.device()),
            "bare_images_per_s": ceiling, "train_images_per_s": report.train_images_per_s,
            "pipeline_efficiency": efficiency,
        })
        del model
    return pd.DataFrame(rows)
