"""Pretrained weights from files on this machine only, checked and loaded strictly, never downloaded.

A plugin's ``weights`` is ``"imagenet"`` (the file its class declares as
:class:`PretrainedWeights`: inside an installed package, or in
torch's cache) or the path of a saved state dict. Files are read with
``weights_only=True`` (or as safetensors), so nothing in them is executed; a
declared file's digest is checked first; and a file that would leave any of
the module's tensors at random is an error naming the layers, unless the
user asks for a partial load. A file is part of a cell's identity by its
content (:func:`identified`), not by where it lies.
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from benchsuite.components import is_file_record
from benchsuite.errors import PluginError
from benchsuite.files import sha256
from benchsuite.lazy import lazy_import

torch = lazy_import("torch")

IMAGENET = "imagenet"
_READABLE: set[str] = set()  # digests of files already read as state dicts in this process


@dataclass(frozen=True)
class Loaded:
    """What a load put into a module, for the cell's record."""

    file: str
    sha256: str
    tensors: int  # the module's tensors now holding the file's values
    random: int  # the module's tensors left at random (0 unless partial)
    unused: int  # the file's tensors the module has no place for (a classifier head)

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "sha256": self.sha256, "tensors": self.tensors, "random": self.random,
                "unused": self.unused}


@dataclass(frozen=True)
class PretrainedWeights:
    """What ``weights = "imagenet"`` loads, found on this machine and never downloaded: a file inside an
    installed Python package (``package``), or, without one, a file in torch's own cache
    (``$TORCH_HOME/hub/checkpoints``). Its digest is checked before it is read; ``mean`` and ``std`` (per
    channel, from pixels in [0, 1]) are the input normalisation the weights were trained with; ``rename``
    maps the file's tensor names to the module's (``rename(file_state, module_state) -> file_state``)."""

    file: str  # the file's path inside the package, or its name in torch's cache
    sha256: str  # its digest (a prefix, such as the 8 digits in torchvision's file names, is accepted)
    install: str  # how a user gets the file: a pip command, or the URL to put in torch's cache
    license: str
    source: str  # where the weights come from (URL)
    citation: str = ""
    package: str = ""  # the importable package that holds the file ("": torch's cache)
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)  # ImageNet's, unless the weights were trained otherwise
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    rename: Callable[[dict, dict], dict] | None = None

    def describe(self) -> str:
        """One line for listings: what the weights are, their license and where they come from."""
        cited = f"; {self.citation}" if self.citation else ""
        return f"weights = \"imagenet\": {self.license}, {self.source}{cited}"


def resolve(owner: str, weights: str, pretrained: PretrainedWeights | None = None) -> Path:
    """The local file ``weights`` names (checked against its declared digest), or a one-line PluginError that
    says how to provide it."""
    if weights != IMAGENET:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise PluginError(f"{owner}: weights file {path} not found; pass weights=PATH to a local state-dict file "
                              f"(or weights=\"imagenet\" where supported), downloads are never attempted")
        return path
    if pretrained is None:
        raise PluginError(f"{owner}: no ImageNet weights known; pass weights=PATH to a local state-dict file")
    path = _declared_file(owner, pretrained)
    if not sha256(path).startswith(pretrained.sha256):
        raise PluginError(f"{owner}: {path} is not the file it should be (its sha256 is {sha256(path)[:16]}…, "
                          f"expected {pretrained.sha256[:16]}…): reinstall it ({pretrained.install})")
    return path


def _declared_file(owner: str, pretrained: PretrainedWeights) -> Path:
    if pretrained.package:
        spec = importlib.util.find_spec(pretrained.package)
        if spec is None or not spec.submodule_search_locations:
            raise PluginError(f"{owner}: its ImageNet weights are not installed; {pretrained.install}")
        path = Path(next(iter(spec.submodule_search_locations))) / pretrained.file
        if not path.is_file():
            raise PluginError(f"{owner}: {path} is missing from the installed package; reinstall it "
                              f"({pretrained.install})")
        return path
    path = torch_cache() / pretrained.file
    if not path.is_file():
        raise PluginError(f"{owner}: ImageNet weights not found at {path}; put the file {pretrained.install} there "
                          f"(or pass weights=PATH), downloads are never attempted")
    return path


def torch_cache() -> Path:
    """torch's checkpoint folder, as ``torch.hub.get_dir()`` finds it, without importing torch (a listing
    must not take seconds): $TORCH_HOME, else $XDG_CACHE_HOME/torch, else ~/.cache/torch; then hub/checkpoints."""
    home = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(home).expanduser() / "hub" / "checkpoints"


