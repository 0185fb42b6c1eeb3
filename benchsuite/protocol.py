"""Named protocol presets (``benchsuite/protocols/*.toml``) plus overrides.

A protocol fixes everything about how a cell is trained and evaluated that
is not the method itself, so it is part of every cell's identity. A grid's
``protocol`` is a preset's name or, given as such, the path of the user's
own ``FILE.toml``; nothing else is read. Every value is checked for its
type and range when the protocol is loaded, before a run writes anything.
"""
from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from benchsuite.errors import PluginError


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
    lr_schedule: str = "plateau"  # plateau: reduce on a validation plateau; linear: lr -> lr_end over the epochs;
    # cosine: lr -> lr_end along a half cosine over the cell's course (its epochs, or its time budget if sooner)
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
    max_minutes: float = 0.0  # per cell, training and validation (0: none): may end an epoch early; best weights kept
    input_scaling: str = "standard"  # standard: (x - 0.45) / 0.225 from [0, 1]; unit: pixels in [0, 1] as they are
    # fine-tuning a pretrained encoder (settings added later: part of the identity only away from NEUTRAL)
    encoder_lr: float = 1.0  # the encoder's learning rate as a fraction of lr (the decoder and head get lr)
    warmup_epochs: int = 0  # the learning rate rises linearly from lr / warmup_epochs over these first epochs
    freeze_bn: bool = False  # the encoder's batch norms keep their (pretrained) statistics: eval mode in training

    def identity(self) -> dict[str, Any]:
        """What determines results (the description does not; a setting added after cells were first
        recorded counts only away from its neutral value, so adding one recomputes no earlier cell)."""
        data = dataclasses.asdict(self)
        data.pop("description")
        return {key: value for key, value in data.items() if key not in NEUTRAL or value != NEUTRAL[key]}


    def restricted(self, reads: frozenset[str]) -> dict[str, Any]:
        """The settings among ``reads``, and the split's, which every method's result depends on: the part of
        the protocol that is a cell's identity."""
        return {key: value for key, value in self.identity().items() if key in reads | SPLIT_SETTINGS}


_FIELDS = {f.name: f for f in dataclasses.fields(Protocol)}
SETTINGS = frozenset(_FIELDS) - {"name", "description"}  # what a method's ``reads`` may name
SPLIT_SETTINGS = frozenset({"folds", "split_seed"})  # the test folds: every cell depends on them
VALIDATION_SETTING = "val_fraction"  # read by a method that holds validation out, and by every selection
TRAINING_SETTINGS = SETTINGS - SPLIT_SETTINGS  # what the core's network method reads: everything but the folds


