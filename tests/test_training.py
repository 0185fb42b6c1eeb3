"""Training keeps the best-validation weights, predictions come back in original pixels,
and on the synthetic data a U-Net with heatmaps clearly beats the mean-shape baseline."""
from __future__ import annotations

import copy
import itertools
import time

import numpy as np
import pytest
import torch

from benchsuite.api import Sample
from benchsuite.distance import mean_radial_error
from benchsuite.protocol import load_protocol
from benchsuite.run.grid import expand, load_spec
from benchsuite.run.runner import compute_cell
from benchsuite.train import inputs, loop


def _scripted_losses(monkeypatch, losses):
    """evaluate() reports these validation losses (and flat ratios), in turn, with its real predictions."""
    real, scripted = loop.evaluate, iter(losses)
    monkeypatch.setattr(loop, "evaluate", lambda *a, **k: (*next(scripted), real(*a, **k)[2]))


def test_best_validation_weights_are_kept_and_early_stopping_counts_from_the_best(registry, monkeypatch):
    _scripted_losses(monkeypatch, [(loss, None) for loss in [5.0, 3.0, 4.0, 6.0, 7.0, 8.0, 9.0, 10.0]])
    protocol = load_protocol("smoke", {"input_size": 32, "epochs": 8, "patience": 3, "batch_size": 4})
    dataset = registry.get("datasets", "synthetic").cls(n_images=8, n_landmarks=2, min_size=40, max_size=50)
    data = inputs.prepare(dataset, dataset.samples(), protocol)
    model = registry.get("architectures", "smp-unet").cls(encoder_depth=3, decoder_channels=[8, 8, 8]).build(
        in_channels=1, out_channels=2, output="heatmap", encoder=registry.get("encoders", "resnet18").cls())
    codec = registry.get("codecs", "gaussian").cls(sigma=2.0)
    snapshots = {}
    report = loop.train(model, codec, data, data, protocol, predict_validation=True,
                            on_epoch=lambda e, *_: snapshots.setdefault(e, copy.deepcopy(model.state_dict())))
    assert report.best_epoch == 2 and report.epochs_run == 5  # stopped 3 epochs after the best
    assert not torch.equal(snapshots[2]["segmentation_head.0.weight"], snapshots[5]["segmentation_head.0.weight"])
    for key, value in model.state_dict().items():
        assert torch.equal(value.cpu(), snapshots[2][key].cpu()), key
    # the validation predictions kept from epoch 2 are those of the weights kept: no second pass needed
    np.testing.assert_allclose(report.best_val_points, loop.predict(model, codec, data, protocol), atol=1e-9)


def test_each_epoch_records_its_validation_error_against_training_time(registry):
    protocol = load_protocol("smoke", {"input_size": 32, "epochs": 4, "patience": 10, "batch_size": 4})
    dataset = registry.get("datasets", "synthetic").cls(n_images=8, n_landmarks=2, min_size=40, max_size=50)
    data = inputs.prepare(dataset, dataset.samples(), protocol)
    model = registry.get("architectures", "smp-unet").cls(encoder_depth=3, decoder_channels=[8, 8, 8]).build(
        in_channels=1, out_channels=2, output="heatmap", encoder=registry.get("encoders", "resnet18").cls())
    report = loop.train(model, registry.get("codecs", "gaussian").cls(sigma=2.0), data, data, protocol,
                        predict_validation=True)
    curve = report.learning_curve
    assert [point["epoch"] for point in curve] == [1, 2, 3, 4]
    seconds = [point["train_seconds"] for point in curve]
    assert seconds == sorted(seconds) and seconds[0] > 0
    assert all(p["elapsed_seconds"] >= p["train_seconds"] for p in curve)
    assert min(curve, key=lambda p: p["val_loss"])["epoch"] == report.best_epoch
    best = curve[report.best_epoch - 1]["val_mre"]  # the best epoch's error is that of the points kept
    truth = np.stack([s.landmarks for s in data.samples])
    assert best == pytest.approx(mean_radial_error(report.best_val_points, truth))