def unavailable(pretrained: PretrainedWeights | None) -> str | None:
    """Why ``weights = "imagenet"`` cannot load here (the package is not installed), or None."""
    if pretrained is None:
        return "no ImageNet weights known"
    try:
        _declared_file("", pretrained)
    except PluginError:
        if pretrained.package:
            return f"not installed: {pretrained.install}"
        return f"not in torch's cache: put {pretrained.install} in {torch_cache()}"
    return None


def identified(owner: str, weights: Any, pretrained: PretrainedWeights | None = None) -> Any:
    """A ``weights`` parameter as a cell's identity holds it: a file by its content ({"file", "sha256"}), so a
    file replaced at the same path is another cell and a moved one the same; None and names stay as they are."""
    if not isinstance(weights, str) or (weights == IMAGENET and pretrained is None):
        return weights
    path = resolve(owner, weights, pretrained)
    digest = sha256(path)
    if digest not in _READABLE:  # a truncated or planted file is refused before the first cell, not in each
        read_state(path, owner)
        _READABLE.add(digest)
    return {"file": weights if weights == IMAGENET else str(path.resolve()), "sha256": digest}


def check_unchanged(owner: str, params: dict[str, Any]) -> None:
    """A weights file recorded by :func:`identified` must still be the file the cell was identified by (in a
    method's nested plugin tables too)."""
    for key, inner in params.items():
        if isinstance(inner, dict) and isinstance(inner.get("name"), str):
            check_unchanged(f"{owner} {key} {inner['name']}", inner)
    recorded = params.get("weights")
    if not is_file_record(recorded) or recorded["file"] == IMAGENET:
        return
    path = Path(recorded["file"])
    if not path.is_file():
        raise PluginError(f"{owner}: weights file {path} not found (it was there when the grid was loaded)")
    if sha256(path) != recorded["sha256"]:
        raise PluginError(f"{owner}: weights file {path} changed since the grid was loaded (sha256 "
                          f"{sha256(path)[:16]}…, the cell was identified by {recorded['sha256'][:16]}…)")


def load_weights(module, owner: str, weights: str, pretrained: PretrainedWeights | None = None,
              partial: bool = False, skip_mismatched: bool = False) -> Loaded:
    """Resolve ``weights`` and load it into ``module`` (see :func:`load`)."""
    rename = pretrained.rename if (weights == IMAGENET and pretrained is not None) else None
    return load(module, resolve(owner, weights, pretrained), owner, skip_mismatched=skip_mismatched,
                partial=partial, rename=rename)


def read_state(path: Path, owner: str) -> dict:
    """A state dict from a safetensors file or a torch file read with ``weights_only`` (nothing executed)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's input, said in one line
        raise PluginError(f"{owner}: {path} is not a readable state dict ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0][:160] if str(exc) else 'no detail'})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PluginError(f"{owner}: {path} does not hold a state dict (names to tensors)")
    return state


def load(module, path: Path, owner: str, skip_mismatched: bool = False, partial: bool = False,
         rename=None) -> Loaded:
    """Copy every tensor of the file whose name the module has into the module.

    A first convolution saved for RGB is adapted to the module's input
    channels (summed for grayscale, which equals feeding the gray image in
    each of the three channels). Other shape mismatches are errors, unless
    ``skip_mismatched`` (fine-tuning with a different output layer). The file
    must hold every tensor of the module (tensors the module lacks, such as a
    classifier head, are counted as unused): a file made for a similar model
    that leaves layers at random is an error naming them, unless ``partial``.
    """
    state = read_state(path, owner)
    own = module.state_dict()
    if rename is not None:
        state = rename(state, own)
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
    return Loaded(path.name, sha256(path), len(usable), len(missing), len([k for k in state if k not in own]))


def _adapt_input_channels(tensor, target):
    """An RGB first-layer kernel (out, 3, k, k) for a model with another number of inputs."""
    if tensor.ndim != 4 or len(target) != 4 or tensor.shape[0] != target[0] or tensor.shape[2:] != target[2:]:
        return None
    channels = target[1]
    if channels == 1:
        return tensor.sum(dim=1, keepdim=True)
    repeats = -(-channels // tensor.shape[1])
    return tensor.repeat(1, repeats, 1, 1)[:, :channels] * (tensor.shape[1] / channels)
