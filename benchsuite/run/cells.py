"""A cell: one method trained and tested on one fold of one dataset.

Its id is a hash of everything that determines its result, so the same
experiment always lands in the same folder and a changed one never does.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from benchsuite.protocol import Protocol


@dataclass(frozen=True)
class Component:
    """A registered name plus the parameters to instantiate it with."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    display: str | None = field(default=None, compare=False)  # a grid's "label"; not part of the identity

    @property
    def label(self) -> str:
        if self.display:
            return self.display
        if not self.params:
            return self.name
        inner = ",".join(f"{k}={_short(v)}" for k, v in sorted(self.params.items()))
        return f"{self.name}({inner})"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(sorted(self.params.items()))}

    def __hash__(self) -> int:
        return hash(json.dumps(self.as_dict(), sort_keys=True, default=str))


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"  # 2.0 reads as 2, as the user wrote it
    return json.dumps(value, separators=(",", ":")) if isinstance(value, (list, dict)) else str(value)


@dataclass(frozen=True)
class Cell:
    dataset: Component
    architecture: Component
    encoder: Component | None
    codec: Component | None
    fold: int
    protocol: Protocol
    versions: dict[str, str] = field(default_factory=dict, hash=False)  # plugin name -> version

    @property
    def method(self) -> str:
        """Architecture, encoder and codec as one readable label."""
        parts = [self.architecture.label]
        parts += [c.label for c in (self.encoder, self.codec) if c is not None]
        return "+".join(parts)

    def identity(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset.as_dict(),
            "architecture": self.architecture.as_dict(),
            "encoder": self.encoder.as_dict() if self.encoder else None,
            "codec": self.codec.as_dict() if self.codec else None,
            "fold": self.fold,
            "protocol": self.protocol.identity(),
            "versions": dict(sorted(self.versions.items())),
        }

    @property
    def id(self) -> str:
        return _digest(self.identity())

    @property
    def configuration_id(self) -> str:
        """The identity of the method configuration, the same for all its folds: one leaderboard row."""
        return configuration_id(self.identity())

    def describe(self) -> str:
        return f"{self.dataset.label} | {self.method} | fold {self.fold}"


def _digest(data: dict[str, Any]) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def configuration_id(identity: dict[str, Any]) -> str:
    """A cell identity (as stored in cell.json's ``config``) without its fold, hashed: cells of one configuration
    share it, and two configurations never do."""
    return _digest({key: value for key, value in identity.items() if key != "fold"})
