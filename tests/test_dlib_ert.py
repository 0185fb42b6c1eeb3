"""dlib-ert, dlib's ensemble of regression trees: options as dlib's, whole image as the search box, exact
coordinates, dlib's own file format, optional dlib, and a run through the suite like any method."""
from __future__ import annotations

import dataclasses
import importlib
import sys

import numpy as np
import pytest
from benchsuite_builtin.datasets.manifest import default_root
from benchsuite_builtin.networks import dlib_ert

from benchsuite.api import Images, PluginError, Sample, Training
from benchsuite.cli import main
from benchsuite.run import runner
from benchsuite.run.grid import expand, load_spec
from benchsuite.run.store import RunStore

dlib = pytest.importorskip("dlib")

# Tiny and fast; a huge lambda_param accepts every feature pair at once (dlib draws them by rejection).
TINY = {"cascade_depth": 2, "num_trees_per_cascade_level": 5, "oversampling_amount": 2, "feature_pool_size": 20,
        "lambda_param": 1e6}
SHARED = default_root("shared")


def _rectangles(n: int, seed: int, size=(48, 36)):
    """Dark images with a bright rectangle; landmarks: the centres of its top-left and bottom-right pixels."""
    rng = np.random.default_rng(seed)
    images, samples = {}, []
    for i in range(n):
        x, y = int(rng.integers(4, size[0] - 24)), int(rng.integers(4, size[1] - 18))
        w, h = int(rng.integers(14, 20)), int(rng.integers(10, 14))
        image = np.full((size[1], size[0]), 20, np.uint8)
        image[y:y + h, x:x + w] = 230
        images[f"r{seed}-{i}"] = image
        samples.append(Sample(f"r{seed}-{i}", np.array([[x, y], [x + w - 1, y + h - 1]], float), size))
    return samples, images.__getitem__


def _fit(method, samples, load, threads=1):
    method.fit(samples, Images("test", load), Training(None, threads=threads))


def _predict(method, sample_ids, load):
    return method.predict(sample_ids, Images("test", load))


def _constant(landmarks, n: int = 4, size=(40, 30)):
    """Identical blank images with the same landmarks: dlib's prediction is then exactly its mean shape."""
    samples = [Sample(f"c{i}", np.array(landmarks, float), size) for i in range(n)]
    return samples, lambda _id: np.zeros((size[1], size[0]), np.uint8)


def test_defaults_and_fields_are_dlibs_own(registry):
    fresh = dlib.shape_predictor_training_options()
    fields = {name for name in dir(fresh) if not name.startswith("_")} - {"be_verbose", "num_threads"}
    assert dlib_ert.DLIB_DEFAULTS == {name: getattr(fresh, name) for name in fields}
    method = registry.create("methods", "dlib-ert")
    options = method.training_options(threads=3)
    assert {name: getattr(options, name) for name in fields} == dlib_ert.DLIB_DEFAULTS
    assert options.num_threads == 3


def test_the_preset_gives_ml_morphs_options_and_explicit_values_win(registry):
    method = registry.create("methods", "dlib-ert", {"preset": "ml-morph", "cascade_depth": 10})
    assert method.options["tree_depth"] == 3 and method.options["oversampling_amount"] == 200
    assert method.options["cascade_depth"] == 10  # dlib's default, given explicitly: it overrides the preset's 20
    # ... and it stays part of the cell's identity instead of being dropped as a default
    assert registry.canonical("methods", "dlib-ert", {"preset": "ml-morph", "cascade_depth": 10}) == {
        "cascade_depth": 10, "preset": "ml-morph"}


@pytest.mark.parametrize("params, message", [
    ({"preset": "fast"}, "unknown preset 'fast'"),
    ({"nu": 0}, "nu must be in (0, 1]"),
    ({"cascade_depth": 0}, "cascade_depth must be at least 1"),
    ({"tree_depth": "4"}, "parameter 'tree_depth' must be"),
    ({"num_threads": 4}, "unknown parameter 'num_threads'"),  # the core gives the threads
])
def test_bad_parameters_are_one_line_errors(registry, params, message):
    with pytest.raises(PluginError, match=message.replace("(", r"\(").replace("]", r"\]")):
        registry.create("methods", "dlib-ert", params)


def test_predictions_are_the_nearest_pixel_centre_of_the_truth():
    # landmarks off the pixel grid: dlib works in whole pixels, so the best it can give is the nearest centre
    samples, load = _constant([[10.3, 20.7], [5.5, 3.49], [0, 0], [39, 29]])
    method = dlib_ert.DlibErt(**TINY)
    _fit(method, samples, load)
    np.testing.assert_array_equal(_predict(method, ["c0"], load)[0], [[10, 21], [6, 3], [0, 0], [39, 29]])


