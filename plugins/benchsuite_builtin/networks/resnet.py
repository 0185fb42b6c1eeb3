"""ResNet50 networks of the fish paper (section 4.4): a backbone with an
upsampling decoder for heatmaps, and a backbone with a fully connected head
for direct regression.

The backbone is torchvision's ResNet50 without its classifier, so
``weights="imagenet"`` loads torchvision's ImageNet file from torch's cache
(the paper's pretrained variant) and ``weights=PATH`` any local state dict.
"""
from __future__ import annotations

from benchsuite import api
from benchsuite.api import PluginError
from benchsuite.hookspecs import hookimpl
from benchsuite.lazy import lazy_import

from . import pretrained as sources

layers = lazy_import("._resnet_layers", __package__)


class ResNet50Upsampling(api.Architecture):
    name = "resnet50-upsampling"
    description = "ResNet50 backbone + upsampling decoder (5 × [upsample, conv 3×3]), no encoder; heatmaps"
    encoder = "none"
    outputs = frozenset({"heatmap"})
    pretrained = sources.RESNET50

    def __init__(self, decoder_channels: list[int] | None = None, weights: str | None = None):
        self.decoder_channels = list(decoder_channels or (1024, 512, 256, 128, 64))
        if len(self.decoder_channels) != 5:
            raise PluginError("resnet50-upsampling: decoder_channels needs 5 widths, one per ×2 stage (stride 32 → 1)")
        self.weights = weights

    def build(self, *, in_channels, out_channels, output, encoder):
        return layers.upsampling(in_channels, out_channels, self.decoder_channels, self.weights, self.name)


class ResNet50Regression(api.Architecture):
    name = "resnet50-regression"
    description = "ResNet50 backbone + fully connected layer regressing N×2 coordinates"
    encoder = "none"
    outputs = frozenset({"coords"})
    pretrained = sources.RESNET50

    def __init__(self, reference_input: int = 256, weights: str | None = None):
        self.reference_input = reference_input
        self.weights = weights

    def build(self, *, in_channels, out_channels, output, encoder):
        return layers.regression(in_channels, out_channels, self.reference_input, self.weights, self.name)


@hookimpl
def register_architectures(register):
    register(ResNet50Upsampling)
    register(ResNet50Regression)
