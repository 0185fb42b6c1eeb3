"""The beetle CNN's torch modules (see beetle_cnn.py for the architecture and its parameters)."""
from __future__ import annotations

from torch import nn

from .heads import FlattenRegressor


def _blocks(in_channels: int, blocks) -> nn.Sequential:
    layers, channels = [], in_channels
    for filters, kernel, dropout in blocks:
        layers += [nn.Conv2d(channels, filters, kernel), nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Dropout(dropout)]
        channels = filters
    return nn.Sequential(*layers)


def beetle_cnn(in_channels: int, out_channels: int, blocks, grid: tuple[int, int], fc_units: int) -> nn.Sequential:
    """The convolutional blocks pooled to ``grid``, then FC ``fc_units`` → dropout → FC ``fc_units`` → outputs."""
    dense = nn.Sequential(
        nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(fc_units, fc_units), nn.ReLU(inplace=True),
        nn.Linear(fc_units, out_channels),
    )
    return nn.Sequential(FlattenRegressor(_blocks(in_channels, blocks), blocks[-1][0], grid, fc_units), dense)
