"""A third-party plugin package, installed with pip, is picked up with no change to the core."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import PYTEST_ALONE, REPO


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """plugins/benchsuite-tinynet installed with pip into a folder of its own."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(REPO / "plugins" / "benchsuite-tinynet")], check=True)
    return target


def _env(site) -> dict:
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))


def _cli(site, *args):
    return subprocess.run([sys.executable, "-m", "benchsuite.cli", *args], capture_output=True, text=True,
                          env=_env(site))


def test_the_installed_package_passes_its_own_tests_with_the_conformance_kit(site, tmp_path):
    """Its tests call benchsuite.testing.check_architecture: contract, one training step per codec, cell ids."""
    out = subprocess.run([*PYTEST_ALONE, str(tmp_path), str(REPO / "plugins" / "benchsuite-tinynet" / "tests")],
                         capture_output=True, text=True, env=_env(site), cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "2 passed" in out.stdout


def test_installed_plugin_is_listed(site):
    out = _cli(site, "list", "architectures")
    assert out.returncode == 0, out.stderr
    assert any(line.startswith("tinynet") and "benchsuite-tinynet" not in line and "tinynet 1.0.0" in line
               for line in out.stdout.splitlines())
    plugins = _cli(site, "plugins").stdout
    assert "tinynet (benchsuite-tinynet 1.0.0)" in plugins


def test_grid_runs_the_plugin_architecture(site, tiny_grid, tmp_path):
    """Every architecture installed ("*"), filtered down to the plugin's."""
    text = tiny_grid.read_text()
    start, end = text.index("architectures ="), text.index("encoders =")
    tiny_grid.write_text(text[:start] + 'architectures = ["*"]\n' + text[end:])
    out = _cli(site, "run", "--grid", str(tiny_grid), "--results", str(tmp_path), "--run", "ext",
               "-a", "tinynet", "-c", "gaussian*")
    assert out.returncode == 0, out.stderr
    assert "2 cells computed" in out.stdout and "| tinynet+gaussian(sigma=2)" in out.stdout
    assert "tinynet takes no encoder" not in out.stdout  # only the dry run lists skips
    dry = _cli(site, "run", "--grid", str(tiny_grid), "--dry-run", "-a", "tinynet")
    assert "tinynet+resnet18+gaussian(sigma=2): tinynet takes no encoder" in dry.stdout
    assert "unet+resnet18" not in dry.stdout  # the filter selects the skipped combinations too
