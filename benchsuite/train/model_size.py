"""How big an architecture is, for ``benchsuite list architectures``.

Papers name networks by size ("U-Net (31M)"); so does the listing. The
network is built through the Architecture API on PyTorch's meta device:
shapes only, no memory and no initialisation cost, so even a 90M-parameter
network is counted in milliseconds.
"""
from __future__ import annotations

import torch

from benchsuite.plugins import Registry
from benchsuite.train.networks import build_network


def parameter_count(registry: Registry, arch_cls: type, n_landmarks: int, in_channels: int = 3) -> int | None:
    """Parameters of the default-configured architecture, or None when it has no fixed size.

    An encoder-taking architecture's size depends on the encoder. The output layer is sized by the first codec
    registered for the architecture's output kind (heatmap preferred).
    """
    if arch_cls.encoder == "required":
        return None
    output = "heatmap" if "heatmap" in arch_cls.outputs else sorted(arch_cls.outputs)[0]
    try:
        codec = next(e.cls for e in registry.entries("codecs") if e.cls.output == output)()
        with torch.device("meta"):
            model = build_network(arch_cls(), codec, None, n_landmarks, in_channels)
    except Exception:  # noqa: BLE001 - a listing never fails on one odd plugin
        return None
    return sum(p.numel() for p in model.parameters())


def describe_count(count: int | None, n_landmarks: int) -> str:
    if count is None:
        return ""
    return f"{count / 1e6:.1f}M params @ N={n_landmarks}"
