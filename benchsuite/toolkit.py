"""What the core lends to plugins beyond the contract: stable helpers, loaded when first used.

A plugin imports from the core only :mod:`benchsuite.api` (the contract),
:mod:`benchsuite.hookspecs` (registration), :mod:`benchsuite.lazy` and this
module; ``tests/test_core_names.py`` holds the built-in plugins to that. The
names below keep their meaning across versions, the rest of the core may
change. Each name is imported on first use, so an executor that only writes
files never imports torch.
"""
from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    # files written whole or not at all, and a lock shared by processes and nodes
    "write_atomic": "benchsuite.files", "write_text_atomic": "benchsuite.files", "locked": "benchsuite.files",
    "sha256": "benchsuite.files",  # a file's content digest, remembered per path, size and mtime
    # the CPUs this process may use (Slurm allocation, affinity, cgroup quota)
    "usable_cpus": "benchsuite.run.environment",
    # images as the core hands them to networks
    "to_uint8": "benchsuite.train.images", "to_channels": "benchsuite.train.images",
    # exact mappings between original pixels and a network input
    "Letterbox": "benchsuite.train.geometry", "Crop": "benchsuite.train.geometry",
    "antialias": "benchsuite.train.geometry",
    # the protocol settings a method may declare it reads (a method that trains networks reads them all); a
    # method trains networks through the tools its ``training`` hands it (benchsuite.api.NetworkTools)
    "SETTINGS": "benchsuite.protocol", "TRAINING_SETTINGS": "benchsuite.protocol",
    # the one distance every score is computed with (radial error over (N, K, 2), NaN where missing)
    "radial_errors": "benchsuite.distance", "per_image_errors": "benchsuite.distance",
    "mean_radial_error": "benchsuite.distance", "specimen_sizes": "benchsuite.distance",
    # a weights file ("imagenet": the plugin's declared PretrainedWeights, or a path) loaded strictly into a module
    "load_weights": "benchsuite.weights",
}

NAMES = [  # what the plugin guide documents (a test checks each name is there and resolves)
    "Crop", "Letterbox", "SETTINGS", "TRAINING_SETTINGS", "antialias", "create_plugin", "load_weights", "locked",
    "mean_radial_error", "per_image_errors", "radial_errors", "sha256", "specimen_sizes", "to_channels", "to_uint8",
    "usable_cpus", "write_atomic", "write_text_atomic",
]


def create_plugin(kind: str, name: str, params: dict[str, Any] | None = None):
    """An installed plugin of ``kind`` made with ``params`` (checked against its signature): for a plugin
    built from others, e.g. a method naming the network and codec it trains."""
    from benchsuite.plugins import registry

    return registry().create(kind, name, params or {})


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return list(NAMES)
