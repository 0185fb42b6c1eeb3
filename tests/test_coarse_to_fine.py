"""The coarse-to-fine method: two networks, validation from the training part only, exact crops, kept and reloaded."""
from __future__ import annotations

import numpy as np
import pytest

from benchsuite.api import Images, PluginError
from benchsuite.protocol import load_protocol
from benchsuite.run.grid import expand, load_spec
from benchsuite.run.runner import compute_cell
from benchsuite.train import loop, methods
from benchsuite.train.images import to_channels

TINY = {"network": {"name": "smp-unet", "encoder_depth": 3, "decoder_channels": [8, 8, 8]}, "crop": 16,
        "codec": {"name": "gaussian", "sigma": 1.5, "loss": "adaptive-wing", "decode": "dark"}}
PROTOCOL = {"input_size": 32, "epochs": 1, "batch_size": 4}


@pytest.fixture
def wings(registry):
    return registry.create("datasets", "synthetic", {"n_images": 9, "n_landmarks": 3, "min_size": 40, "max_size": 70})


def test_both_stages_train_on_the_training_part_and_stop_on_the_validation_part(registry, wings, monkeypatch):
    samples = wings.samples()
    validation = frozenset(s.id for s in samples[:3])
    stages, budgets = [], []
    train = loop.train

    def spy(model, codec, train_data, val_data, protocol, *args, **kwargs):
        stages.append(({s.id for s in train_data.samples}, {s.id for s in val_data.samples}, protocol.input_size))
        budgets.append(protocol.max_minutes)
        return train(model, codec, train_data, val_data, protocol, *args, **kwargs)

    monkeypatch.setattr(loop, "train", spy)
    epochs = []
    method = registry.create("methods", "coarse-to-fine", TINY)
    protocol = load_protocol("smoke", PROTOCOL | {"max_minutes": 2})
    images = Images.of(wings)
    report = method.fit(samples, images, methods.training(protocol, [s for s in samples if s.id in validation],
                                                          on_epoch=lambda e, n, *_: epochs.append((e, n))))
    for stage in report["stages"].values():  # each stage's curve: the report tells from it whether time ran short
        assert len(stage["learning_curve"]) == stage["epochs_run"] and stage["stopped_by"]
    assert [size for *_, size in stages] == [32, 16]  # the whole image, then windows
    assert budgets[0] == 1 and 1.9 < budgets[1] < 2  # the cell's budget for both: half, then what is left
    for trained_on, stopped_on, _ in stages:
        assert trained_on == {s.id for s in samples} - validation and stopped_on == validation
    assert [e for e, _ in epochs] == list(range(1, len(epochs) + 1)) and len(epochs) == 2  # one progress count
    predicted = method.predict([s.id for s in samples[:4]], images)
    assert predicted.shape == (4, 3, 2) and np.isfinite(predicted).all()
    for sample, points in zip(samples, predicted):
        assert (points >= -0.5).all() and (points <= np.array(sample.size) - 0.5).all()


def test_the_refined_answer_is_mapped_back_exactly(registry, wings, monkeypatch):
    """What the refining network finds at (u, v) in the window around a located point is that point plus
    (u - centre, v - centre) · δ in the original, to float precision; each window answers for its own landmark."""
    method = registry.create("methods", "coarse-to-fine", TINY)
    method.protocol, method.crop_delta = load_protocol("smoke", PROTOCOL), 1.3
    method.tools = methods.CoreNetworks()
    sample = wings.samples()[0]
    image = to_channels(wings.load_image(sample.id), 1)
    located = sample.landmarks + [[2.7, -1.9], [-0.6, 3.1], [1.0, 1.0]]
    centre, offset = (16 - 1) / 2, np.array([0.37, -1.21])

    def fine(model, codec, images, regions, size, protocol):
        answers = np.full((len(images), 3, 2), -99.0)  # other landmarks' channels: wrong on purpose
        answers[np.arange(3), np.arange(3)] = centre + offset
        return answers

    monkeypatch.setattr(method.tools, "locate", fine)
    refined = method._refine(image, located, codec=None)
    np.testing.assert_allclose(refined, located + offset * 1.3, atol=1e-9)


def test_nested_plugins_are_checked_when_the_method_is_created(registry):
    with pytest.raises(PluginError, match="not a heatmap codec"):
        registry.create("methods", "coarse-to-fine", {"codec": {"name": "regression"}})
    with pytest.raises(PluginError, match="unknown parameter 'sigmaa'"):
        registry.create("methods", "coarse-to-fine", {"codec": {"name": "gaussian", "sigmaa": 2}})
    with pytest.raises(PluginError, match="crop must be an integer"):
        registry.create("methods", "coarse-to-fine", {"crop": 4})
    method = registry.create("methods", "coarse-to-fine")
    with pytest.raises(PluginError, match="needs training and validation images"):
        method.fit([], Images("none", lambda i: None), methods.training(load_protocol("smoke")))


def test_in_a_grid_it_is_told_its_validation_part_and_never_sees_test_images(registry, tmp_path, monkeypatch):
    grid_file = tmp_path / "c2f.toml"
    grid_file.write_text("""
protocol = "smoke"
datasets = [{ name = "synthetic", n_images = 12, n_landmarks = 2, min_size = 40, max_size = 60 }]
architectures = [{ name = "coarse-to-fine", crop = 16, network = { name = "smp-unet", encoder_depth = 3, decoder_channels = [8, 8, 8] } }]
encoders = ["resnet18"]
codecs = ["gaussian"]
[settings]
input_size = 32
folds = 3
epochs = 1
batch_size = 4
""")
    grid = expand(load_spec(str(grid_file)), registry, {})
    assert grid.cells and all(c.codec is None and c.encoder is None for c in grid.cells)
    cell = grid.cells[0]
    seen = {}
    from benchsuite_builtin.networks.coarse_to_fine import CoarseToFine

    fit = CoarseToFine.fit

    def spy(self, samples, images, training):
        loaded = []
        watched = Images(images.name, lambda i: loaded.append(i) or images.load_image(i))
        seen.update(samples={s.id for s in samples}, validation=training.validation, loaded=set(loaded))
        facts = fit(self, samples, watched, training)
        seen["loaded"] = set(loaded)
        return facts

    monkeypatch.setattr(CoarseToFine, "fit", spy)
    record, table = compute_cell(cell, registry)
    test_ids = set(table.image_id)
    assert seen["validation"] and seen["validation"] < seen["samples"]
    assert not (seen["samples"] | seen["loaded"]) & test_ids
    assert record["split"]["val"] == len(seen["validation"]) and np.isfinite(record["val_mre"])


def test_a_fitted_method_is_saved_without_code_and_reloaded_to_the_same_predictions(registry, wings, tmp_path):
    samples = wings.samples()
    method = registry.create("methods", "coarse-to-fine", TINY)
    training = methods.training(load_protocol("smoke", PROTOCOL), samples[:3])
    images = Images.of(wings)
    method.fit(samples, images, training)
    method.save(tmp_path)
    again = type(method).load(tmp_path, TINY, training)
    ids = [s.id for s in samples[:2]]
    np.testing.assert_array_equal(again.predict(ids, images), method.predict(ids, images))