def test_the_search_box_is_the_whole_image():
    # the centres of the corner pixels of a 40×30 training image stay the corner pixels' centres at 80×60
    samples, _ = _constant([[0, 0], [39, 29], [39, 0]])
    method = dlib_ert.DlibErt(**TINY)
    _fit(method, samples, lambda _id: np.zeros((30, 40), np.uint8))
    predicted = _predict(method, ["big"], lambda _id: np.zeros((60, 80), np.uint8))
    np.testing.assert_array_equal(predicted[0], [[0, 0], [79, 59], [79, 0]])


def test_missing_landmarks_are_left_out_of_training():
    samples, load = _constant([[10, 20], [30, 5]])
    samples[0] = Sample("c0", np.array([[np.nan, np.nan], [30, 5]]), (40, 30))
    method = dlib_ert.DlibErt(**TINY)
    _fit(method, samples, load)
    np.testing.assert_array_equal(_predict(method, ["c1"], load)[0], [[10, 20], [30, 5]])


def test_it_learns_where_the_landmarks_are():
    train, load_train = _rectangles(30, seed=1)
    test, load_test = _rectangles(10, seed=2)
    method = dlib_ert.DlibErt(cascade_depth=4, num_trees_per_cascade_level=20)
    _fit(method, train, load_train, threads=2)
    truth = np.stack([s.landmarks for s in test])
    error = np.hypot(*(_predict(method, [s.id for s in test], load_test) - truth).transpose(2, 0, 1)).mean()
    mean_shape = np.hypot(*(np.mean([s.landmarks for s in train], axis=0) - truth).transpose(2, 0, 1)).mean()
    assert error < 1.5 and error < 0.25 * mean_shape, (error, mean_shape)


def test_a_downscaled_image_is_learnt_and_predicted_in_original_pixels():
    """downscale = 0.5 on images twice the size of the rectangles: dlib sees exactly the small images, and the
    landmarks go in and come back through pixel centres, so the predictions are the small model's, doubled."""
    small, load_small = _rectangles(30, seed=1)
    tests, load_small_test = _rectangles(10, seed=2)
    double = lambda load: lambda sample_id: np.kron(load(sample_id), np.ones((2, 2), np.uint8))  # noqa: E731
    big = [dataclasses.replace(s, landmarks=(s.landmarks + 0.5) * 2 - 0.5, size=(96, 72)) for s in small]
    options = {"cascade_depth": 4, "num_trees_per_cascade_level": 20}
    reference = dlib_ert.DlibErt(**options)
    _fit(reference, small, load_small)
    method = dlib_ert.DlibErt(**options, downscale=0.5)
    _fit(method, big, double(load_small))
    ids = [s.id for s in tests]
    expected = (_predict(reference, ids, load_small_test) + 0.5) * 2 - 0.5
    np.testing.assert_array_equal(_predict(method, ids, double(load_small_test)), expected)
    with pytest.raises(PluginError, match="downscale must be in"):
        dlib_ert.DlibErt(downscale=0)


def test_images_are_converted_as_dlib_converts_them():
    rgb = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    samples, _ = _rectangles(6, seed=3, size=(40, 30))
    method = dlib_ert.DlibErt(**TINY)
    _fit(method, samples, lambda _id: rgb)  # dlib's trainer turns colour into grayscale itself...
    gray = dlib_ert.grayscale(rgb)  # ... and so do we, identically: same features, same shape
    box = dlib.rectangle(0, 0, 39, 29)
    assert [(p.x, p.y) for p in method.predictor(rgb, box).parts()] == \
           [(p.x, p.y) for p in method.predictor(gray, box).parts()]
    deep = np.array([[1000, 3000], [2000, 1000]], np.uint16)  # scaled by its own range, not clipped
    np.testing.assert_array_equal(dlib_ert.grayscale(deep), [[0, 255], [128, 0]])
    assert dlib_ert.grayscale(np.dstack([rgb, rgb[:, :, :1]])).shape == (30, 40)  # alpha dropped