class _Replay(torch.nn.Module):
    """Outputs pre-computed network outputs in order (stands in for a perfect model)."""

    def __init__(self, outputs):
        super().__init__()
        self.outputs, self.position = outputs, 0

    def forward(self, x):
        out = self.outputs[self.position : self.position + len(x)]
        self.position += len(x)
        return out


@pytest.mark.parametrize("codec_name,tolerance_input_px", [("regression", 1e-3), ("gaussian", 0.5)])
def test_predictions_come_back_in_original_pixels(registry, codec_name, tolerance_input_px):
    protocol = load_protocol("smoke", {"input_size": 64})
    dataset = registry.get("datasets", "synthetic").cls(n_images=10, n_landmarks=4, min_size=60, max_size=200)
    samples = dataset.samples()
    assert any(w > h for w, h in (s.size for s in samples)) and any(w < h for w, h in (s.size for s in samples))
    data = inputs.prepare(dataset, samples, protocol)
    codec = registry.get("codecs", codec_name).cls()
    perfect = codec.encode(data.landmarks, 64)
    predicted = loop.predict(_Replay(perfect.reshape(len(samples), -1) if codec_name == "regression" else perfect),
                                 codec, data, protocol)
    for sample, box, points in zip(samples, data.boxes, predicted):
        error_original_px = np.abs(points - sample.landmarks).max()
        assert error_original_px <= tolerance_input_px / box.scale.min() + 1e-9


def test_mean_shape_predicts_the_training_mean_ignoring_missing(registry):
    nan = float("nan")
    train = [Sample("a", np.array([[0.0, 0.0], [nan, nan]]), (10, 10)),
             Sample("b", np.array([[2.0, 4.0], [6.0, 8.0]]), (10, 10))]
    method = registry.create("methods", "mean-shape")
    method.fit(train, images=None, training=None)
    predicted = method.predict(["a"], images=None)
    np.testing.assert_array_equal(predicted, [[[1.0, 2.0], [6.0, 8.0]]])


@pytest.mark.slow
def test_unet_with_heatmaps_clearly_beats_the_mean_shape_on_synthetic_data(registry):
    grid = expand(load_spec("smoke"), registry, {"architectures": "[ms]*-*", "codecs": "gaussian*"})
    cells = {c.architecture.name: c for c in grid.cells if c.fold == 0}
    errors = {}
    for name, cell in cells.items():
        _, table = compute_cell(cell, registry)
        errors[name] = float(np.hypot(table.pred_x - table.x, table.pred_y - table.y).mean())
    assert errors["smp-unet"] < 0.4 * errors["mean-shape"], errors


def test_predictions_never_fall_in_the_letterbox_padding(registry):
    """A network whose strongest answer lies in the padding: heatmap maxima are sought in the image only (and
    found where the truth is), and every codec's points, regression too, are clamped to the image."""
    protocol = load_protocol("smoke", {"input_size": 32, "batch_size": 3})
    dataset = registry.get("datasets", "synthetic").cls(n_images=6, n_landmarks=2, min_size=40, max_size=80)
    data = inputs.prepare(dataset, dataset.samples(), protocol)
    padding = torch.ones(len(data.samples), 1, 32, 32, dtype=torch.bool)
    for i, (x0, y0, x1, y1) in enumerate(box.region for box in data.boxes):
        padding[i, 0, y0 : y1 + 1, x0 : x1 + 1] = False
    assert padding.any()
    for name, params, tolerance in [("gaussian", {"decode": "dark"}, 0.05), ("integral", {}, 1.0),  # soft-argmax: biased inwards near an edge, where its Gaussian is cut off
                                    ("regression", {}, None)]:
        codec = registry.create("codecs", name, params)
        if codec.output == "heatmap":
            output = codec.encode(data.landmarks, 32).masked_fill(padding, 100.0)
        else:
            output = torch.full((len(data.samples), 4), -0.5)  # points beyond the input's top-left corner
        predicted = loop.predict(_Replay(output), codec, data, protocol)
        for sample, box, points in zip(data.samples, data.boxes, predicted):
            width, height = sample.size
            assert (points >= -0.5).all() and (points <= [width - 0.5, height - 0.5]).all(), name
            if tolerance:
                assert np.abs(points - sample.landmarks).max() <= tolerance / box.scale.min(), name


