"""Predictions drawn on their images: exact positions, the right examples, honest when images are missing."""
from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pandas as pd
from fake_runs import make_run, make_synthetic_run, write_cell
from PIL import Image

from benchsuite.cli import main
from benchsuite.report import overlays
from benchsuite.run.results import Run
from benchsuite.run.store import RunStore


def _centroid(picture: Image.Image, colour) -> np.ndarray:
    """(x, y) centre of the pixels of exactly this colour."""
    array = np.asarray(picture.convert("RGB")).astype(int)
    ys, xs = np.nonzero(np.all(array == colour, axis=-1))
    assert len(xs), f"nothing drawn in {colour}"
    return np.array([xs.mean(), ys.mean()])


def test_pixel_centres_map_onto_the_centres_of_their_shown_blocks():
    size, shown = (10, 8), (40, 32)  # 4 shown pixels per original pixel
    points = np.array([[0.0, 0.0], [3.0, 5.0], [9.5, 7.5], [-0.5, -0.5]])
    # pixel (3, 5) covers shown columns 12..15 and rows 20..23: centre (13.5, 21.5); the image's edges stay edges
    assert overlays.to_shown(points, size, shown).tolist() == [[1.5, 1.5], [13.5, 21.5], [39.5, 31.5],
                                                               [-0.5, -0.5]]
    assert overlays.shown_size((300, 100), 400) == (400, 133) and overlays.shown_size((50, 100), 400) == (200, 400)


def test_a_landmark_is_drawn_where_the_image_shows_it_y_down():
    image = np.zeros((30, 40), np.uint8)
    image[22, 7] = 255  # the feature at x = 7, y = 22 (row 22)
    picture = overlays.draw_landmarks(image, ["tip"], np.array([[7.0, 22.0]]), longest=400)
    shown = overlays.to_shown(np.array([[7.0, 22.0]]), (40, 30), (400, 300))[0]
    assert np.allclose(_centroid(picture.crop((0, 0, 400, 300)), overlays.TRUTH), shown, atol=0.6)
    bright = np.argwhere(np.asarray(picture.convert("L"))[:300] > 200)  # the resized feature (and the label)
    feature = bright[np.hypot(*(bright[:, ::-1] - shown).T) < 6]
    assert np.allclose(feature.mean(axis=0)[::-1], shown, atol=1.0)


def test_prediction_and_error_line_are_drawn_from_truth_to_prediction():
    image = np.full((50, 50, 3), 40, np.uint8)
    picture = overlays.draw_landmarks(image, ["a"], np.array([[10.0, 10.0]]), np.array([[40.0, 30.0]]), longest=200)
    scale = 200 / 50
    assert np.allclose(_centroid(picture.crop((0, 0, 200, 200)), overlays.PREDICTION),
                       [(40.5 * scale - 0.5), (30.5 * scale - 0.5)], atol=1.0)
    line = _centroid(picture.crop((0, 0, 200, 200)), overlays.ERROR_LINE)
    assert np.allclose(line, [(25.5 * scale - 0.5), (20.5 * scale - 0.5)], atol=3.0)  # around the midpoint


def test_sixteen_bit_and_rgba_images_are_shown_by_their_own_range():
    deep = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 1000 + 5000)
    shown = np.asarray(overlays.as_rgb(deep))
    assert shown.shape == (3, 4, 3) and shown.min() == 0 and shown.max() == 255
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0] = 200
    assert np.asarray(overlays.as_rgb(rgba))[0, 0].tolist() == [200, 0, 0]


def test_offsets_are_drawn_in_the_direction_of_the_error():
    picture = overlays.offsets_picture([3.0, 3.0], [2.0, 2.0], "eye", side=200)  # right and down
    centre = _centroid(picture, overlays.TRUTH)  # the truth ring at the origin
    rgb = np.asarray(picture).astype(int)
    reds = np.argwhere((rgb[..., 0] > 180) & (rgb[..., 1] < 170) & (rgb[..., 2] < 170))  # the (blended) dots
    dot = reds.mean(axis=0)[::-1]
    assert dot[0] > centre[0] + 20 and dot[1] > centre[1] + 10  # +x to the right, +y downwards as in the image
    assert overlays.nice_limit(3.6) == 5 and overlays.nice_limit(0.011) == 0.02 and overlays.nice_limit(20) == 20


def test_best_median_and_worst_are_chosen_by_per_image_mean_radial_error(tmp_path):
    store = RunStore(tmp_path / "run")
    errors = np.array([[4.0, 6.0], [1.0, 1.0], [9.0, 7.0], [2.0, 4.0], [np.nan, 30.0]])  # means 5, 1, 8, 3, 30
    write_cell(store, "toy", "unet+gaussian", 0, errors, [f"im{i}" for i in range(5)], folds=1,
               rng=np.random.default_rng(0))
    table = store.predictions(next(store.records())["id"])
    measured = overlays.image_errors(table)
    assert measured.round(6).to_dict() == {"im0": 5.0, "im1": 1.0, "im2": 8.0, "im3": 3.0, "im4": 30.0}
    assert overlays.pick_examples(measured) == [("best", "im1"), ("median", "im0"), ("worst", "im4")]
    assert overlays.pick_examples(measured.iloc[:2]) == [("best and median", "im1"), ("worst", "im0")]


