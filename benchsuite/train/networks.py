"""Building a cell's network: the one place that calls an architecture's ``build``."""
from __future__ import annotations

import torch


def build_network(arch, codec, encoder, n_landmarks: int, in_channels: int, load_weights: bool = True):
    """The torch module of ``arch`` with as many outputs as ``codec`` needs for ``n_landmarks``.

    An encoder whose pretrained weights expect their own input normalisation (ImageNet's statistics, or
    [-1, 1] for TF-Lite weights) gives it to the module as two non-persistent buffers, which
    :func:`benchsuite.train.loop.scale_inputs` applies instead of the protocol's scaling. Without
    ``load_weights`` (a trained network about to be restored from its own file) nothing pretrained is read.
    """
    normalisation = encoder.normalisation() if encoder is not None else None
    if encoder is not None and not load_weights:
        encoder = _without_weights(encoder)
    module = arch.build(in_channels=in_channels, out_channels=codec.out_channels(n_landmarks), output=codec.output,
                        encoder=encoder)
    if normalisation is not None:
        mean, std = (torch.tensor(_per_channel(values, in_channels)).view(1, -1, 1, 1) for values in normalisation)
        module.register_buffer("input_mean", mean, persistent=False)
        module.register_buffer("input_std", std, persistent=False)
    return module


def _per_channel(values, channels: int) -> list[float]:
    """Per-channel statistics for the network's inputs: their mean for a grayscale input (whose first kernel
    is the sum of the RGB kernels, i.e. the gray image fed to each channel)."""
    values = [float(v) for v in values]
    return values if len(values) == channels else [sum(values) / len(values)] * channels


def _without_weights(encoder):
    import copy

    bare = copy.copy(encoder)
    bare.weights = None
    return bare
