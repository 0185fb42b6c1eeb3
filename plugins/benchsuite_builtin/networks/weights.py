"""Pretrained weights from local files only, never from the network.

``weights`` is a path to a saved state dict, or ``"imagenet"`` for a model
whose torchvision ImageNet file can sit in torch's own cache
(``$TORCH_HOME/hub/checkpoints``). A missing file is a one-line error that
says how to provide it; nothing is ever downloaded.
"""
from __future__ import annotations

from pathlib import Path

from benchsuite.api import PluginError
from benchsuite.lazy import lazy_import

torch = lazy_import("torch")


def resolve(owner: str, weights: str, imagenet_url: str | None = None) -> Path:
    """The local file that ``weights`` names, or a PluginError saying how to provide it."""
    if weights == "imagenet":
        if imagenet_url is None:
            raise PluginError(f"{owner}: no ImageNet weights known; pass weights=PATH to a local state-dict file")
        path = Path(torch.hub.get_dir()) / "checkpoints" / imagenet_url.rsplit("/", 1)[-1]
        if not path.is_file():
            raise PluginError(
                f"{owner}: ImageNet weights not found at {path}; put the file {imagenet_url} there "
                f"(or pass weights=PATH), downloads are never attempted"
            )
        return path
    path = Path(weights).expanduser()
    if not path.is_file():
        raise PluginError(
            f"{owner}: weights file {path} not found; pass weights=PATH to a local state-dict file "
            f"(or weights=\"imagenet\" where supported), downloads are never attempted"
        )
    return path


def load(module: torch.nn.Module, path: Path, owner: str, skip_mismatched: bool = False,
         partial: bool = False) -> None:
    """Copy every tensor of the file whose name the module has into the module.

    A first convolution saved for RGB is adapted to the module's input
    channels (summed for grayscale). Other shape mismatches are errors,
    unless ``skip_mismatched`` (fine-tuning with a different output layer).
    The file must hold every tensor of the module (tensors the module lacks,
    such as a classifier head, are ignored): a file made for a similar model
    that leaves layers at random is an error naming them, unless ``partial``.
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    own = module.state_dict()
    usable = {}
    for key, tensor in state.items():
        if key not in own:
            continue
        target = own[key].shape
        if tensor.shape != target:
            tensor = _adapt_input_channels(tensor, target)
        if tensor is None or tensor.shape != target:
            if skip_mismatched:
                continue
            raise PluginError(f"{owner}: {path} has {key} of shape {tuple(state[key].shape)}, the model needs {tuple(target)}")
        usable[key] = tensor
    if not usable:
        raise PluginError(f"{owner}: {path} holds no weights for this model")
    missing = [key for key in own if key not in usable and not key.endswith("num_batches_tracked")]
    if missing and not (partial or skip_mismatched):
        layers = sorted({".".join(key.split(".")[:2]) for key in missing})
        raise PluginError(f"{owner}: {path} holds {len(usable)} of the model's {len(usable) + len(missing)} tensors; "
                          f"{len(missing)} would stay random, in {', '.join(layers[:6])}"
                          f"{f' and {len(layers) - 6} more layers' if len(layers) > 6 else ''} (a file for another "
                          "model?); pass partial = true to load it anyway")
    module.load_state_dict(usable, strict=False)


def _adapt_input_channels(tensor: torch.Tensor, target: torch.Size) -> torch.Tensor | None:
    """An RGB first-layer kernel (out, 3, k, k) for a model with another number of inputs."""
    if tensor.ndim != 4 or len(target) != 4 or tensor.shape[0] != target[0] or tensor.shape[2:] != target[2:]:
        return None
    channels = target[1]
    if channels == 1:
        return tensor.sum(dim=1, keepdim=True)
    repeats = -(-channels // tensor.shape[1])
    return tensor.repeat(1, repeats, 1, 1)[:, :channels] * (tensor.shape[1] / channels)