def preset_names() -> list[str]:
    folder = resources.files("benchsuite") / "protocols"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def _preset(name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """A preset's values; ``base = "other"`` inherits another preset's and overrides some."""
    if not isinstance(name, str) or not name:
        raise PluginError(f"protocol must be a preset name or a FILE.toml, got {name!r}")
    if name in seen:
        raise PluginError(f"protocol {name!r}: base presets form a loop ({' -> '.join((*seen, name))})")
    if name.endswith(".toml"):  # the user's own file, named as a path
        path = Path(name)
        if not path.is_file():
            raise PluginError(f"{name!r}: protocol file not found")
        text = path.read_text(encoding="utf-8", errors="replace")
    elif name in preset_names():
        text = (resources.files("benchsuite") / "protocols" / f"{name}.toml").read_text()
    else:
        raise PluginError(f"unknown protocol {name!r} (presets: {', '.join(preset_names())}; or give a FILE.toml)")
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PluginError(f"{name!r}: not valid TOML: {exc}") from None
    base = values.pop("base", None)
    return (_preset(base, (*seen, name)) if base else {}) | values


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




def load_protocol(name: str, overrides: dict[str, Any] | None = None) -> Protocol:
    """The preset ``name`` with ``overrides`` applied, type- and range-checked."""
    values = _preset(name) | dict(overrides or {})
    protocol = Protocol(name=name, **{key: _coerce(key, value) for key, value in values.items()})
    problem = range_problem(protocol)
    if problem:
        raise PluginError(f"protocol {name!r}: {problem}")
    return protocol


MAX_FOLDS = 10_000  # more folds than this is a typo, not leave-one-out
OPTIMIZERS = ("rmsprop", "adam", "sgd")
LR_SCHEDULES = ("plateau", "linear", "cosine")
# settings added after the identity's format was fixed, with the value that behaves as before they existed
NEUTRAL = {"encoder_lr": 1.0, "warmup_epochs": 0, "freeze_bn": False}
INPUT_SCALINGS = ("standard", "unit")


def range_problem(p: Protocol) -> str | None:
    """The first setting outside its allowed range, as one line; None when all are fine."""
    side = min(p.input_size) if isinstance(p.input_size, tuple) else 8 if p.input_size == "auto" else p.input_size
    checks = [
        (p.epochs >= 1, f"epochs must be at least 1, got {p.epochs}"),
        (2 <= p.folds <= MAX_FOLDS, (f"folds must be between 2 and {MAX_FOLDS} (and at most the number of "
                                     f"images), got {p.folds}")),
        (0 < p.val_fraction < 1, f"val_fraction must be between 0 and 1 (exclusive), got {p.val_fraction}"),
        (math.isfinite(p.lr) and p.lr > 0, f"lr must be a finite number > 0, got {p.lr}"),
        (p.batch_size >= 1, f"batch_size must be at least 1, got {p.batch_size}"),
        (side >= 8, f"input_size must be at least 8 pixels, got {p.input_size}"),
        (p.channels in (1, 3), f"channels must be 1 or 3, got {p.channels}"),
        (p.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {p.optimizer!r}"),
        (p.lr_schedule in LR_SCHEDULES, f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {p.lr_schedule!r}"),
        (p.input_scaling in INPUT_SCALINGS,
         f"input_scaling must be one of {', '.join(INPUT_SCALINGS)}, got {p.input_scaling!r}"),
        (math.isfinite(p.max_minutes) and p.max_minutes >= 0,
         f"max_minutes must be 0 (no budget) or a positive number of minutes, got {p.max_minutes}"),
        (p.patience >= 0, f"patience must be at least 0, got {p.patience}"),
        (p.lr_patience >= 0, f"lr_patience must be at least 0, got {p.lr_patience}"),
        (0 < p.lr_factor < 1, f"lr_factor must be between 0 and 1 (exclusive), got {p.lr_factor}"),
        (math.isfinite(p.lr_end) and p.lr_end >= 0, f"lr_end must be a finite number >= 0, got {p.lr_end}"),
        (math.isfinite(p.encoder_lr) and 0 <= p.encoder_lr <= 1,
         f"encoder_lr is a fraction of lr: between 0 (frozen) and 1, got {p.encoder_lr}"),
        (p.warmup_epochs >= 0, f"warmup_epochs must be at least 0, got {p.warmup_epochs}"),
        (0 <= p.momentum <= 1, f"momentum must be between 0 and 1, got {p.momentum}"),
        (p.momentum_end == -1 or 0 <= p.momentum_end <= 1,
         f"momentum_end must be -1 or between 0 and 1, got {p.momentum_end}"),
        (math.isfinite(p.weight_decay) and p.weight_decay >= 0, f"weight_decay must be >= 0, got {p.weight_decay}"),
        (0 <= p.hflip <= 1, f"hflip is a probability: between 0 and 1, got {p.hflip}"),
        (0 <= p.rotate_deg <= 180, f"rotate_deg must be between 0 and 180, got {p.rotate_deg}"),
        (0 <= p.scale < 1, f"scale must be at least 0 and below 1, got {p.scale}"),
        (0 <= p.translate <= 1, f"translate must be between 0 and 1, got {p.translate}"),
        (p.channel_shift >= 0, f"channel_shift must be at least 0, got {p.channel_shift}"),
        (p.seed >= 0 and p.split_seed >= 0, f"seeds must be at least 0, got seed {p.seed}, split_seed {p.split_seed}"),
    ]
    return next((message for ok, message in checks if not ok), None)


def _coerce(key: str, value: Any) -> Any:
    if key not in _FIELDS or key == "name":
        raise PluginError(f"unknown protocol setting {key!r} (known: {', '.join(sorted(_FIELDS))})")
    if key == "input_size" and value == "auto":
        return value
    if key == "input_size" and isinstance(value, str):  # from the command line: 256, 320x256 or [320, 256]
        match = re.fullmatch(r"\[?\s*(\d+)\s*[x,]\s*(\d+)\s*\]?", value.strip())
        if match:
            value = [int(match.group(1)), int(match.group(2))]
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
            return FLAG_WORDS[text.strip().lower()]
        return kind(text)
    except (KeyError, ValueError):
        raise PluginError(f"protocol setting {key!r} must be {kind.__name__}, got {text!r}") from None


FLAG_WORDS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}  # a yes/no typed in


def parse_flag(text: str, where: str) -> bool:
    """A yes/no option as people type it on a command line."""
    try:
        return FLAG_WORDS[text.strip().lower()]
    except KeyError:
        raise PluginError(f"{where} must be true or false (or 1/0, yes/no), got {text!r}") from None


def parse_assignments(items: list[str]) -> dict[str, str]:
    """``["epochs=5", "lr=0.01"]`` from the command line to a dict."""
    result = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise PluginError(f"--set expects KEY=VALUE, got {item!r}")
        result[key.strip()] = value.strip()
    return result
