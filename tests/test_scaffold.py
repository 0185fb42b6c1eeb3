"""``benchsuite new-plugin``: a package of each kind installs with pip, passes its own conformance test, and
the generated architecture runs in a grid."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib

import pytest
from conftest import PYTEST_ALONE, TINY_GRID

from benchsuite.api import KINDS
from benchsuite.cli import main
from benchsuite.scaffold import files


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    """One generated package per kind, named kit-<kind>, all pip-installed into one target folder."""
    root = tmp_path_factory.mktemp("generated")
    for kind in KINDS:
        assert main(["new-plugin", kind[:-1], f"kit-{kind[:-1]}", "--out", str(root / kind)]) == 0
    target = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), *(str(root / kind) for kind in KINDS)], check=True)
    return root, target


def _env(target) -> dict:
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")])))


def test_every_generated_package_passes_its_own_tests(packages):
    root, target = packages
    out = subprocess.run([*PYTEST_ALONE, str(root), "-s", *(str(root / kind / "tests") for kind in KINDS)],
                         capture_output=True, text=True, env=_env(target), cwd=root)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert f"{len(KINDS)} passed" in out.stdout
    # what the encoder's test printed: the smp decoders refuse an encoder smp does not know, with the reason
    assert "with architecture smp-unet: refused: smp-unet builds its encoder with segmentation-models-pytorch" \
        in out.stdout


# What the installed packages look like to the suite, in one process (loading the registry is slow): for each
# kind, who registered the generated name, with which version, and the cells of its package's benchmark.toml.
_VIEW = """
import json, sys
from benchsuite.plugins import load_registry
from benchsuite.run.grid import expand, load_spec
registry = load_registry()
view = {"problems": registry.problems()}
for kind, folder in json.load(sys.stdin).items():
    entry = registry.get(kind, "kit-" + kind[:-1])
    cells = expand(load_spec(folder + "/benchmark.toml"), registry).cells
    view[kind] = {"plugin": entry.plugin, "distribution": entry.distribution, "version": entry.version,
                  "cells": [cell.describe() for cell in cells]}
print(json.dumps(view))
"""


@pytest.fixture(scope="module")
def installed(packages):
    root, target = packages
    out = subprocess.run([sys.executable, "-c", _VIEW], input=json.dumps({kind: str(root / kind) for kind in KINDS}),
                         capture_output=True, text=True, env=_env(target), check=True)
    return json.loads(out.stdout)


def test_generated_plugins_are_registered_with_their_version(installed):
    assert installed["problems"] == []
    for kind in KINDS:
        entry = installed[kind]
        assert (entry["plugin"], entry["distribution"], entry["version"]) == (
            f"kit-{kind[:-1]}", f"benchsuite-kit-{kind[:-1]}", "0.1.0")


def test_each_generated_benchmark_grid_is_a_valid_grid_using_the_plugin(installed):
    for kind in KINDS:
        cells = installed[kind]["cells"]
        assert cells, kind
        if kind in ("datasets", "encoders", "architectures", "methods", "codecs"):  # the plugin is part of the cells
            assert any(f"kit-{kind[:-1]}" in cell for cell in cells), (kind, cells)


def test_the_generated_architecture_runs_in_a_grid(packages, tmp_path):
    _, target = packages
    grid = tmp_path / "tiny.toml"
    start, end = TINY_GRID.index("architectures ="), TINY_GRID.index("encoders =")
    grid.write_text(TINY_GRID[:start] + 'architectures = [{ name = "kit-architecture", width = 4 }]\n'
                    + TINY_GRID[end:])
    out = subprocess.run([sys.executable, "-m", "benchsuite.cli", "run", "--grid", str(grid), "--results",
                          str(tmp_path), "--run", "generated"], capture_output=True, text=True, env=_env(target))
    assert out.returncode == 0, out.stderr[-3000:]
    assert "4 cells computed" in out.stdout  # both codecs (heatmap and coordinates) × 2 folds
    assert "| kit-architecture(width=4)+gaussian(sigma=2)" in out.stdout
    assert "| kit-architecture(width=4)+regression" in out.stdout


def test_ci_workflow_installs_tests_and_gates_the_smoke_benchmark():
    for kind in KINDS:
        rendered = files(kind, "gate")
        assert tomllib.loads(rendered["benchmark.toml"])["protocol"] == "smoke"
        steps = [line.strip() for line in rendered[".github/workflows/ci.yml"].splitlines()]
        assert "python -m pip install -e ." in steps
        assert "run: python -m pytest tests" in steps
        run = next(s for s in steps if s.startswith("benchsuite run --grid benchmark.toml --results results --run ci"))
        gate = next(s for s in steps if s.startswith("benchsuite compare reference results/ci --fail-worse 2"))
        assert steps.index(run) < steps.index(gate)
        assert ("--executor gate" in run) == (kind == "executors")
        assert ("--metric gate" in gate) == (kind == "metrics")
        assert "--run reference" in rendered["README.md"]  # how to make the reference the gate compares with
        project = tomllib.loads(rendered["pyproject.toml"])
        assert project["project"]["entry-points"]["benchsuite"] == {"gate": "benchsuite_gate"}


def test_new_plugin_refuses_bad_names_and_existing_folders_and_writes_nothing(tmp_path, capsys):
    existing = tmp_path / "taken"
    existing.mkdir()
    (existing / "mine.txt").write_text("keep me")
    assert main(["new-plugin", "codec", "fine-name", "--out", str(existing)]) == 2
    assert "already exists; nothing was written" in capsys.readouterr().err
    assert [p.name for p in existing.iterdir()] == ["mine.txt"]
    for bad in ("My-Net", "1net", "net_", "a--b", "../escape", "x" * 41, "net.py"):
        assert main(["new-plugin", "codec", bad, "--out", str(tmp_path / "new")]) == 2
        assert f"plugin name {bad!r} must be lower-case" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["new-plugin", "widget", "fine"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]  # no package, no staging folder left
