"""HRNet with a heatmap head, as torch modules (see hrnet.py for the architecture and its parameters)."""
from __future__ import annotations

import timm
import torch
import torch.nn.functional as F
from torch import nn

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
