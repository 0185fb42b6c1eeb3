"""Network pieces shared by several architectures (torch modules: imported by the layer modules and lazily)."""
from __future__ import annotations

from torch import nn


def conv_block(in_channels: int, out_channels: int, kernel: int = 3, batch_norm: bool = True) -> nn.Sequential:
    """A 'same'-padded convolution, optional batch norm, ReLU."""
    layers = [nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_channels))
    layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def upsampling_path(channels: int, widths) -> tuple[nn.Sequential, int]:
    """Per width: ×2 bilinear upsampling, then a 3×3 conv block. Returns the path and its output channels."""
    stages = []
    for width in widths:
        stages += [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), conv_block(channels, width)]
        channels = width
    return nn.Sequential(*stages), channels


class FlattenRegressor(nn.Module):
    """Feature map → fixed grid → flatten → one linear layer to the coordinates.

    The papers flatten the last feature map of their fixed-size input into a
    dense layer. The grid is that feature map's size at the paper's input, so
    the layer and the parameter count are the paper's whatever input size a
    protocol uses; at the paper's size the adaptive pooling is the identity.
    """

    def __init__(self, features: nn.Module, channels: int, grid: tuple[int, int], out_features: int):
        super().__init__()
        self.features = features
        self.pool = nn.AdaptiveAvgPool2d(grid)
        self.fc = nn.Linear(channels * grid[0] * grid[1], out_features)

    def forward(self, x):
        return self.fc(self.pool(self.features(x)).flatten(1))


class RegressionHead(nn.Module):
    """Encoder features (the deepest map), global average pooling, then a linear layer."""

    def __init__(self, encoder: nn.Module, out_channels: int):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(encoder.out_channels[-1], out_channels))

    def forward(self, x):
        return self.head(self.encoder(x)[-1])
