"""The vanilla U-Net (Ronneberger et al. 2015) and its encoder with a fully
connected head, as the fish paper uses them (section 4.4).

Two 3×3 convolutions per level, 64 → 1024 filters over five levels, 2×2
max-pooling down, 2×2 up-convolutions halving the filters, skip connections
by concatenation: 31.0M parameters at 3 input channels. Unlike the original,
convolutions are 'same'-padded, so the heatmaps come out at input resolution
(the input side must be a multiple of 16). Weights start from He-normal noise,
as in the paper; batch norm is off unless asked for.
"""
from __future__ import annotations

import torch
from torch import nn

from benchsuite import api
from benchsuite.api import PluginError
from benchsuite.hookspecs import hookimpl

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


class VanillaUnet(api.Architecture):
    name = "unet"
    description = "Vanilla U-Net (Ronneberger 2015), 64→1024 filters, no encoder; heatmaps at input resolution"
    encoder = "none"
    outputs = frozenset({"heatmap"})

    def __init__(self, base_channels: int = 64, batch_norm: bool = False):
        self.base_channels = base_channels
        self.batch_norm = batch_norm

    def build(self, *, in_channels, out_channels, output, encoder):
        return UNet(in_channels, out_channels, self.base_channels, self.batch_norm)


class UnetRegression(api.Architecture):
    name = "unet-regression"
    description = "U-Net contracting path + fully connected layer regressing N×2 coordinates"
    encoder = "none"
    outputs = frozenset({"coords"})

    def __init__(self, base_channels: int = 64, batch_norm: bool = False, reference_input: int = 256):
        self.base_channels = base_channels
        self.batch_norm = batch_norm
        self.reference_input = reference_input

    def build(self, *, in_channels, out_channels, output, encoder):
        features = UNetEncoder(in_channels, self.base_channels, self.batch_norm)
        side = max(self.reference_input // 2 ** (LEVELS - 1), 1)
        model = FlattenRegressor(_Deepest(features), features.widths[-1], (side, side), out_channels)
        _he_init(model.features)
        return model


class _Deepest(nn.Module):
    def __init__(self, encoder: UNetEncoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, x):
        return self.encoder(x)[-1]


@hookimpl
def register_architectures(register):
    register(VanillaUnet)
    register(UnetRegression)
