"""HRNet (Sun et al. 2019) for heatmaps, through timm.

timm's HRNet keeps four parallel branches at strides 4, 8, 16 and 32. As in
HRNetV2, all four are upsampled to stride 4 and concatenated; a 1×1
convolution mixes them, and two ×2 stages (bilinear upsampling, 3×3
convolution) bring the heatmaps to input resolution (input side: a multiple
of 32). ``variant`` is any timm HRNet (hrnet_w18_small … hrnet_w64).
"""
from __future__ import annotations

from benchsuite import api
from benchsuite.api import PluginError
from benchsuite.hookspecs import hookimpl
from benchsuite.lazy import lazy_import

from benchsuite import toolkit

layers = lazy_import("._hrnet_layers", __package__)
timm = lazy_import("timm")


class HRNet(api.Architecture):
    name = "hrnet"
    description = "HRNet (timm, variant=hrnet_w18 by default), branches merged as in HRNetV2, no encoder; heatmaps"
    encoder = "none"
    outputs = frozenset({"heatmap"})

    def __init__(self, variant: str = "hrnet_w18", weights: str | None = None):
        if not (variant.startswith("hrnet") and timm.is_model(variant)):
            known = ", ".join(timm.list_models("hrnet*"))
            raise PluginError(f"hrnet: unknown variant {variant!r} (known: {known})")
        self.variant = variant
        self.weights = weights

    def build(self, *, in_channels, out_channels, output, encoder):
        model = layers.HRNetHeatmaps(self.variant, in_channels, out_channels)
        if self.weights is not None:
            owner = f"hrnet {self.variant}"
            self.loaded = toolkit.load_weights(model.backbone, owner, self.weights)  # for the cell's record
        return model


@hookimpl
def register_architectures(register):
    register(HRNet)
