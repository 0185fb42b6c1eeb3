"""HRNet (Sun et al. 2019) for heatmaps, through timm.

timm's HRNet keeps four parallel branches at strides 4, 8, 16 and 32. As in
HRNetV2, all four are upsampled to stride 4 and concatenated; a 1×1
convolution mixes them, and two ×2 stages (bilinear upsampling, 3×3
convolution) bring the heatmaps to input resolution (input side: a multiple
of 32). ``variant`` is any timm HRNet (hrnet_w18_small … hrnet_w64).
"""
from __future__ import annotations

import timm
import torch
import torch.nn.functional as F
from torch import nn

from benchsuite import api
from benchsuite.api import PluginError
from benchsuite.hookspecs import hookimpl

from . import weights as local_weights
from .heads import conv_block, upsampling_path

UP_WIDTHS = (64, 32)  # the two ×2 stages from stride 4 to input resolution


class HRNetHeatmaps(nn.Module):
    def __init__(self, variant: str, in_channels: int, out_channels: int):
        super().__init__()
        # features_only with feature_location="" gives the raw branches; index 0 (the stem) is not used
        self.backbone = timm.create_model(variant, pretrained=False, features_only=True, feature_location="",
                                          out_indices=(1, 2, 3, 4), in_chans=in_channels)
        merged = sum(self.backbone.feature_info.channels())
        self.mix = conv_block(merged, merged, kernel=1)
        self.up, channels = upsampling_path(merged, UP_WIDTHS)
        self.head = nn.Conv2d(channels, out_channels, 1)

    def forward(self, x):
        branches = self.backbone(x)
        size = branches[0].shape[-2:]
        merged = torch.cat([branches[0]] + [F.interpolate(b, size=size, mode="bilinear", align_corners=False)
                                            for b in branches[1:]], dim=1)
        return self.head(self.up(self.mix(merged)))


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
        model = HRNetHeatmaps(self.variant, in_channels, out_channels)
        if self.weights is not None:
            owner = f"hrnet {self.variant}"
            local_weights.load(model.backbone, local_weights.resolve(owner, self.weights), owner)
        return model


@hookimpl
def register_architectures(register):
    register(HRNet)