def test_a_collapsed_network_is_recorded_and_warned_about(registry, tiny_grid, monkeypatch):
    """A network whose validation loss is no better than all-zero heatmaps' gets "collapsed" in its record."""
    from benchsuite.run import runner

    grid = expand(load_spec(str(tiny_grid)), registry, {"architectures": "smp-*", "codecs": "gaussian"})
    cell = grid.cells[0]
    _scripted_losses(monkeypatch, itertools.repeat((0.5, 1.02)))
    record, _ = compute_cell(cell, registry)
    assert record["collapsed"] is True and record["val_loss_over_flat"] == 1.02
    assert "collapsed" in runner.collapse_warning(record)
    assert 'try loss = "adaptive-wing" or loss = "weighted-mse"' in runner.collapse_warning(record)  # mse: both
    stopped = record | {"stopped_by": "budget", "epochs_run": 1}  # cut short, not collapsed: say what helps
    assert "time budget stopped it after 1 epoch" in runner.collapse_warning(stopped)
    _scripted_losses(monkeypatch, itertools.repeat((0.1, 0.3)))
    record, _ = compute_cell(cell, registry)
    assert record["collapsed"] is False and runner.collapse_warning(record) is None


def test_evaluate_compares_the_validation_loss_with_the_flat_outputs(registry):
    protocol = load_protocol("smoke", {"input_size": 32, "batch_size": 2})
    dataset = registry.get("datasets", "synthetic").cls(n_images=3, n_landmarks=2, min_size=40, max_size=50)
    data = inputs.prepare(dataset, dataset.samples(), protocol)
    codec = registry.create("codecs", "gaussian", {"sigma": 2.0})
    perfect, flat = _Replay(codec.encode(data.landmarks, 32)), _Replay(torch.zeros(3, 2, 32, 32))
    assert loop.evaluate(perfect, codec, data, protocol, torch.device("cpu"))[1] == pytest.approx(0.0, abs=1e-6)
    assert loop.evaluate(flat, codec, data, protocol, torch.device("cpu"))[1] == pytest.approx(1.0)
    regression = registry.create("codecs", "regression")
    assert loop.evaluate(_Replay(torch.zeros(3, 4)), regression, data, protocol, torch.device("cpu"))[1] is None


def test_a_time_budget_stops_training_with_the_best_weights_and_says_so(registry):
    protocol = load_protocol("smoke", {"input_size": 32, "epochs": 1000, "patience": 1000, "batch_size": 4,
                                       "max_minutes": 0.0001})
    dataset = registry.create("datasets", "synthetic", {"n_images": 8, "n_landmarks": 2, "min_size": 40,
                                                        "max_size": 50})
    data = inputs.prepare(dataset, dataset.samples(), protocol)
    model = registry.create("architectures", "fc-regression", {"encoder_depth": 3}).build(
        in_channels=1, out_channels=4, output="coords", encoder=registry.create("encoders", "resnet18"))
    report = loop.train(model, registry.create("codecs", "regression"), data, data, protocol)
    assert report.stopped_by == "budget" and 1 <= report.epochs_run < 1000 and report.best_epoch >= 1


def test_a_budget_shorter_than_an_epoch_ends_the_epoch_early_and_still_validates(registry, monkeypatch):
    """A network of 0.14 images/s at 320×384 on a CPU took 10 minutes for the epoch its 3-minute budget began."""
    protocol = load_protocol("smoke", {"input_size": 32, "epochs": 5, "batch_size": 2, "max_minutes": 0.01})
    dataset = registry.create("datasets", "synthetic", {"n_images": 8, "n_landmarks": 2, "min_size": 40,
                                                        "max_size": 50})
    data = inputs.prepare(dataset, dataset.samples(), protocol)
    model = registry.create("architectures", "fc-regression", {"encoder_depth": 3}).build(
        in_channels=1, out_channels=4, output="coords", encoder=registry.create("encoders", "resnet18"))
    step, steps, validations = loop.training_step, [], []

    def slow_step(*args, **kwargs):  # 4 steps an epoch of 0.4 s each: the 0.6 s budget ends inside the first
        time.sleep(0.4)
        steps.append(1)
        return step(*args, **kwargs)

    evaluate = loop.evaluate
    monkeypatch.setattr(loop, "training_step", slow_step)
    monkeypatch.setattr(loop, "evaluate", lambda *a, **k: validations.append(1) or evaluate(*a, **k))
    report = loop.train(model, registry.create("codecs", "regression"), data, data, protocol)
    assert len(steps) == 2 and len(validations) == 1  # cut after the step that crossed the budget, validated
    assert report.stopped_by == "budget" and report.epochs_run == 1 and report.best_epoch == 1


