"""Protocol presets, learning-rate schedules, augmentation and pre-training + fine-tuning."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from benchsuite.api import PluginError
from benchsuite.protocol import load_protocol, preset_names
from benchsuite.run.cells import Cell, Component
from benchsuite.run.runner import compute_cell
from benchsuite.train import inputs, loop
from benchsuite.train.augment import GeometricAugmentation, colour_versions, flip_permutation, for_dataset


def test_kumar2022_is_the_fish_papers_protocol():
    p = load_protocol("kumar2022")
    assert (p.optimizer, p.epochs, p.patience, p.lr_schedule, p.lr_factor, p.lr_patience) == (
        "rmsprop", 2000, 400, "plateau", 0.2, 200)
    assert (p.folds, p.val_fraction, p.input_size) == (5, 0.25, 256)


def test_le2018_is_the_beetle_papers_protocol():
    p = load_protocol("le2018")
    assert (p.optimizer, p.nesterov, p.lr, p.lr_end, p.momentum, p.momentum_end, p.lr_schedule) == (
        "sgd", True, 0.03, 1e-5, 0.9, 0.9999, "linear")
    assert (p.folds, p.val_fraction, p.channels, p.channel_split, p.epochs) == (9, 0.4, 1, True, 5000)
    assert p.channel_shift > 0


@pytest.mark.parametrize("name", ["kumar2022", "le2018"])
def test_each_protocol_has_a_cpu_variant_differing_only_in_scale(name):
    assert f"{name}-cpu" in preset_names()
    full, cpu = load_protocol(name).identity(), load_protocol(f"{name}-cpu").identity()
    changed = {k for k in full if full[k] != cpu[k]}
    assert changed <= {"name", "input_size", "epochs", "patience", "lr_patience"}
    assert cpu["epochs"] < full["epochs"] and cpu["input_size"] < full["input_size"]


def test_linear_schedule_moves_lr_and_momentum_from_start_to_end(registry):
    protocol = load_protocol("le2018-cpu", {"epochs": 3, "batch_size": 4, "input_size": 32, "channel_split": False,
                                            "channel_shift": 0})
    dataset = registry.get("datasets", "synthetic").cls(n_images=6, n_landmarks=2, min_size=40, max_size=50)
    data = inputs.prepare(dataset, dataset.samples(), protocol)
    model = registry.get("architectures", "fc-regression").cls(encoder_depth=3).build(
        in_channels=1, out_channels=4, output="coords", encoder=registry.get("encoders", "resnet18").cls())
    seen = []
    original = torch.optim.SGD.step

    def spy(self, *a, **k):
        seen.append((self.param_groups[0]["lr"], self.param_groups[0]["momentum"], self.param_groups[0]["nesterov"]))
        return original(self, *a, **k)

    torch.optim.SGD.step = spy
    try:
        loop.train(model, registry.get("codecs", "regression").cls(), data, data, protocol)
    finally:
        torch.optim.SGD.step = original
    per_epoch = sorted(set(seen), key=lambda s: -s[0])
    assert [round(lr, 6) for lr, _, _ in per_epoch] == [0.03, round((0.03 + 1e-5) / 2, 6), 1e-5]
    assert per_epoch[0][1] == pytest.approx(0.9) and per_epoch[-1][1] == pytest.approx(0.9999)
    assert all(nesterov for _, _, nesterov in per_epoch)


def _blobs(points: torch.Tensor, size: int, sigma: float = 2.0) -> torch.Tensor:
    axis = torch.arange(size, dtype=torch.float64)
    gx = torch.exp(-((axis - points[..., 0:1]) ** 2) / (2 * sigma**2))
    gy = torch.exp(-((axis - points[..., 1:2]) ** 2) / (2 * sigma**2))
    return gy.unsqueeze(-1) * gx.unsqueeze(-2)  # (B, N, S, S): one image channel per landmark


def _centroids(images: torch.Tensor) -> torch.Tensor:
    size = images.shape[-1]
    axis = torch.arange(size, dtype=images.dtype)
    total = images.sum(dim=(-2, -1))
    return torch.stack([(images.sum(-2) * axis).sum(-1) / total, (images.sum(-1) * axis).sum(-1) / total], dim=-1)


def test_geometric_augmentation_moves_image_and_landmarks_identically():
    """Each landmark carries a blob; after the warp each blob sits where its landmark went."""
    augmentation = GeometricAugmentation(rotate_deg=20, scale=0.15, translate=0.08, hflip=0.5,
                                         flip_permutation=(1, 0, 2))
    generator = torch.Generator().manual_seed(0)
    points = torch.tensor([[[24.3, 30.2], [40.7, 28.9], [32.0, 40.5]]] * 16, dtype=torch.float64)
    forward = augmentation.sample(16, generator).double()
    flips = forward[:, 0, 0] * forward[:, 1, 1] - forward[:, 0, 1] * forward[:, 1, 0] < 0
    assert flips.any() and (~flips).any()
    warped, moved = augmentation.apply(_blobs(points, 64), points, forward)
    centres = _centroids(warped)
    # a flip swaps landmarks 0 and 1 in the list, while the image channels keep their blob
    expected = torch.where(flips[:, None, None], moved[:, [1, 0, 2]], moved)
    assert torch.allclose(centres, expected, atol=0.1)
    assert not torch.allclose(moved, points, atol=0.5)


def test_flips_need_declared_left_right_pairs():
    assert flip_permutation(["l_eye", "r_eye", "snout"], [("l_eye", "r_eye")]) == (1, 0, 2)
    with pytest.raises(ValueError, match="unknown landmark"):
        flip_permutation(["a"], [("a", "b")])

    class NoPairs:
        name = "no-pairs"
        landmark_names = ["a", "b"]
        flip_pairs = None

    with pytest.raises(PluginError, match="left/right"):
        for_dataset(load_protocol("smoke", {"hflip": 0.5}), NoPairs())


def test_colour_versions_shift_one_channel_capped_and_split_channels():
    rgb = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    rgb[:, 0] = 250
    rgb[:, 1] = 100
    rgb[:, 2] = 7
    versions = colour_versions(rgb, 10, True, torch.Generator().manual_seed(0))
    assert versions.shape == (7, 2, 1, 4, 4)
    luma = lambda r, g, b: round(0.299 * r + 0.587 * g + 0.114 * b)
    assert versions[0, 0, 0, 0, 0] == luma(250, 100, 7)
    assert luma(250, 100, 7) <= versions[1, 0, 0, 0, 0] <= luma(255, 100, 7)  # red shifted, capped at 255
    assert luma(250, 100, 7) < versions[2, 0, 0, 0, 0] <= luma(250, 110, 7)
    assert [int(versions[v, 0, 0, 0, 0]) for v in (4, 5, 6)] == [250, 100, 7]


def _pretrain_cell(dataset_params, fold=0, pretrain_sets=None):
    protocol = load_protocol("smoke", {"input_size": 32, "epochs": 1, "batch_size": 4, "folds": 2})
    pretrain = {"datasets": pretrain_sets or [{"name": "synthetic", "n_images": 10, "n_landmarks": 2, "seed": 5},
                                              {"name": "synthetic", "n_images": 10, "n_landmarks": 4, "seed": 6}],
                "landmarks": 2, "epochs": 1}
    return Cell(Component("synthetic", dataset_params), Component("fc-regression", {"encoder_depth": 3, "pretrain": pretrain}),
                Component("resnet18"), Component("regression"), fold, protocol)


def test_pretraining_then_fine_tuning_transfers_all_but_a_resized_head_and_is_cached(registry, tmp_path):
    record, table = compute_cell(_pretrain_cell({"n_images": 10, "n_landmarks": 3}), registry, workdir=tmp_path)
    info = record["pretrain"]
    assert not info["cached"] and info["tensors_reinitialised"] == ["head.2.bias", "head.2.weight"]
    assert info["tensors_copied"] > 50 and np.isfinite(table[["pred_x", "pred_y"]].to_numpy()).all()
    again, _ = compute_cell(_pretrain_cell({"n_images": 12, "n_landmarks": 2}), registry, workdir=tmp_path)
    assert again["pretrain"]["cached"] and again["pretrain"]["key"] == info["key"]
    assert again["pretrain"]["tensors_reinitialised"] == []  # same landmark count: the head transfers too


def test_a_fine_tuned_cell_is_identical_whether_its_pretrained_weights_were_cached(registry, tmp_path):
    """Fresh pre-training consumes random state a cached load does not; dropout in the fine-tuning would see it."""
    protocol = load_protocol("smoke", {"input_size": [32, 24], "folds": 2, "epochs": 2, "batch_size": 4})
    pretrain = {"datasets": [{"name": "synthetic", "n_images": 10, "n_landmarks": 2, "seed": 5}], "epochs": 2}
    cell = Cell(Component("synthetic", {"n_images": 10, "n_landmarks": 2}),
                Component("beetle-cnn", {"pretrain": pretrain}), None, Component("regression"), 0, protocol)
    fresh, first = compute_cell(cell, registry, workdir=tmp_path)
    cached, second = compute_cell(cell, registry, workdir=tmp_path)
    assert not fresh["pretrain"]["cached"] and cached["pretrain"]["cached"]
    assert np.array_equal(first[["pred_x", "pred_y"]].to_numpy(), second[["pred_x", "pred_y"]].to_numpy())


def test_pretraining_never_sees_a_test_image_of_the_fold(registry, tmp_path, monkeypatch):
    seen = []
    original = loop.train
    monkeypatch.setattr(loop, "train", lambda model, codec, train, val, *a, **k: seen.append(
        {s.id for s in train.samples} | {s.id for s in val.samples}) or original(model, codec, train, val, *a, **k))
    target = {"name": "synthetic", "n_images": 10, "n_landmarks": 2, "seed": 5}
    cell = _pretrain_cell({k: v for k, v in target.items() if k != "name"}, fold=1, pretrain_sets=[target])
    _, table = compute_cell(cell, registry, workdir=tmp_path)
    assert len(seen) == 2  # pre-training, then fine-tuning
    assert not seen[0] & set(table.image_id) and not seen[1] & set(table.image_id)


def test_each_pretraining_dataset_can_declare_its_own_shared_landmarks(registry, tmp_path, monkeypatch):
    captured = []
    original = loop.train
    monkeypatch.setattr(loop, "train", lambda model, codec, train, val, *a, **k: captured.append(train)
                        or original(model, codec, train, val, *a, **k))
    sets = [{"name": "synthetic", "n_images": 10, "n_landmarks": 3, "seed": 5, "landmarks": ["snout", "eye"]},
            {"name": "synthetic", "n_images": 10, "n_landmarks": 6, "seed": 6, "landmarks": ["tail_top", "belly"]}]
    compute_cell(_pretrain_cell({"n_images": 10, "n_landmarks": 2}, pretrain_sets=sets), registry, workdir=tmp_path)
    pretrain_data = captured[0]
    assert pretrain_data.landmarks.shape[1] == 2
    second = registry.get("datasets", "synthetic").cls(n_images=10, n_landmarks=6, seed=6)
    by_id = {s.id: s for s in second.samples()}
    sample, box = pretrain_data.samples[-1], pretrain_data.boxes[-1]
    expected = box.to_input(by_id[sample.id].landmarks[[3, 5]])  # tail_top, belly
    assert np.allclose(pretrain_data.landmarks[-1].numpy(), expected, atol=1e-4)
    sets[1]["landmarks"] = ["no-such-landmark", "belly"]
    with pytest.raises(PluginError, match="lacks landmarks"):
        compute_cell(_pretrain_cell({"n_images": 10, "n_landmarks": 2}, pretrain_sets=sets), registry,
                     workdir=tmp_path / "other")


def test_le2018_cpu_trains_end_to_end_on_a_256x192_shaped_input(registry):
    protocol = load_protocol("le2018-cpu", {"epochs": 2, "folds": 3, "batch_size": 8})
    assert protocol.input_size == (64, 48)
    cell = Cell(Component("synthetic", {"n_images": 12, "n_landmarks": 3, "channels": 3, "min_size": 60,
                                        "max_size": 90}),
                Component("beetle-cnn"), None, Component("regression"), 0, protocol)
    record, table = compute_cell(cell, registry)
    assert record["split"] == {"train": 5, "val": 3, "test": 4}
    assert np.isfinite(table[["pred_x", "pred_y"]].to_numpy()).all()


def test_le2018_feeds_pixels_in_zero_one_and_the_beetle_grid_regresses_signed_coordinates(registry, monkeypatch):
    protocol = load_protocol("le2018")
    assert protocol.input_scaling == "unit" and protocol.channels == 1
    images = torch.tensor([[[[0, 255]]]], dtype=torch.uint8)
    assert torch.equal(loop._normalise(images, protocol), torch.tensor([[[[0.0, 1.0]]]]))
    standard = loop._normalise(images, load_protocol("kumar2022"))
    assert standard.min() < 0 < standard.max()  # the default stays standardised
    from benchsuite.run.grid import expand, load_spec

    grid = expand(load_spec("paper-beetle"), registry)
    assert {c.codec.params.get("coordinates") for c in grid.cells} == {"signed"}
    with pytest.raises(PluginError, match="input_scaling"):
        load_protocol("le2018", {"input_scaling": "0-255"})


def test_a_rectangular_input_can_be_set_from_the_command_line():
    from benchsuite.protocol import _coerce

    assert _coerce("input_size", "[320,256]") == _coerce("input_size", "320x256") == (320, 256)
    assert _coerce("input_size", "256") == 256 and _coerce("input_size", "auto") == "auto"
