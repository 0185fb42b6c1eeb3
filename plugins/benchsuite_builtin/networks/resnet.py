"""ResNet50 networks of the fish paper (section 4.4): a backbone with an
upsampling decoder for heatmaps, and a backbone with a fully connected head
for direct regression.

The backbone is torchvision's ResNet50 without its classifier, so
``weights="imagenet"`` loads torchvision's ImageNet file from torch's cache
(the paper's pretrained variant) and ``weights=PATH`` any local state dict.
"""
from __future__ import annotations

import torchvision.models as tv
from torch import nn

from benchsuite import api
from benchsuite.api import PluginError
from benchsuite.hookspecs import hookimpl

from . import weights as local_weights
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
            path = local_weights.resolve(owner, weights, tv.ResNet50_Weights.IMAGENET1K_V1.url)
            local_weights.load(self.net, path, owner)


class UpsamplingDecoder(nn.Module):
    """Five ×2 stages (bilinear upsampling, 3×3 convolution, batch norm, ReLU) back to input resolution."""

    def __init__(self, out_channels: int, widths: list[int]):
        super().__init__()
        self.stages, channels = upsampling_path(CHANNELS, widths)
        self.head = nn.Conv2d(channels, out_channels, 1)

    def forward(self, x):
        return self.head(self.stages(x))


class ResNet50Upsampling(api.Architecture):
    name = "resnet50-upsampling"
    description = "ResNet50 backbone + upsampling decoder (5 × [upsample, conv 3×3]), no encoder; heatmaps"
    encoder = "none"
    outputs = frozenset({"heatmap"})

    def __init__(self, decoder_channels: list[int] | None = None, weights: str | None = None):
        self.decoder_channels = list(decoder_channels or (1024, 512, 256, 128, 64))
        if len(self.decoder_channels) != 5:
            raise PluginError("resnet50-upsampling: decoder_channels needs 5 widths, one per ×2 stage (stride 32 → 1)")
        self.weights = weights

    def build(self, *, in_channels, out_channels, output, encoder):
        backbone = ResNet50Backbone(in_channels)
        backbone.load(self.weights, self.name)
        return nn.Sequential(backbone, UpsamplingDecoder(out_channels, self.decoder_channels))


class ResNet50Regression(api.Architecture):
    name = "resnet50-regression"
    description = "ResNet50 backbone + fully connected layer regressing N×2 coordinates"
    encoder = "none"
    outputs = frozenset({"coords"})

    def __init__(self, reference_input: int = 256, weights: str | None = None):
        self.reference_input = reference_input
        self.weights = weights

    def build(self, *, in_channels, out_channels, output, encoder):
        backbone = ResNet50Backbone(in_channels)
        backbone.load(self.weights, self.name)
        side = max(self.reference_input // STRIDE, 1)
        return FlattenRegressor(backbone, CHANNELS, (side, side), out_channels)


@hookimpl
def register_architectures(register):
    register(ResNet50Upsampling)
    register(ResNet50Regression)
