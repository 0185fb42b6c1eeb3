"""A grid entry's plugin and parameters, and the one place that tells the core's own keys from a plugin's.

A :class:`Component` is a registered name plus the parameters to make it with (a dataset, an architecture or
method, an encoder, a codec); the core keeps a few keys of its own among them (a dataset's split file, a
network's pre-training), which never reach the plugin.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# Keys of a grid entry the core handles itself, never passed to the plugin: a dataset's user split file, an
# architecture's pre-training (beside them a table's "name" and its display "label").
CORE_PARAMETERS = {"datasets": ("splits",), "architectures": ("pretrain",)}
_CORE_KEYS = frozenset(key for keys in CORE_PARAMETERS.values() for key in keys)


def split_entry(axis: str, entry: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any], str | None]:
    """A grid table as (name, plugin parameters, the core's own parameters, display label): the one place that
    tells the core's keys from a plugin's."""
    params = dict(entry)
    name, label = params.pop("name", None), params.pop("label", None)
    core = {key: params.pop(key) for key in CORE_PARAMETERS.get(axis, ()) if key in params}
    return name, params, core, label


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

    @property
    def plugin_params(self) -> dict[str, Any]:
        """The parameters the plugin itself is made with: the core's own (a split file, pre-training) removed,
        a file identified by its content ({"file", "sha256"}) given as the file the user named."""
        return {key: plain_files(value) for key, value in self.params.items() if key not in _CORE_KEYS}

    def core(self, key: str) -> Any:
        """One of the core's own parameters (``splits``, ``pretrain``), None when the entry has none."""
        return self.params.get(key) if key in _CORE_KEYS else None

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "Component | None":
        """A component as :meth:`as_dict` wrote it (cell.json's config, model.json), None for none."""
        return cls(data["name"], dict(data.get("params") or {})) if data else None

    def __hash__(self) -> int:
        return hash(json.dumps(self.as_dict(), sort_keys=True, default=str))


def label_without(component: Component, params: set[str]) -> str:
    """A component's label with the selected parameters shown as chosen on validation."""
    kept = {k: v for k, v in component.params.items() if k not in params}
    inner = ",".join([f"{k}={_short(v)}" for k, v in sorted(kept.items())] + [f"{p}=selected" for p in sorted(params)])
    return f"{component.name}({inner})"


def is_file_record(value: Any) -> bool:
    """Whether a parameter is a file the grid recorded with its digest ({"file", "sha256"}): a user's split,
    a weights file."""
    return isinstance(value, dict) and set(value) == {"file", "sha256"}


def file_of(value: Any) -> Any:
    """The file a parameter names, where the grid recorded it with its digest."""
    return value["file"] if is_file_record(value) else value


def plain_files(value: Any) -> Any:
    """A parameter with every file recorded with its digest given as the file, in nested tables too (a
    method's own encoder table)."""
    if is_file_record(value):
        return value["file"]
    return {k: plain_files(v) for k, v in value.items()} if isinstance(value, dict) else value


def _short(value: Any) -> str:
    value = file_of(value)
    if isinstance(value, float):
        return f"{value:g}"  # 2.0 reads as 2, as the user wrote it
    return json.dumps(value, separators=(",", ":")) if isinstance(value, (list, dict)) else str(value)


