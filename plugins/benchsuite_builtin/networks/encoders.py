"""Encoders from segmentation-models-pytorch (and through it, timm).

``resnet18/34/50`` are named entries; ``smp`` takes any encoder that smp
knows by its ``smp_name`` (``efficientnet-b0``, ``mit_b0``, or any timm model
as ``tu-<timm name>``, e.g. ``tu-convnext_tiny``).

Weights are never downloaded: an encoder starts from random initialisation
unless ``weights`` names a local state-dict file, or is ``"imagenet"`` for a
ResNet whose torchvision file is in torch's cache. The file must hold every
tensor of the encoder (``partial = true`` accepts one that leaves some random).
"""
from __future__ import annotations

from benchsuite import api
from benchsuite.api import PluginError
from benchsuite.hookspecs import hookimpl
from benchsuite.lazy import lazy_import

from . import weights as local_weights

smp = lazy_import("segmentation_models_pytorch")
timm = lazy_import("timm")
tv = lazy_import("torchvision.models")

# The smp ResNets have torchvision's layout, so torchvision's ImageNet files load into them.
_IMAGENET = {"resnet18": "ResNet18_Weights", "resnet34": "ResNet34_Weights", "resnet50": "ResNet50_Weights"}


class SmpEncoder(api.Encoder):
    smp_name = ""

    def __init__(self, weights: str | None = None, partial: bool = False):
        self.weights, self.partial = weights, partial  # partial: a weights file may leave layers at random

    def build(self, in_channels: int, depth: int = 5):
        encoder = smp.encoders.get_encoder(self.smp_name, in_channels=in_channels, depth=depth, weights=None)
        self.load_weights(encoder)
        return encoder

    def load_weights(self, module) -> None:
        """Load local pretrained weights into an encoder module, if asked to."""
        if self.weights is None:
            return
        owner = f"encoder {self.smp_name}"
        imagenet = getattr(tv, _IMAGENET[self.smp_name]).IMAGENET1K_V1.url if self.smp_name in _IMAGENET else None
        path = local_weights.resolve(owner, self.weights, imagenet)
        local_weights.load(module, path, owner, partial=self.partial)


class AnySmpEncoder(SmpEncoder):
    name = "smp"
    description = "Any smp encoder by smp_name (e.g. efficientnet-b0, or a timm model as tu-<name>)"

    def __init__(self, smp_name: str, weights: str | None = None, partial: bool = False):
        known = smp_name in smp.encoders.encoders
        if not known and not (smp_name.startswith("tu-") and timm.is_model(smp_name[3:])):
            raise PluginError(
                f"encoder smp: unknown smp_name {smp_name!r}; use a name from "
                f"segmentation_models_pytorch.encoders.get_encoder_names() or tu-<timm model name>"
            )
        super().__init__(weights, partial)
        self.smp_name = smp_name


def _encoder(smp_name: str, summary: str) -> type:
    return type(
        f"Encoder_{smp_name.replace('-', '_')}",
        (SmpEncoder,),
        {"name": smp_name, "smp_name": smp_name, "description": summary, "__module__": __name__},
    )


ENCODERS = [
    _encoder("resnet18", "ResNet-18 (11M), smp/torchvision layout"),
    _encoder("resnet34", "ResNet-34 (21M), smp/torchvision layout"),
    _encoder("resnet50", "ResNet-50 (23M), smp/torchvision layout"),
    AnySmpEncoder,
]


@hookimpl
def register_encoders(register):
    for encoder in ENCODERS:
        register(encoder)
