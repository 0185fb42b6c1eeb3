"""Plugin discovery: entry points, broken plugins, duplicates, listing."""
from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import textwrap

import pytest
from benchsuite_builtin.codecs.regression import Regression
from conftest import REPO, make_plugin_package, registry_with

from benchsuite import api
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


CLASH = """
    from benchsuite import api
    from benchsuite.hookspecs import hookimpl
    class Clash(api.Method):
        name = "mean-shape"
        description = "clashes with the built-in baseline"
        def fit(self, samples, images, training):
            pass
        def predict(self, sample_ids, images):
            return None
    @hookimpl
    def register_methods(register):
        register(Clash)
"""


def test_two_plugins_registering_one_name_conflict_and_everything_else_works(tmp_path):
    root = make_plugin_package(tmp_path, "clashing_plugin", CLASH)
    registry = registry_with(root)
    with pytest.raises(PluginError) as excinfo:
        registry.get("methods", "mean-shape")
    message = str(excinfo.value)
    assert "mean-shape" in message and "'baseline'" in message and "'clashing_plugin'" in message
    assert "\n" not in message and "uninstall one" in message
    assert "smp-unet" in registry.names("architectures")  # the rest keeps working
    assert any("registered twice" in line for line in registry.problems())
    with pytest.raises(PluginError, match="registered twice"):
        registry_with(root, strict=True)


BROKEN_CLASSES = """
    from benchsuite import api
    from benchsuite.hookspecs import hookimpl
    class NoDecode(api.Codec):
        name = "no-decode"
        description = "forgets decode"
        output = "heatmap"
        def out_channels(self, n_landmarks): return n_landmarks
        def encode(self, landmarks, size): return landmarks
        def loss(self, prediction, landmarks, size): return 0
    class WrongLoss(api.Codec):
        name = "wrong-loss"
        description = "loss takes the wrong parameters"
        output = "heatmap"
        def out_channels(self, n_landmarks): return n_landmarks
        def encode(self, landmarks, size): return landmarks
        def loss(self, prediction, target): return 0
        def decode(self, prediction, size): return prediction
    class NotACodec:
        name = "duck"
        description = "quacks like a codec but does not derive from api.Codec"
    class Good(api.Codec):
        name = "good-codec"
        description = "fine"
        output = "coords"
        def out_channels(self, n_landmarks): return 2 * n_landmarks
        def encode(self, landmarks, size): return landmarks
        def loss(self, prediction, landmarks, size): return 0
        def decode(self, prediction, size): return prediction
    @hookimpl
    def register_codecs(register):
        for cls in (NoDecode, WrongLoss, NotACodec, Good):
            register(cls)
"""


def test_a_class_breaking_the_contract_is_rejected_with_its_member_and_the_rest_works(tmp_path):
    registry = registry_with(make_plugin_package(tmp_path, "sloppy_codecs", BROKEN_CLASSES))
    assert "good-codec" in registry.names("codecs") and "gaussian" in registry.names("codecs")
    assert not {"no-decode", "wrong-loss", "duck"} & set(registry.names("codecs"))
    reasons = {p.name: p.rejected for p in registry.plugins}["sloppy_codecs"]
    assert len(reasons) == 3 and all("\n" not in r for r in reasons)
    text = " | ".join(reasons)
    assert "codec 'no-decode' (NoDecode)" in text and "missing required method decode()" in text
    assert "codec 'wrong-loss' (WrongLoss)" in text and "loss() must accept parameter 'landmarks'" in text
    assert "codec 'duck' (NotACodec)" in text and "does not derive from benchsuite.api.Codec" in text


def test_a_name_the_command_line_cannot_use_is_rejected():
    """Names go into glob patterns, metric specs (name(k=v)) and method labels (arch+encoder+codec)."""
    def metric(name):
        return type("Named", (api.Metric,), {"name": name, "description": "d", "higher_is_better": False,
                                             "unit": "px", "per_image": lambda self, predictions: None})

    for bad in ("my net", "net*", "a+b", "hit(2)", "", "-x"):
        assert any("attribute 'name' must be letters" in p for p in api.contract_problems("metrics", metric(bad)))
    assert api.contract_problems("metrics", metric("hit-rate_2.0")) == []


def _extra_codec(name: str) -> type:
    return type("Extra", (Regression,), {"name": name, "description": "d"})


def test_a_registry_including_a_class_not_installed_refuses_a_taken_name(registry):
    """How the conformance kit tests a plugin before it is installed."""
    extra = _extra_codec("extra-codec")
    assert registry.including("codecs", extra).get("codecs", "extra-codec").cls is extra
    assert "extra-codec" not in registry.names("codecs")  # the installed registry is left alone
    with pytest.raises(PluginError, match="codec name 'gaussian' is already registered by plugin 'heatmap'"):
        registry.including("codecs", _extra_codec("gaussian"))
    assert registry.including("codecs", registry.get("codecs", "gaussian").cls) is registry