def test_every_method_gets_three_examples_and_one_scatter_per_landmark(tmp_path, registry):
    store = make_synthetic_run(tmp_path / "run", registry, {"unet+gaussian": 1.5, "mean-shape": 8.0})
    figures = overlays.run_figures(Run(store, registry))
    (dataset,) = figures
    assert dataset.unavailable is None and [m.method for m in dataset.methods] == ["mean-shape", "unet+gaussian"]
    run = Run(store, registry)
    for method in dataset.methods:
        errors = overlays.image_errors(overlays.method_predictions(run, "synthetic", method.method))
        expected = [errors.idxmin(), errors.sort_values().index[(len(errors) - 1) // 2], errors.idxmax()]
        assert [f.caption.split(": ")[1].split(",")[0] for f in method.examples] == expected
        assert [f.name.split("-")[2] for f in method.offsets] == ["snout", "eye", "dorsal_fin"]
        for figure in method.examples + method.offsets:
            assert Image.open(io.BytesIO(figure.png)).size[0] > 100
        assert not method.problems and method.images == 12


def test_images_not_available_here_are_said_not_failed(tmp_path, registry):
    store = make_run(tmp_path / "run", {"fishA": {"unet+gaussian": 2.0}}, folds=2, images_per_fold=3)
    (dataset,) = overlays.run_figures(Run(store, registry))
    assert "unknown dataset 'fishA'" in dataset.unavailable
    assert not dataset.methods[0].examples and len(dataset.methods[0].offsets) == 3  # errors need no image


def test_an_image_whose_size_changed_is_not_drawn_over(tmp_path, registry):
    store = make_synthetic_run(tmp_path / "run", registry, {"unet+gaussian": 1.5})
    record = next(store.records())
    table = store.predictions(record["id"]).assign(width=999)
    store.write(record["id"], record, table)
    method = next(m for d in overlays.run_figures(Run(store, registry)) for m in d.methods)
    assert len(method.examples) + len(method.problems) == 3
    assert any("999×" in p and "the dataset changed" in p for p in method.problems)


def test_figures_are_written_as_png_files_per_dataset_and_method(tmp_path, registry):
    store = make_synthetic_run(tmp_path / "run", registry, {"unet+gaussian": 1.5})
    paths = overlays.write_figures(overlays.run_figures(Run(store, registry)), tmp_path / "figures")
    assert len(paths) == 6 and all(p.parent == tmp_path / "figures" / "synthetic" / "unet_gaussian" for p in paths)
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in paths)


def test_datasets_check_draws_named_landmarks(tmp_path, capsys):
    code = main(["datasets", "check", "synthetic", "--draw", "3", "--out", str(tmp_path / "drawn")])
    out = capsys.readouterr().out
    drawn = sorted((tmp_path / "drawn").iterdir())  # spread over the 90 images: first, middle, last
    assert code == 0 and [p.name for p in drawn] == ["fish_0000.png", "fish_0044.png", "fish_0089.png"]
    assert f"3 images drawn with their landmarks in {tmp_path / 'drawn'}" in out
    picture = Image.open(drawn[0])
    assert max(picture.width, picture.height - 22) == 800  # drawn large, a legend strip below
    _centroid(picture, overlays.TRUTH)  # the landmarks are drawn


def test_datasets_check_refuses_to_draw_nothing(tmp_path, capsys):
    assert main(["datasets", "check", "synthetic", "--draw", "0", "--out", str(tmp_path)]) == 2
    assert "--draw 0: draw at least one image" in capsys.readouterr().err


def test_the_reports_never_import_torch_or_the_training_code():
    code = ("import pkgutil, importlib, sys, benchsuite.report as r\n"
            "names = [m.name for m in pkgutil.iter_modules(r.__path__)]\n"
            "for n in names: importlib.import_module('benchsuite.report.' + n)\n"
            "import benchsuite.lab.datasets\n"
            "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith(('torch.', 'benchsuite.train')))\n"
            "print(','.join(names), bad)\n")
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    names, bad = result.stdout.split(" ", 1)
    assert {"page", "overlays", "export", "plots", "significance", "tables"} <= set(names.split(","))
    assert bad.strip() == "[]", result.stdout


def test_one_image_is_shown_once_when_it_is_every_example():
    assert overlays.pick_examples(pd.Series([2.0], index=["only"])) == [("best, median and worst", "only")]
    assert overlays.pick_examples(pd.Series([], dtype=float)) == []


def test_every_offsets_panel_of_a_dataset_shares_its_axes(tmp_path, registry, monkeypatch):
    """One scale for every landmark and method of a dataset, so panels compare at a glance; the rare far misses
    beyond it are drawn on the frame's edge and counted in the caption."""
    store = make_synthetic_run(tmp_path / "run", registry, {"unet+gaussian": 1.5, "mean-shape": 8.0})
    limits = []
    drawn = overlays.offsets_picture
    monkeypatch.setattr(overlays, "offsets_picture", lambda *a, **k: limits.append(k.get("limit")) or drawn(*a, **k))
    figures = overlays.run_figures(Run(store, registry))
    radii = pd.concat([overlays.radial_errors(overlays.method_predictions(Run(store, registry), "synthetic", m))
                       for m in ("unet+gaussian", "mean-shape")]).dropna()
    assert len(limits) == 2 * 3 and set(limits) == {overlays.nice_limit(float(np.quantile(radii, 0.98)))}
    beyond = int((radii > limits[0]).sum())
    captions = " ".join(f.caption for m in figures[0].methods for f in m.offsets)
    assert beyond == 0 or f"beyond ±{limits[0]:g} px on the edge" in captions
    picture = np.asarray(overlays.offsets_picture([30.0], [0.0], "far", limit=5.0)).astype(int)  # 6× the frame
    reds = np.argwhere((picture[..., 0] > 180) & (picture[..., 1] < 170) & (picture[..., 2] < 170))
    assert len(reds) and reds[:, 1].max() <= 34 + 200 + 4  # on the right edge of the 200 px frame, not beyond
