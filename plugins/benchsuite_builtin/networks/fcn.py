"""FCN-8s (Long et al. 2015) for heatmaps, as the fish paper uses it (17M).

The VGG16 convolutional layers (torchvision's layout, so its ImageNet file
loads with weights="imagenet"), then fc6/fc7 as convolutions. The paper's
17M parameters fit fc6 as a 3×3 convolution of 512 filters and fc7 as a 1×1
of 512, not the original 7×7×4096 (134M). Scores from pool5, pool4 and pool3
are fused by learned up-convolutions initialised to bilinear interpolation,
and the last one brings them to input resolution (input side: a multiple of 32).
"""
from __future__ import annotations

from benchsuite import api
from benchsuite.hookspecs import hookimpl
from benchsuite.lazy import lazy_import

from benchsuite import toolkit

from . import pretrained as sources

layers = lazy_import("._fcn_layers", __package__)


class Fcn8(api.Architecture):
    name = "fcn8"
    description = "FCN-8s on VGG16 (fc6 3×3×512, fc7 1×1×512), no encoder; heatmaps at input resolution"
    encoder = "none"
    outputs = frozenset({"heatmap"})
    pretrained = sources.VGG16

    def __init__(self, fc_channels: int = 512, weights: str | None = None):
        self.fc_channels = fc_channels
        self.weights = weights

    def build(self, *, in_channels, out_channels, output, encoder):
        model = layers.FCN8(in_channels, out_channels, self.fc_channels)
        if self.weights is not None:
            toolkit.load_weights(model, self.name, self.weights, self.pretrained)
        return model


@hookimpl
def register_architectures(register):
    register(Fcn8)