def test_save_and_load_give_identical_predictions(tmp_path, registry):
    samples, load = _rectangles(12, seed=4)
    params = {"preset": "ml-morph", **TINY}
    method = registry.create("methods", "dlib-ert", params)
    _fit(method, samples, load)
    method.save(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [dlib_ert.MODEL_FILE]
    again = dlib_ert.DlibErt.load(tmp_path, params, Training(None))
    ids = [s.id for s in samples]
    np.testing.assert_array_equal(_predict(again, ids, load), _predict(method, ids, load))


def test_a_file_that_is_not_a_model_is_a_one_line_error(tmp_path):
    (tmp_path / dlib_ert.MODEL_FILE).write_bytes(b"not a shape predictor")
    with pytest.raises(PluginError, match="dlib-ert.dat: not a dlib shape predictor"):
        dlib_ert.DlibErt.load(tmp_path, {}, Training(None))
    with pytest.raises(PluginError, match="no fitted dlib-ert model"):
        dlib_ert.DlibErt.load(tmp_path / "elsewhere", {}, Training(None))


GRID = """
protocol = "smoke"
datasets = [{ name = "synthetic", n_images = 12, n_landmarks = 3, min_size = 40, max_size = 60 }]
architectures = ["mean-shape", { name = "dlib-ert", cascade_depth = 3, num_trees_per_cascade_level = 20 }]
encoders = []
codecs = []

[settings]
folds = 2
"""


def test_a_prediction_never_depends_on_the_test_images_annotation(tmp_path, registry, monkeypatch):
    (tmp_path / "grid.toml").write_text(GRID)
    cell = next(c for c in expand(load_spec(str(tmp_path / "grid.toml")), registry).cells
                if c.architecture.name == "dlib-ert")
    _, honest = runner.compute_cell(cell, registry)
    split = runner.split_samples

    def moved_test_annotations(dataset, protocol, fold, table=None):
        train, val, test = split(dataset, protocol, fold, table)
        return train, val, [dataclasses.replace(s, landmarks=s.landmarks[::-1] * 0.5 + 9) for s in test]

    monkeypatch.setattr(runner, "split_samples", moved_test_annotations)
    _, moved = runner.compute_cell(cell, registry)
    assert not np.allclose(moved.x, honest.x)
    np.testing.assert_array_equal(moved[["pred_x", "pred_y"]], honest[["pred_x", "pred_y"]])


def test_it_runs_through_the_suite_like_any_method(tmp_path, capsys):
    (tmp_path / "grid.toml").write_text(GRID)
    results = str(tmp_path / "results")
    assert main(["run", "--grid", str(tmp_path / "grid.toml"), "--results", results, "--run", "r"]) == 0
    records = list(RunStore(tmp_path / "results" / "r").records())
    names = {r["id"]: r["config"]["architecture"]["name"] for r in records}
    assert sorted((names[r["id"]], r["status"]) for r in records) == [("dlib-ert", "ok")] * 2 + [("mean-shape", "ok")] * 2
    assert all(r["train_seconds"] > 0 for r in records if names[r["id"]] == "dlib-ert")
    capsys.readouterr()
    assert main(["leaderboard", "r", "--results", results]) == 0
    assert main(["stats", "r", "--results", results]) == 0
    out = capsys.readouterr().out
    assert "dlib-ert" in out and "mean-shape" in out


def test_without_dlib_it_says_how_to_install_it_and_the_rest_works(tmp_path, monkeypatch, capsys, registry):
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib now raises ImportError
    monkeypatch.delitem(sys.modules, dlib_ert.__name__)
    without = importlib.import_module(dlib_ert.__name__)  # the module itself imports without dlib
    assert without.DlibErt.unavailable() == "dlib is not installed: pip install 'benchsuite[classical]'"
    with pytest.raises(PluginError, match=r"not available here: dlib is not installed: pip install"):
        registry.create("methods", "dlib-ert")
    grid = tmp_path / "all.toml"
    grid.write_text(GRID.split("architectures")[0] + 'architectures = ["*"]\nencoders = []\ncodecs = []\n'
                    "[settings]\nfolds = 2\n")
    assert main(["run", "--grid", str(grid), "--dry-run", "-a", "[dm]*"]) == 0
    out = capsys.readouterr().out
    assert "architecture dlib-ert left out of '*': not available: dlib is not installed" in out
    assert "mean-shape | fold 1" in out
    assert main(["run", "--grid", str(grid), "-a", "[dm]*", "--results", str(tmp_path / "results"), "--run", "r"]) == 0


@pytest.mark.skipif(not (SHARED / "drosophila_wings_mlmorph").is_dir(), reason=f"shared fly wings not found at {SHARED}")
def test_on_the_fly_wings_it_finds_the_landmarks(tmp_path, registry):
    """One fold of ml-morph's own example data with dlib's defaults: far better than the mean shape."""
    (tmp_path / "wings.toml").write_text('protocol = "kumar2022"\ndatasets = ["drosophila-wings"]\n'
                                         'architectures = ["dlib-ert", "mean-shape"]\nencoders = []\ncodecs = []\n')
    errors = {}
    for cell in [c for c in expand(load_spec(str(tmp_path / "wings.toml")), registry).cells if c.fold == 0]:
        _, table = runner.compute_cell(cell, registry)
        errors[cell.architecture.name] = np.hypot(table.pred_x - table.x, table.pred_y - table.y).mean()
    # fold 0 is the hardest of the five: 11.0 px (ml-morph's own pipeline on it: 12.1), the mean shape 24.4
    assert errors["dlib-ert"] < 14 and errors["dlib-ert"] < 0.6 * errors["mean-shape"], errors


def test_it_learns_from_the_validation_images_except_in_a_nested_selection(tmp_path, registry, monkeypatch):
    """Trained on training + validation images its error on the latter is a training error: no val_mre. In a
    selection of its options it is fitted on the training part only, so val_mre is a held-out error to choose on."""
    fitted = []
    fit = dlib_ert.DlibErt.fit
    monkeypatch.setattr(dlib_ert.DlibErt, "fit", lambda self, samples, *a, **k: (
        fitted.append({s.id for s in samples}), fit(self, samples, *a, **k))[1])
    (tmp_path / "grid.toml").write_text(GRID.replace(
        '{ name = "dlib-ert", cascade_depth = 3, num_trees_per_cascade_level = 20 }',
        '{ name = "dlib-ert", cascade_depth = 3, num_trees_per_cascade_level = 20 }, '
        '{ name = "dlib-ert", cascade_depth = 2, num_trees_per_cascade_level = 20 }'))
    plain = next(c for c in expand(load_spec(str(tmp_path / "grid.toml")), registry).cells
                 if c.architecture.name == "dlib-ert")
    dataset = registry.create("datasets", plain.dataset.name, plain.dataset.params)
    train, val, _ = runner.split_samples(dataset, plain.protocol, plain.fold)
    record, _ = runner.compute_cell(plain, registry)
    assert fitted[-1] == {s.id for s in train + val} and "val_mre" not in record
    (tmp_path / "grid.toml").write_text((tmp_path / "grid.toml").read_text().replace(
        "[settings]", 'select = ["architecture.cascade_depth"]\n\n[settings]'))
    nested = next(c for c in expand(load_spec(str(tmp_path / "grid.toml")), registry).cells
                  if c.architecture.name == "dlib-ert")
    record, _ = runner.compute_cell(nested, registry)
    assert fitted[-1] == {s.id for s in train} and record["val_mre"] > 0


def test_its_fit_estimate_scales_two_probes_of_one_cascade_level_to_the_folds_work(registry, monkeypatch):
    """On a clock where one level costs 0.5 s, 0.01 s per image, 0.02 s per tree and 0.003 s per tree and
    image, ml-morph's 20 levels of 500 trees on 80 images cost 20 × (0.5 + 0.8 + 10 + 120) s; the probes train
    one level of 10 and of 30 trees on the fold's number of images with the method's other options (after an
    untimed call that starts dlib's threads)."""
    clock, probes = [0.0], []

    def fake_train(images, objects, options):
        n, trees = len(images), options.num_trees_per_cascade_level
        probes.append((options.cascade_depth, trees, options.oversampling_amount, options.num_threads, n,
                       len(objects[0][0].parts())))
        clock[0] += 0.5 + 0.01 * n + 0.02 * trees + 0.003 * n * trees

    monkeypatch.setattr(dlib_ert.time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(dlib, "train_shape_predictor", fake_train)
    method = registry.create("methods", "dlib-ert", {"preset": "ml-morph"})
    assert method.fit_seconds(80, 19, threads=2) == pytest.approx(20 * (0.5 + 0.8 + 10 + 120))
    assert probes == [(1, 1, 200, 2, 1, 19), (1, 10, 200, 2, 80, 19), (1, 30, 200, 2, 80, 19)]


def test_a_dry_run_gives_its_fit_estimate(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(dlib_ert.DlibErt, "fit_seconds", lambda self, n_images, n_landmarks, threads=1: 30.0 * n_images)
    (tmp_path / "grid.toml").write_text(GRID)
    assert main(["run", "--grid", str(tmp_path / "grid.toml"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("no network: fits on the original images, no epochs, < 1 min here") == 2  # the mean shape
    assert out.count("no network: fits on the original images, no epochs, ≈ 3 min here") == 2  # 6 images a fold
