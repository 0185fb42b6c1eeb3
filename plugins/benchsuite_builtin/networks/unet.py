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

from benchsuite import api
from benchsuite.hookspecs import hookimpl
from benchsuite.lazy import lazy_import

layers = lazy_import("._unet_layers", __package__)


class VanillaUnet(api.Architecture):
    name = "unet"
    description = "Vanilla U-Net (Ronneberger 2015), 64→1024 filters, no encoder; heatmaps at input resolution"
    encoder = "none"
    outputs = frozenset({"heatmap"})

    def __init__(self, base_channels: int = 64, batch_norm: bool = False):
        self.base_channels = base_channels
        self.batch_norm = batch_norm

    def build(self, *, in_channels, out_channels, output, encoder):
        return layers.UNet(in_channels, out_channels, self.base_channels, self.batch_norm)


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
        return layers.regression(in_channels, out_channels, self.base_channels, self.batch_norm, self.reference_input)


@hookimpl
def register_architectures(register):
    register(VanillaUnet)
    register(UnetRegression)
