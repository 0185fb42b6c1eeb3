"""Encoders from segmentation-models-pytorch (and through it, timm).

Weights are never downloaded: an encoder starts from random initialisation
unless ``weights`` names a local state-dict file.
"""
from __future__ import annotations

from pathlib import Path

import segmentation_models_pytorch as smp
import torch

from benchsuite.api import PluginError
from benchsuite.hookspecs import hookimpl


class SmpEncoder:
    smp_name = ""

    def __init__(self, weights: str | None = None):
        self.weights = weights

    def build(self, in_channels: int, depth: int = 5):
        encoder = smp.encoders.get_encoder(self.smp_name, in_channels=in_channels, depth=depth, weights=None)
        self.load_weights(encoder)
        return encoder

    def load_weights(self, encoder: torch.nn.Module) -> None:
        """Load local pretrained weights into an encoder module, if asked to."""
        if self.weights is None:
            return
        path = Path(self.weights).expanduser()
        if not path.is_file():
            raise PluginError(
                f"encoder {self.name}: weights file {path} not found; pass a local state-dict file "
                f"(weights=PATH), downloads are never attempted"
            )
        state = torch.load(path, map_location="cpu", weights_only=True)
        missing, unexpected = encoder.load_state_dict(state, strict=False)
        if len(missing) == len(encoder.state_dict()):
            raise PluginError(f"encoder {self.name}: {path} holds no weights for this encoder")


def _encoder(smp_name: str, summary: str) -> type:
    return type(
        f"Encoder_{smp_name.replace('-', '_')}",
        (SmpEncoder,),
        {"name": smp_name, "smp_name": smp_name, "description": summary},
    )


ENCODERS = [
    _encoder("resnet18", "ResNet-18 (11M), smp/torchvision layout"),
    _encoder("resnet34", "ResNet-34 (21M), smp/torchvision layout"),
    _encoder("resnet50", "ResNet-50 (23M), smp/torchvision layout"),
]


@hookimpl
def register_encoders(register):
    for encoder in ENCODERS:
        register(encoder)
