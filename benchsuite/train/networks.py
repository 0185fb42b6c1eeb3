"""Building a cell's network: the one place that calls an architecture's ``build``."""
from __future__ import annotations


def build_network(arch, codec, encoder, n_landmarks: int, in_channels: int):
    """The torch module of ``arch`` with as many outputs as ``codec`` needs for ``n_landmarks``."""
    return arch.build(in_channels=in_channels, out_channels=codec.out_channels(n_landmarks), output=codec.output,
                      encoder=encoder)
