"""The ResNet50 networks as torch modules (see resnet.py for the architectures and their parameters)."""
from __future__ import annotations

import torchvision.models as tv
from torch import nn

from benchsuite import toolkit

from . import pretrained as sources
from .heads import FlattenRegressor, upsampling_path

STRIDE = 32  # of the backbone's last feature map
CHANNELS = 2048


class ResNet50Backbone(nn.Module):
    """torchvision's ResNet50 up to layer4 (stride 32, 2048 channels), any number of input channels."""

    def __init__(self, in_channels: int):
        super().__init__()
        net = tv.resnet50(weights=None)
        if in_channels != 3:
            net.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        del net.fc, net.avgpool
        self.net = net

    def forward(self, x):
        n = self.net
        x = n.maxpool(n.relu(n.bn1(n.conv1(x))))
        return n.layer4(n.layer3(n.layer2(n.layer1(x))))

    def load(self, weights: str | None, owner: str) -> None:
        if weights is not None:
            toolkit.load_weights(self.net, owner, weights, sources.RESNET50)


class UpsamplingDecoder(nn.Module):
    """Five ×2 stages (bilinear upsampling, 3×3 convolution, batch norm, ReLU) back to input resolution."""

    def __init__(self, out_channels: int, widths: list[int]):
        super().__init__()
        self.stages, channels = upsampling_path(CHANNELS, widths)
        self.head = nn.Conv2d(channels, out_channels, 1)

    def forward(self, x):
        return self.head(self.stages(x))


def upsampling(in_channels: int, out_channels: int, decoder_channels: list[int], weights: str | None,
               owner: str) -> nn.Sequential:
    """Backbone, then the upsampling decoder: heatmaps at input resolution."""
    backbone = ResNet50Backbone(in_channels)
    backbone.load(weights, owner)
    return nn.Sequential(backbone, UpsamplingDecoder(out_channels, decoder_channels))


def regression(in_channels: int, out_channels: int, reference_input: int, weights: str | None,
               owner: str) -> FlattenRegressor:
    """Backbone, its last map pooled to the reference input's grid, one linear layer: coordinates."""
    backbone = ResNet50Backbone(in_channels)
    backbone.load(weights, owner)
    side = max(reference_input // STRIDE, 1)
    return FlattenRegressor(backbone, CHANNELS, (side, side), out_channels)
