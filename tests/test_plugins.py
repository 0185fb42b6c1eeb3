"""Plugin discovery: entry points, broken plugins, duplicates, listing."""
from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys

import pytest
from conftest import REPO, make_plugin_package, registry_with

from benchsuite.api import KINDS, PluginError


def test_builtin_plugins_come_through_the_entry_point_group(registry):
    group = {ep.name: ep for ep in importlib.metadata.entry_points(group="benchsuite")}
    for kind in KINDS:
        assert registry.names(kind), f"no built-in {kind}"
        for entry in registry.entries(kind):
            assert entry.plugin in group
            assert entry.cls.__module__ == group[entry.plugin].value
    assert {"synthetic", "smp-unet", "fc-regression", "mean-shape", "gaussian", "regression", "mre", "local"} <= {
        e.name for kind in KINDS for e in registry.entries(kind)}


def test_core_never_imports_a_concrete_plugin():
    code = ("import sys, benchsuite.cli, benchsuite.run.runner, benchsuite.run.grid, benchsuite.report.leaderboard, "
            "benchsuite.train.loop, benchsuite.run.store; "
            "assert not [m for m in sys.modules if m.startswith('benchsuite_builtin')], 'core imported a plugin'")
    subprocess.run([sys.executable, "-c", code], check=True)
    for path in (REPO / "benchsuite").rglob("*.py"):
        assert "benchsuite_builtin" not in path.read_text(), path


def test_plugin_failing_at_import_is_listed_as_broken_and_the_rest_works(tmp_path):
    root = make_plugin_package(tmp_path, "exploding_plugin", "raise RuntimeError('boom at import')\n")
    registry = registry_with(root)
    broken = {p.name: p for p in registry.broken}
    assert "boom at import" in broken["exploding_plugin"].error
    assert "smp-unet" in registry.names("architectures")
    with pytest.raises(PluginError, match="exploding_plugin.*boom at import"):
        registry_with(root, strict=True)


def test_plugin_failing_in_its_hook_registers_nothing(tmp_path):
    source = """
        from benchsuite.hookspecs import hookimpl
        class Half:
            name = "half-registered"
            description = "x"
        @hookimpl
        def register_codecs(register):
            register(Half)
            raise ValueError("hook failed")
    """
    registry = registry_with(make_plugin_package(tmp_path, "half_plugin", source))
    assert "hook failed" in {p.name: p for p in registry.broken}["half_plugin"].error
    assert "half-registered" not in registry.names("codecs")


def test_hook_with_a_wrong_signature_is_broken(tmp_path):
    source = """
        from benchsuite.hookspecs import hookimpl
        @hookimpl
        def register_codecs(register, extra):
            pass
    """
    registry = registry_with(make_plugin_package(tmp_path, "bad_signature", source))
    assert {p.name for p in registry.broken} == {"bad_signature"}


def test_two_plugins_registering_one_name_is_an_error_naming_both(tmp_path):
    source = """
        from benchsuite.hookspecs import hookimpl
        class Clash:
            name = "mean-shape"
            description = "clashes with the built-in baseline"
        @hookimpl
        def register_architectures(register):
            register(Clash)
    """
    root = make_plugin_package(tmp_path, "clashing_plugin", source)
    with pytest.raises(PluginError) as excinfo:
        registry_with(root)
    message = str(excinfo.value)
    assert "mean-shape" in message and "'baseline'" in message and "'clashing_plugin'" in message


def _cli(*args, pythonpath=None):
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "benchsuite.cli", *args], capture_output=True, text=True, env=env)


def test_cli_plugins_shows_versions_hooks_and_registrations():
    out = _cli("plugins")
    assert out.returncode == 0, out.stderr
    assert "smp-models (benchsuite 0.1.0)" in out.stdout
    assert "hooks: register_architectures" in out.stdout
    assert "architectures: smp-unet, fc-regression" in out.stdout


def test_cli_list_gives_one_line_description_per_entry():
    out = _cli("list", "codecs")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any(line.startswith("gaussian") and "heatmap" in line.lower() for line in lines)
    assert any(line.startswith("regression") for line in lines)


def test_cli_broken_plugin_warns_and_strict_fails(tmp_path):
    root = make_plugin_package(tmp_path, "exploding_plugin", "raise ImportError('missing dependency foo')\n")
    out = _cli("plugins", pythonpath=root)
    assert out.returncode == 0
    assert "exploding_plugin" in out.stdout and "BROKEN" in out.stdout and "missing dependency foo" in out.stdout
    out = _cli("list", "architectures", pythonpath=root)
    assert out.returncode == 0 and "smp-unet" in out.stdout and "missing dependency foo" in out.stderr
    strict = _cli("list", "architectures", "--strict", pythonpath=root)
    assert strict.returncode == 2
    assert strict.stderr.strip().splitlines()[-1].startswith("benchsuite: error:")
    assert "Traceback" not in strict.stderr


@pytest.mark.parametrize("kind", KINDS)
def test_each_hook_registers_a_third_party_thing(tmp_path, kind):
    source = f"""
        from benchsuite.hookspecs import hookimpl
        class Thing:
            name = "third-party-{kind}"
            description = "registered through register_{kind}"
        @hookimpl
        def register_{kind}(register):
            register(Thing)
    """
    registry = registry_with(make_plugin_package(tmp_path, f"tp_{kind}", source))
    entry = registry.get(kind, f"third-party-{kind}")
    assert entry.plugin == f"tp_{kind}" and entry.version == "0.1"
    assert entry.description == f"registered through register_{kind}"
