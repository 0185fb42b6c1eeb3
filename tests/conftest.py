"""Shared fixtures: a tiny grid that trains in seconds, fake plugin packages."""
from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from benchsuite.plugins import load_registry

REPO = Path(__file__).resolve().parent.parent
# pytest on a plugin package's tests as its own CI runs them, none of this repository's configuration: + ROOTDIR
PYTEST_ALONE = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", os.devnull, "--rootdir"]

TINY_GRID = """
description = "tests: seconds on a CPU"
protocol = "smoke"
datasets = [{ name = "synthetic", n_images = 12, n_landmarks = 3, min_size = 40, max_size = 60 }]
architectures = ["mean-shape", { name = "smp-unet", encoder_depth = 3, decoder_channels = [16, 8, 8] },
                 { name = "fc-regression", encoder_depth = 3 }]
encoders = ["resnet18"]
codecs = [{ name = "gaussian", sigma = 2.0 }, "regression"]

[settings]
input_size = 32
folds = 2
epochs = 2
batch_size = 4
"""


@pytest.fixture(scope="session")
def registry():
    return load_registry()


@pytest.fixture
def tiny_grid(tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_GRID)
    return path


MIXED_GRID = """protocol = "smoke"
datasets = [{ name = "synthetic", n_images = 8, n_landmarks = 2, min_size = 32, max_size = 40 }]
methods = [{ architecture = "mean-shape" }, { architecture = "unet", codec = "gaussian" }]
[settings]
folds = 2
"""


def mixed_cells(tmp_path: Path, registry, settings: str = "") -> list:
    """The cells of a small grid with one method that trains no network and one that does (``settings``: more
    lines for its [settings] table)."""
    from benchsuite.run.grid import expand, load_spec

    grid = tmp_path / "mixed.toml"
    grid.write_text(MIXED_GRID + settings)
    return expand(load_spec(str(grid)), registry).cells


def make_plugin_package(root: Path, module: str, source: str, dist: str | None = None, version: str = "0.1") -> Path:
    """Write an installed-looking distribution (module + dist-info) under ``root``."""
    dist = dist or module.replace("_", "-")
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[benchsuite]\n{module} = {module}\n")
    return root


def registry_with(root: Path, strict: bool = False):
    """Load the installed plugins plus the fake ones under ``root``."""
    installed = list(importlib.metadata.entry_points(group="benchsuite"))
    extra = [ep for d in importlib.metadata.distributions(path=[str(root)]) for ep in d.entry_points
             if ep.group == "benchsuite"]
    sys.path.insert(0, str(root))
    try:
        return load_registry(strict=strict, entry_points=installed + extra)
    finally:
        sys.path.remove(str(root))


def slurm_up() -> bool:
    """A Slurm cluster answers here (.ci/run starts a single-node one)."""
    if shutil.which("sinfo") is None:
        return False
    return subprocess.run(["sinfo", "-h"], capture_output=True).returncode == 0
