"""Named protocol presets (``benchsuite/protocols/*.toml``) plus overrides.

A protocol fixes everything about how a cell is trained and evaluated that
is not the method itself, so it is part of every cell's identity.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from benchsuite.api import PluginError


@dataclass(frozen=True)
class Protocol:
    name: str
    description: str = ""
    input_size: int | tuple[int, int] | str = 256  # a square's side, [width, height], or "auto" (from the images)
    channels: int = 3  # 1 = grayscale, 3 = RGB
    folds: int = 5
    split_seed: int = 0
    val_fraction: float = 0.25  # of each fold's training part
    seed: int = 0  # weights initialisation and batch order
    optimizer: str = "rmsprop"  # rmsprop | adam | sgd
    lr: float = 1e-3
    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    batch_size: int = 8
    epochs: int = 2000
    patience: int = 400  # early stopping, in epochs without validation improvement
    lr_schedule: str = "plateau"  # plateau: reduce on a validation plateau; linear: lr -> lr_end over the epochs
    lr_factor: float = 0.2  # reduce-on-plateau factor
    lr_patience: int = 200
    lr_end: float = 0.0  # linear schedule: last epoch's learning rate
    momentum_end: float = -1.0  # linear schedule: last epoch's momentum (-1: constant momentum)
    rotate_deg: float = 0.0  # geometric augmentation: rotation uniform in ±rotate_deg
    scale: float = 0.0  # zoom uniform in [1 - scale, 1 + scale]
    translate: float = 0.0  # shift uniform in ±translate × input size
    hflip: float = 0.0  # flip probability; needs the dataset's left/right landmark pairs
    channel_shift: int = 0  # >0: 3 extra copies, a constant in [1, channel_shift] added to one RGB channel
    channel_split: bool = False  # 3 extra grayscale copies, one per RGB channel
    max_minutes: float = 0.0  # time budget per cell's training (0: none); stops with the best-validation weights
    input_scaling: str = "standard"  # standard: (x - 0.45) / 0.225 from [0, 1]; unit: pixels in [0, 1] as they are

    def identity(self) -> dict[str, Any]:
        """What determines results (the description does not)."""
        data = dataclasses.asdict(self)
        data.pop("description")
        return data


_FIELDS = {f.name: f for f in dataclasses.fields(Protocol)}


def preset_names() -> list[str]:
    folder = resources.files("benchsuite") / "protocols"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def _preset(name: str) -> dict[str, Any]:
    """A preset's values; ``base = "other"`` inherits another preset's and overrides some."""
    path = resources.files("benchsuite") / "protocols" / f"{name}.toml"
    if not path.is_file():
        raise PluginError(f"unknown protocol {name!r} (known: {', '.join(preset_names())})")
    values = tomllib.loads(path.read_text())
    base = values.pop("base", None)
    return (_preset(base) if base else {}) | values


def protocol_from_identity(identity: dict[str, Any]) -> Protocol:
    """The protocol a cell.json's ``config.protocol`` records (settings this version does not know are refused)."""
    values = dict(identity)
    name = values.pop("name", "recorded")
    if isinstance(values.get("input_size"), list):
        values["input_size"] = tuple(values["input_size"])
    unknown = set(values) - set(_FIELDS)
    if unknown:
        raise PluginError(f"recorded protocol {name!r} has settings this version does not know: {sorted(unknown)}")
    return Protocol(name=name, **values)


_CHOICES = {"input_scaling": ("standard", "unit")}


def load_protocol(name: str, overrides: dict[str, Any] | None = None) -> Protocol:
    """The preset ``name`` with ``overrides`` applied (type-checked)."""
    values = _preset(name) | dict(overrides or {})
    for key, allowed in _CHOICES.items():
        if key in values and values[key] not in allowed:
            raise PluginError(f"protocol setting {key!r} must be one of {', '.join(allowed)}, got {values[key]!r}")
    return Protocol(name=name, **{key: _coerce(key, value) for key, value in values.items()})


def _coerce(key: str, value: Any) -> Any:
    if key not in _FIELDS or key == "name":
        raise PluginError(f"unknown protocol setting {key!r} (known: {', '.join(sorted(_FIELDS))})")
    if key == "input_size" and value == "auto":
        return value
    if key == "input_size" and isinstance(value, (list, tuple)):
        if len(value) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
            raise PluginError(f"protocol setting 'input_size' must be an int or [width, height], got {value!r}")
        return tuple(value)
    kind = type(Protocol.__dataclass_fields__[key].default)
    if isinstance(value, str) and kind is not str:
        value = _parse(key, value, kind)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise PluginError(f"protocol setting {key!r} must be {kind.__name__}, got {value!r}")
    return value


def _parse(key: str, text: str, kind: type) -> Any:
    try:
        if kind is bool:
            return {"true": True, "false": False}[text.lower()]
        return kind(text)
    except (KeyError, ValueError):
        raise PluginError(f"protocol setting {key!r} must be {kind.__name__}, got {text!r}") from None


def parse_assignments(items: list[str]) -> dict[str, str]:
    """``["epochs=5", "lr=0.01"]`` from the command line to a dict."""
    result = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise PluginError(f"--set expects KEY=VALUE, got {item!r}")
        result[key.strip()] = value.strip()
    return result
