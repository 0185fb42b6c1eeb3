"""A tiny encoder-free heatmap network, published as a separate plugin package."""
from __future__ import annotations

import torch
from torch import nn

from benchsuite import api
from benchsuite.hookspecs import hookimpl


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class TinyNetModule(nn.Module):
    """Two downsampling stages and back up, with a skip connection at full resolution."""

    def __init__(self, in_channels: int, out_channels: int, width: int):
        super().__init__()
        self.stem = _block(in_channels, width)
        self.down = nn.Sequential(nn.MaxPool2d(2), _block(width, 2 * width), nn.MaxPool2d(2), _block(2 * width, 2 * width))
        self.up = nn.Sequential(nn.Upsample(scale_factor=4, mode="bilinear", align_corners=False), _block(2 * width, width))
        self.head = nn.Conv2d(2 * width, out_channels, 1)

    def forward(self, x):
        skip = self.stem(x)
        return self.head(torch.cat((skip, self.up(self.down(skip))), dim=1))


class TinyNet(api.Architecture):
    name = "tinynet"
    description = "Tiny encoder-free conv net (example third-party plugin), heatmaps at input resolution"
    encoder = "none"
    outputs = frozenset({"heatmap"})

    def __init__(self, width: int = 16):
        self.width = width

    def build(self, *, in_channels, out_channels, output, encoder):
        return TinyNetModule(in_channels, out_channels, self.width)


@hookimpl
def register_architectures(register):
    register(TinyNet)