def test_parameters_are_checked_against_the_plugin_signature(registry):
    with pytest.raises(PluginError, match="dataset synthetic: unknown parameter 'n_imagez'"):
        registry.create("datasets", "synthetic", {"n_imagez": 3})
    with pytest.raises(PluginError, match="parameter 'n_images' must be int"):
        registry.create("datasets", "synthetic", {"n_images": "3"})
    assert registry.canonical("codecs", "gaussian", {"sigma": 5}) == {}  # the default: one configuration
    assert registry.canonical("codecs", "gaussian", {"sigma": 4}) == {"sigma": 4.0}


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


def test_cli_plugins_lists_conflicts_and_rejected_classes_and_keeps_working(tmp_path):
    make_plugin_package(tmp_path, "clashing_plugin", CLASH)
    make_plugin_package(tmp_path, "sloppy_codecs", BROKEN_CLASSES)
    out = _cli("plugins", pythonpath=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "CONFLICT method 'mean-shape'" in out.stdout and "mean-shape (CONFLICT)" in out.stdout
    assert "REJECTED codec 'no-decode'" in out.stdout
    listed = _cli("list", "codecs", pythonpath=tmp_path)
    assert listed.returncode == 0 and "good-codec" in listed.stdout and "registered twice" in listed.stderr
    used = _cli("run", "--grid", "smoke", "-a", "mean-shape", "--dry-run", pythonpath=tmp_path)
    assert used.returncode == 2 and "registered twice" in used.stderr and "Traceback" not in used.stderr
    strict = _cli("plugins", "--strict", pythonpath=tmp_path)
    assert strict.returncode == 2 and "Traceback" not in strict.stderr


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


THINGS = {
    "datasets": """
        class Thing(api.Dataset):
            landmark_names = ["a"]
            def samples(self): return []
            def load_image(self, sample_id): return None
    """,
    "encoders": """
        class Thing(api.Encoder):
            def build(self, in_channels, depth=5): return None
    """,
    "architectures": """
        class Thing(api.Architecture):
            encoder = "none"
            outputs = frozenset({"heatmap"})
            def build(self, *, in_channels, out_channels, output, encoder): return None
    """,
    "methods": """
        class Thing(api.Method):
            def fit(self, samples, images, training): return None
            def predict(self, sample_ids, images): return None
    """,
    "codecs": """
        class Thing(api.Codec):
            output = "coords"
            def out_channels(self, n_landmarks): return 2 * n_landmarks
            def encode(self, landmarks, size): return landmarks
            def loss(self, prediction, landmarks, size): return 0
            def decode(self, prediction, size): return prediction
    """,
    "metrics": """
        class Thing(api.Metric):
            higher_is_better = False
            unit = "px"
            def per_image(self, predictions): return None
    """,
    "executors": """
        class Thing(api.Executor):
            def map(self, work, items, workdir): return iter(())
    """,
}


@pytest.mark.parametrize("kind", KINDS)
def test_each_hook_registers_a_third_party_thing(tmp_path, kind):
    body = textwrap.indent(textwrap.dedent(THINGS[kind]), "        ")
    source = f"""
        from benchsuite import api
        from benchsuite.hookspecs import hookimpl
{body}
        Thing.name = "third-party-{kind}"
        Thing.description = "registered through register_{kind}"
        @hookimpl
        def register_{kind}(register):
            register(Thing)
    """
    registry = registry_with(make_plugin_package(tmp_path, f"tp_{kind}", source))
    assert not registry.problems(), registry.problems()
    entry = registry.get(kind, f"third-party-{kind}")
    assert entry.plugin == f"tp_{kind}" and entry.version == "0.1"
    assert entry.description == f"registered through register_{kind}"


def test_declared_optional_arguments_are_checked_and_old_plugins_keep_working():
    """takes_region promises an extra keyword: a codec that declares it must accept it, one written before it
    existed is fine as it is. An architecture is a network; a method reads only settings the protocol has."""
    from benchsuite.api import Architecture, Codec, Method, contract_problems

    class OldCodec(Codec):
        name, description, output = "old", "written before regions", "heatmap"
        def out_channels(self, n_landmarks): return n_landmarks
        def encode(self, landmarks, size): return landmarks
        def loss(self, prediction, landmarks, size): return 0
        def decode(self, prediction, size): return prediction

    class Promising(OldCodec):
        takes_region = True

    class Keeping(OldCodec):
        takes_region = True
        def decode(self, prediction, size, region=None): return prediction

    class CodecFree(Architecture):
        name, description, encoder, outputs = "codec-free", "fits without a codec", "none", frozenset()
        def build(self, *, in_channels, out_channels, output, encoder): return None

    class Reader(Method):
        name, description, reads = "reader", "reads a setting the protocol lacks", frozenset({"epochs", "epoks"})
        def fit(self, samples, images, training): pass
        def predict(self, sample_ids, images): return None

    assert contract_problems("codecs", OldCodec) == [] and contract_problems("codecs", Keeping) == []
    assert contract_problems("codecs", Promising) == [
        "declares takes_region but decode() does not accept parameter 'region'"]
    assert "a method that learns without a codec is a method" in " ".join(contract_problems("architectures", CodecFree))
    assert contract_problems("methods", Reader) == [
        "attribute 'reads' names settings the protocol does not have: epoks"]