def test_the_speed_ceiling_measurement_stops_at_its_time_cap(registry):
    """Measuring a large network's bare step on a CPU must not cost more than a small share of its cell."""
    from benchsuite.train import speed

    calls = []

    class Counted(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(16 * 16, 4)

        def forward(self, x):
            calls.append(1)
            return self.linear(x.flatten(1))

    protocol = load_protocol("smoke", {"input_size": 16, "batch_size": 2})
    codec = registry.create("codecs", "regression")
    assert speed.bare_images_per_s(Counted(), codec, 2, protocol) > 0 and len(calls) == 10  # 2 warm-up + 8 timed
    calls.clear()
    assert speed.bare_images_per_s(Counted(), codec, 2, protocol, max_seconds=0.0) > 0 and len(calls) == 2


class _EncoderNet(torch.nn.Module):
    """An encoder (with a batch norm) and a head, as smp's networks expose them."""

    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4))
        self.head = torch.nn.Linear(4, 2)


def test_the_encoder_trains_at_its_fraction_of_the_learning_rate(registry):
    import dataclasses

    protocol = dataclasses.replace(load_protocol("smoke"), lr=1e-3, encoder_lr=0.1)
    groups = loop.make_optimizer(_EncoderNet(), protocol).param_groups
    assert sorted((round(g["lr"], 6), len(g["params"])) for g in groups) == [(1e-4, 4), (1e-3, 2)]
    frozen = loop.make_optimizer(_EncoderNet(), dataclasses.replace(protocol, encoder_lr=0.0)).param_groups
    assert [len(g["params"]) for g in frozen] == [2]  # encoder_lr = 0: the encoder is not trained at all


def test_cosine_anneals_over_the_epochs_or_the_budget_whichever_ends_the_cell_first(registry):
    import dataclasses

    protocol = dataclasses.replace(load_protocol("smoke"), lr=1.0, lr_end=0.0, lr_schedule="cosine", epochs=101,
                                   max_minutes=10.0, warmup_epochs=0, encoder_lr=0.5)
    optimizer = loop.make_optimizer(_EncoderNet(), protocol)

    def rates(epoch, elapsed_s):
        loop._set_schedule(optimizer, protocol, epoch, elapsed_s)
        return sorted(round(g["lr"], 6) for g in optimizer.param_groups)

    assert rates(1, 0.0) == [0.5, 1.0]
    assert rates(51, 0.0) == [0.25, 0.5]  # half way through the epochs
    assert rates(2, 300.0) == [0.25, 0.5]  # half way through the budget, which ends the cell first
    assert rates(2, 600.0) == [0.0, 0.0]
    warm = dataclasses.replace(protocol, warmup_epochs=4, lr_schedule="plateau")
    loop._set_schedule(optimizer, warm, 1, 0.0)
    assert sorted(round(g["lr"], 6) for g in optimizer.param_groups) == [0.125, 0.25]


def test_frozen_batch_norm_keeps_the_encoders_statistics(registry):
    model = _EncoderNet()
    model.train()
    loop._freeze_encoder_statistics(model)
    norm = model.encoder[1]
    before = norm.running_mean.clone()
    model.encoder(torch.rand(2, 1, 8, 8) + 5)
    assert not norm.training and torch.equal(norm.running_mean, before)


def test_settings_added_later_leave_earlier_cells_as_they_were():
    from benchsuite.protocol import NEUTRAL

    protocol = load_protocol("lab")
    assert not set(NEUTRAL) & set(protocol.identity())
    import dataclasses

    assert dataclasses.replace(protocol, encoder_lr=0.1).identity()["encoder_lr"] == 0.1
