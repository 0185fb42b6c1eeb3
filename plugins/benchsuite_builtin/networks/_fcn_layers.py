"""FCN-8s as torch modules (see fcn.py for the architecture and its parameters)."""
from __future__ import annotations

import torch
from torch import nn

VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def _vgg16_features(in_channels: int) -> nn.Sequential:
    layers, channels = [], in_channels
    for item in VGG16:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, item, 3, padding=1), nn.ReLU(inplace=True)]
            channels = item
    return nn.Sequential(*layers)


def _bilinear_upsampling(channels: int, factor: int) -> nn.ConvTranspose2d:
    """A learnable up-convolution that starts as bilinear interpolation, channel by channel."""
    kernel = 2 * factor
    layer = nn.ConvTranspose2d(channels, channels, kernel, stride=factor, padding=factor // 2, bias=False)
    centre = (kernel - 1) / 2
    profile = 1 - (torch.arange(kernel, dtype=torch.float32) - centre).abs() / factor
    with torch.no_grad():
        layer.weight.zero_()
        for c in range(channels):
            layer.weight[c, c] = profile[:, None] * profile[None, :]
    return layer


class FCN8(nn.Module):
    POOL3, POOL4 = 17, 24  # indices in ``features`` just after the third and fourth max-pooling

    def __init__(self, in_channels: int, out_channels: int, fc_channels: int = 512):
        super().__init__()
        self.features = _vgg16_features(in_channels)
        self.fc = nn.Sequential(
            nn.Conv2d(512, fc_channels, 3, padding=1), nn.ReLU(inplace=True), nn.Dropout2d(0.5),
            nn.Conv2d(fc_channels, fc_channels, 1), nn.ReLU(inplace=True), nn.Dropout2d(0.5),
        )
        self.score_fr = nn.Conv2d(fc_channels, out_channels, 1)
        self.score_pool4 = nn.Conv2d(512, out_channels, 1)
        self.score_pool3 = nn.Conv2d(256, out_channels, 1)
        self.up_fr = _bilinear_upsampling(out_channels, 2)
        self.up_pool4 = _bilinear_upsampling(out_channels, 2)
        self.up_final = _bilinear_upsampling(out_channels, 8)

    def forward(self, x):
        pool3 = self.features[: self.POOL3](x)
        pool4 = self.features[self.POOL3 : self.POOL4](pool3)
        score = self.score_fr(self.fc(self.features[self.POOL4 :](pool4)))
        score = self.up_fr(score) + self.score_pool4(pool4)
        score = self.up_pool4(score) + self.score_pool3(pool3)
        return self.up_final(score)
