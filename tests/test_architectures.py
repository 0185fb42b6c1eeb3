"""Architectures: sizes match the papers, weights come from local files only, parameters are checked.
Every architecture training one step with every codec the grid pairs it with: tests/test_conformance.py."""
from __future__ import annotations

import dataclasses

import pytest
import torch
import torchvision.models as tv

from benchsuite import api, weights
from benchsuite.api import PluginError
from benchsuite.cli import main
from benchsuite.train.model_size import parameter_count


@pytest.mark.parametrize("name, channels, landmarks, paper_millions", [
    ("unet", 3, 25, 31),  # Table 4, "U-Net(31M)"
    ("unet-regression", 3, 25, 31),  # Table 2, "U-Net(31M)"
    ("resnet50-regression", 3, 25, 30),  # Table 2, "ResNet50(30M)"
    ("fcn8", 3, 25, 17),  # Table 4, "FCN8(17M)"
    ("resnet50-upsampling", 3, 25, 51),  # Table 4, "ResNet50(51M)"
])
def test_parameter_counts_are_within_5_percent_of_the_fish_paper(registry, name, channels, landmarks, paper_millions):
    count = parameter_count(registry, registry.get("architectures", name).cls, landmarks, channels)
    assert count == pytest.approx(paper_millions * 1e6, rel=0.05)


def test_beetle_cnn_has_exactly_the_layers_the_paper_lists(registry):
    conv = (1 * 9 + 1) * 32 + (32 * 4 + 1) * 64 + (64 * 4 + 1) * 128  # 3×3, 2×2, 2×2 kernels, with biases
    grid = 128 * 23 * 31  # a 256×192 input after three unpadded convolutions and 2×2 poolings
    dense = (grid + 1) * 1000 + (1000 + 1) * 1000 + (1000 + 1) * 16
    assert parameter_count(registry, registry.get("architectures", "beetle-cnn").cls, 8, in_channels=1) == conv + dense


