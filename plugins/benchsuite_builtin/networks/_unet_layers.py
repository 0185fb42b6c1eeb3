"""The U-Net's torch modules (see unet.py for the architecture and its parameters)."""
from __future__ import annotations

import torch
from torch import nn

from benchsuite.api import PluginError

from .heads import FlattenRegressor, conv_block

LEVELS = 5  # four poolings: the input side must be a multiple of 16


def _double_conv(in_channels: int, out_channels: int, batch_norm: bool) -> nn.Sequential:
    return nn.Sequential(conv_block(in_channels, out_channels, 3, batch_norm), conv_block(out_channels, out_channels, 3, batch_norm))


def _he_init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _check_size(x, multiple: int) -> None:
    if x.shape[-1] % multiple or x.shape[-2] % multiple:
        raise PluginError(f"U-Net: the input side must be a multiple of {multiple}, got {tuple(x.shape[-2:])}")


class UNetEncoder(nn.Module):
    """The contracting path; returns every level's features, the deepest last."""

    def __init__(self, in_channels: int, base_channels: int, batch_norm: bool):
        super().__init__()
        self.widths = [base_channels * 2**level for level in range(LEVELS)]
        inputs = [in_channels, *self.widths[:-1]]
        self.levels = nn.ModuleList(_double_conv(i, o, batch_norm) for i, o in zip(inputs, self.widths))
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        _check_size(x, 2 ** (LEVELS - 1))
        features = []
        for index, level in enumerate(self.levels):
            x = level(x if index == 0 else self.pool(x))
            features.append(x)
        return features


class UNet(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, base_channels: int = 64, batch_norm: bool = False):
        super().__init__()
        self.encoder = UNetEncoder(in_channels, base_channels, batch_norm)
        widths = self.encoder.widths[::-1]  # 1024, 512, 256, 128, 64
        self.up = nn.ModuleList(nn.ConvTranspose2d(w, w // 2, 2, stride=2) for w in widths[:-1])
        self.decode = nn.ModuleList(_double_conv(w, w // 2, batch_norm) for w in widths[:-1])
        self.head = nn.Conv2d(widths[-1], out_channels, 1)
        _he_init(self)

    def forward(self, x):
        *skips, x = self.encoder(x)
        for up, decode, skip in zip(self.up, self.decode, reversed(skips)):
            x = decode(torch.cat([skip, up(x)], dim=1))
        return self.head(x)


class _Deepest(nn.Module):
    def __init__(self, encoder: UNetEncoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, x):
        return self.encoder(x)[-1]


def regression(in_channels: int, out_channels: int, base_channels: int, batch_norm: bool,
               reference_input: int) -> FlattenRegressor:
    """The contracting path, its deepest map pooled to the reference input's grid, one linear layer."""
    features = UNetEncoder(in_channels, base_channels, batch_norm)
    side = max(reference_input // 2 ** (LEVELS - 1), 1)
    model = FlattenRegressor(_Deepest(features), features.widths[-1], (side, side), out_channels)
    _he_init(model.features)
    return model
