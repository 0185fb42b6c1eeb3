"""A cell: one method trained and tested on one fold of one dataset.

Its id is a hash of everything that determines its result — the dataset, the
fold, the method and its parameters, the plugins' versions and only the
protocol settings the method reads — so the same experiment always lands in
the same folder, a changed one never does, and a change the method does not
read (a network's epochs, for the mean shape) leaves its cells as they are.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from benchsuite.components import Component, is_file_record, label_without
from benchsuite.protocol import Protocol


@dataclass(frozen=True)
class Cell:
    dataset: Component
    architecture: Component
    encoder: Component | None
    codec: Component | None
    fold: int
    protocol: Protocol
    versions: dict[str, str] = field(default_factory=dict, hash=False)  # plugin name -> version
    select: tuple[str, ...] = field(default=(), compare=False, hash=False)  # chosen on validation, see selection()
    select_defaults: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)  # values when unset
    # the protocol settings the method reads (see benchsuite.api.Method.reads): only they and the split are part
    # of the identity; None: every setting (a cell recorded before identities were restricted)
    reads: frozenset[str] | None = field(default=None, compare=False, hash=False)

    @property
    def trains_networks(self) -> bool:
        """Whether the cell trains networks (it reads the time budget; see api.trains_networks): what an
        executor gives a GPU."""
        return self.reads is None or "max_minutes" in self.reads

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
            "protocol": self.protocol.identity() if self.reads is None else self.protocol.restricted(self.reads),
            "versions": dict(sorted(self.versions.items())),
        }

    @property
    def id(self) -> str:
        return cell_id(self.identity())

    @property
    def configuration_id(self) -> str:
        """The identity of the method configuration, the same for all its folds: one leaderboard row."""
        return configuration_id(self.identity())

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "Cell":
        """The cell a cell.json describes (its ``config``), with its labels: to retrain or reuse its method."""
        from benchsuite.protocol import protocol_from_identity

        config = record["config"]

        def component(key: str) -> Component | None:
            return Component.from_dict(config.get(key))

        dataset = component("dataset")
        dataset = Component(dataset.name, dataset.params, record.get("dataset"))
        recorded = config["protocol"]  # a restricted identity holds just what the method reads (and no name)
        reads = None if "name" in recorded else frozenset(recorded)
        return cls(dataset, component("architecture"), component("encoder"), component("codec"), int(config["fold"]),
                   protocol_from_identity(recorded), dict(config.get("versions") or {}), reads=reads)

    def selection(self) -> tuple[str, str, dict[str, Any]] | None:
        """For a cell among candidates of a nested selection: (group id, group label, its values of the selected
        parameters). The group is everything but those parameters (and the fold); None without selection."""
        if not self.select:
            return None
        identity = self.identity()
        identity.pop("fold")
        chosen: dict[str, Any] = {}
        components = {"dataset": self.dataset, "architecture": self.architecture, "encoder": self.encoder,
                      "codec": self.codec}
        stripped = {}
        for entry in self.select:
            axis, _, param = entry.partition(".")
            part = identity.get(axis)
            if part:
                chosen[entry] = part["params"].get(param, self.select_defaults.get(entry))
                part["params"] = {k: v for k, v in part["params"].items() if k != param}
                stripped.setdefault(axis, set()).add(param)
        labels = [(c.label if not stripped.get(axis) else label_without(c, stripped[axis]))
                  for axis, c in components.items() if c is not None and axis != "dataset"]
        return _digest(identity), "+".join(labels), chosen

    def describe(self) -> str:
        return f"{self.dataset.label} | {self.method} | fold {self.fold}"


def _digest(data: dict[str, Any]) -> str:
    text = json.dumps(_by_content(data), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _by_content(value: Any) -> Any:
    """A file named in an identity ({"file", "sha256"}: a user's split, a weights file) counts by its content
    alone: the same file elsewhere is the same cell, another file at the same path is not."""
    if is_file_record(value):
        return {"sha256": value["sha256"]}
    if isinstance(value, dict):
        return {key: _by_content(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_by_content(item) for item in value]
    return value


def cell_id(identity: dict[str, Any]) -> str:
    """A cell identity (as stored in cell.json's ``config``), hashed: the name of the cell's folder."""
    return _digest(identity)


def configuration_id(identity: dict[str, Any]) -> str:
    """A cell identity (as stored in cell.json's ``config``) without its fold, hashed: cells of one configuration
    share it, and two configurations never do."""
    return _digest({key: value for key, value in identity.items() if key != "fold"})