def test_list_architectures_shows_parameter_counts(capsys):
    assert main(["list", "architectures", "--landmarks", "25"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "(31.0M params @ N=25)" in lines["unet"]
    assert "mean-shape" not in lines and "params" not in lines["smp-unet"]  # a method; no fixed size
    assert main(["list", "architectures", "--landmarks", "8"]) == 0
    assert "@ N=8" in capsys.readouterr().out


def test_missing_weights_are_a_one_line_error_saying_how_to_provide_them(registry, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    for kind, name, params in [("architectures", "resnet50-regression", {}), ("architectures", "fcn8", {}),
                               ("architectures", "hrnet", {"variant": "hrnet_w18_small"}),
                               ("architectures", "beetle-cnn", {})]:
        arch = registry.get(kind, name).cls(weights=str(tmp_path / "absent.pth"), **params)
        with torch.device("meta"), pytest.raises(PluginError, match="not found; pass weights=PATH") as excinfo:
            arch.build(in_channels=3, out_channels=4, output=next(iter(arch.outputs)), encoder=None)
        assert "\n" not in str(excinfo.value)
    with pytest.raises(PluginError, match=r"hub/checkpoints/resnet50-0676ba61\.pth; put the file"):
        registry.get("architectures", "resnet50-upsampling").cls(weights="imagenet").build(
            in_channels=3, out_channels=4, output="heatmap", encoder=None)
    with pytest.raises(PluginError, match="not found"):
        registry.get("encoders", "resnet18").cls(weights=str(tmp_path / "absent.pth")).build(1, depth=3)


def test_imagenet_weights_load_from_torch_cache_adapted_to_grayscale(registry, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    rgb = torch.randn(64, 3, 7, 7)
    state = tv.resnet18().state_dict() | {"conv1.weight": rgb}  # torchvision's layout, its classifier included
    torch.save(state, cache / "resnet18-f37072fd.pth")
    cls = registry.get("encoders", "resnet18").cls
    with pytest.raises(PluginError, match="is not the file it should be"):  # torchvision's name, not its digest
        cls(weights="imagenet").build(1, depth=3)
    monkeypatch.setattr(cls, "pretrained", dataclasses.replace(
        cls.pretrained, sha256=weights.sha256(cache / "resnet18-f37072fd.pth")))
    encoder = cls(weights="imagenet").build(1, depth=3)
    assert torch.allclose(encoder.conv1.weight, rgb.sum(dim=1, keepdim=True))


def test_a_weights_file_that_leaves_layers_random_is_refused_unless_asked_for(registry, tmp_path):
    """A file for a similar model (here one without its second stage) must not load silently half-way."""
    state = {k: v for k, v in tv.resnet18().state_dict().items() if not k.startswith("layer2")}
    torch.save(state, tmp_path / "partial.pth")
    cls = registry.get("encoders", "resnet18").cls
    with pytest.raises(PluginError, match=r"would stay random, in layer2\.0, layer2\.1 .*partial = true") as error:
        cls(weights=str(tmp_path / "partial.pth")).build(3, depth=3)
    assert "\n" not in str(error.value)
    encoder = cls(weights=str(tmp_path / "partial.pth"), partial=True).build(3, depth=3)
    assert torch.equal(encoder.conv1.weight, state["conv1.weight"])


def test_beetle_cnn_fine_tunes_from_a_saved_network_with_another_landmark_count(registry, tmp_path):
    cls = registry.get("architectures", "beetle-cnn").cls
    small = {"reference_input": [16, 16], "fc_units": 8}
    pretrained = cls(**small).build(in_channels=1, out_channels=16, output="coords", encoder=None)
    torch.save(pretrained.state_dict(), tmp_path / "pretrained.pth")
    tuned = cls(weights=str(tmp_path / "pretrained.pth"), **small).build(
        in_channels=1, out_channels=20, output="coords", encoder=None)
    first = lambda m: next(m.parameters())  # noqa: E731
    last = lambda m: list(m.parameters())[-2]  # noqa: E731 - the output layer's weight
    assert torch.equal(first(tuned), first(pretrained))
    assert last(tuned).shape == (20, 8) and last(pretrained).shape == (16, 8)


def test_generic_smp_encoder_refuses_unknown_names(registry):
    cls = registry.get("encoders", "smp").cls
    with pytest.raises(PluginError, match="unknown smp_name 'resnet-typo'.*tu-<timm model name>"):
        cls(smp_name="resnet-typo")
    assert cls(smp_name="efficientnet-b0").smp_name == "efficientnet-b0"


def test_hrnet_variant_is_checked(registry):
    with pytest.raises(PluginError, match="unknown variant 'hrnet_w19'"):
        registry.get("architectures", "hrnet").cls(variant="hrnet_w19")


def test_unet_refuses_input_sides_that_are_not_a_multiple_of_16(registry):
    model = registry.get("architectures", "unet").cls(base_channels=4).build(
        in_channels=1, out_channels=2, output="heatmap", encoder=None)
    with pytest.raises(PluginError, match="multiple of 16"):
        model(torch.zeros(1, 1, 40, 40))
    assert model(torch.zeros(1, 1, 48, 48)).shape == (1, 2, 48, 48)


def test_smp_fpn_refuses_an_encoder_depth_its_decoder_cannot_take(registry):
    """smp's FPN upsamples as if from five stages: depth 3 gave heatmaps four times the input's size."""
    with pytest.raises(PluginError, match="encoder_depth must be 5"):
        registry.create("architectures", "smp-fpn", {"encoder_depth": 3})


def test_smp_decoders_refuse_an_encoder_that_smp_does_not_know(registry):
    class OwnEncoder(api.Encoder):
        name = "own"
        description = "not an smp encoder"

        def build(self, in_channels, depth=5):
            raise AssertionError("not called")

    for name in ("smp-unet", "smp-fpn", "smp-deeplabv3plus"):
        with pytest.raises(PluginError, match=f"{name} builds its encoder with segmentation-models-pytorch, and "
                                              "encoder own has no smp_name"):
            registry.create("architectures", name).build(in_channels=1, out_channels=3, output="heatmap",
                                                        encoder=OwnEncoder())
