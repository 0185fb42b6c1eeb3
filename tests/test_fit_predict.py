"""The lab's loop: run, keep the winner, predict new images, export for proofreading, read it back."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from landmark_files import tps_folder
from PIL import Image

from benchsuite.cli import main
from benchsuite.run.store import RunStore

GRID = """
protocol = "smoke"
datasets = []
methods = [
    { architecture = "mean-shape" },
    { architecture = { name = "smp-unet", encoder_depth = 3, decoder_channels = [16, 8, 8], label = "unet" }, encoder = "resnet18", codec = { name = "gaussian", sigma = 2.0 } },
]
[settings]
input_size = 32
folds = 2
epochs = 2
batch_size = 2
"""


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    data = tps_folder(root / "wings", n=8, size=(48, 36))
    grid = root / "lab.toml"
    grid.write_text(GRID)
    assert main(["run", "--grid", str(grid), "-d", str(data), "--results", str(root / "results"),
                 "--keep-weights", "all"]) == 0
    return root, data


def test_by_default_a_complete_run_keeps_only_each_datasets_best_methods_fold_models(lab_run, tmp_path, capsys):
    """Issue 20, point 16: the run's end says its disk use, and the models nobody will read are removed."""
    from benchsuite.lab.kept import keep_best_models
    from benchsuite.plugins import load_registry

    root, data = lab_run
    results = tmp_path / "results"
    shutil.copytree(root / "results", results)
    store = RunStore(results / "wings")
    by_method = {}
    for record in store.records():
        by_method.setdefault(record["method"], []).append(record["id"])
    assert len(by_method) == 2 and all((store.cell_dir(i) / "model").is_dir() for ids in by_method.values()
                                       for i in ids)
    capsys.readouterr()
    assert main(["run", "--grid", str(root / "lab.toml"), "-d", str(data), "--results", str(results)]) == 0
    out = capsys.readouterr().out
    line = re.search(r"^([\d.]+) MB on disk in .*wings, ([\d.]+) MB of them kept models; ([\d.]+) MB of models "
                     r"removed: only each dataset's best method keeps its fold models", out, re.M)
    assert line, out
    kept = {method for method, ids in by_method.items() if all((store.cell_dir(i) / "model").is_dir() for i in ids)}
    gone = {method for method, ids in by_method.items() if not any((store.cell_dir(i) / "model").exists()
                                                                    for i in ids)}
    assert len(kept) == 1 and len(gone) == 1  # the winner's folds, and none of the other's
    assert not list(store.root.rglob(".model.removing-*"))
    assert main(["status", "wings", "--results", str(results)]) == 0  # the cells themselves are intact
    loser = gone.pop()
    assert main(["fit", "wings", loser, "--from-folds", "--out", str(tmp_path / "m"), "--results", str(results)]) == 2
    assert "--keep-weights all" in capsys.readouterr().err
    assert keep_best_models(results / "wings", load_registry()) == 0  # nothing more to remove
    partial = tmp_path / "partial"
    shutil.copytree(root / "results" / "wings", partial)
    cells = json.loads((partial / "grid.json").read_text())["cells"]
    RunStore(partial).adopt_grid("wings", cells + ["0" * 16], allow_change=True)  # one asked cell not computed
    assert keep_best_models(partial, load_registry()) == 0  # the best is not known yet: every model stays


def test_finished_cells_keep_their_models_and_status_shows_the_disk_used(lab_run, capsys):
    root, _ = lab_run
    store = RunStore(root / "results" / "wings")
    for record in store.records():
        manifest = json.loads((store.cell_dir(record["id"]) / "model" / "model.json").read_text())
        assert manifest["landmark_names"] == ["L1", "L2", "L3"] or len(manifest["landmark_names"]) == 3
        weights = list((store.cell_dir(record["id"]) / "model").glob("*/*.safetensors"))
        assert bool(weights) == (manifest["codec"] is not None)
    capsys.readouterr()
    main(["status", "wings", "--results", str(root / "results")])
    assert "MB of kept models" in capsys.readouterr().out


@pytest.mark.parametrize("method,extra", [("mean-shape", []), ("unet+resnet18+gaussian(sigma=2)", ["--from-folds"]),
                                          ("unet+resnet18+gaussian(sigma=2)", [])])
def test_fit_predict_to_tps_and_read_back_gives_the_printed_error(lab_run, tmp_path, capsys, method, extra):
    root, data = lab_run
    model = tmp_path / "model"
    assert main(["fit", "wings", method, "--out", str(model), "--results", str(root / "results"), *extra]) == 0
    data = annotated_new_images(data, tmp_path / "new")  # the training images themselves would not be scored
    out = tmp_path / "predicted"
    capsys.readouterr()
    assert main(["predict", str(model), str(data), "--to", "tps", "--out", str(out)]) == 0
    printed = float(re.search(r"mean radial error against the annotations: ([\d.]+) px", capsys.readouterr().out)[1])
    # read the exported TPS back with the suite, beside the images, and measure it against the annotations
    folder = tmp_path / "readback"
    folder.mkdir()
    for image in data.glob("*.png"):
        shutil.copy(image, folder / image.name)
    tps = (out / "landmarks.tps").read_text()
    (folder / "landmarks.tps").write_text(re.sub(r"IMAGE=.*[/\\]", "IMAGE=", tps))  # the images sit beside it now
    from benchsuite.plugins import load_registry

    registry = load_registry()
    predicted = {s.id: s.landmarks for s in registry.create("datasets", "folder", {"path": str(folder)}).samples()}
    truth = {s.id: s.landmarks for s in registry.create("datasets", "folder", {"path": str(data)}).samples()}
    errors = [np.mean(np.hypot(*(predicted[k] - truth[k]).T)) for k in truth]
    assert np.mean(errors) == pytest.approx(printed, abs=0.01)


def annotated_new_images(data, folder):
    """The training folder's annotations on images the model never saw."""
    new_images(data, folder, count=len(list(data.glob("*.png"))))
    for image in folder.iterdir():
        image.rename(folder / image.name.removeprefix("new-"))
    shutil.copy(data / "landmarks.tps", folder / "landmarks.tps")
    return folder


@pytest.mark.parametrize("method,printed", [("mean-shape", "trained on 8 images\n"),
                                            ("unet+resnet18+gaussian(sigma=2)", "trained on 6 images (+2 held out")])
def test_fit_says_how_many_images_the_method_learnt_from(lab_run, tmp_path, capsys, method, printed):
    """A method that holds out no validation (the mean shape, dlib) learns from all of them."""
    root, _ = lab_run
    capsys.readouterr()
    assert main(["fit", "wings", method, "--out", str(tmp_path / "m"), "--results", str(root / "results")]) == 0
    assert printed in capsys.readouterr().out


def test_predict_new_unannotated_images_writes_every_format(lab_run, tmp_path, capsys):
    root, data = lab_run
    model = tmp_path / "model"
    assert main(["fit", "wings", "mean-shape", "--out", str(model), "--results", str(root / "results")]) == 0
    new = tmp_path / "new"
    new.mkdir()
    for image in sorted(data.glob("*.png"))[:3]:
        shutil.copy(image, new / f"new-{image.name}")
    for fmt in ("tps", "csv", "coco", "labelme", "dlc"):
        out = tmp_path / f"out-{fmt}"
        assert main(["predict", str(model), str(new), "--to", fmt, "--out", str(out)]) == 0, fmt
        assert "3 images predicted" in capsys.readouterr().out


def test_fit_and_predict_refuse_bad_requests_in_one_line(lab_run, tmp_path, capsys):
    root, data = lab_run
    assert main(["fit", "wings", "no-such-method", "--results", str(root / "results")]) == 2
    err = capsys.readouterr().err
    assert "no completed method 'no-such-method'" in err and "mean-shape" in err and len(err.splitlines()) == 1
    assert main(["predict", str(tmp_path), str(data), "--to", "tps"]) == 2
    assert "not a model folder" in capsys.readouterr().err


@pytest.fixture(scope="module")
def mean_shape_model(lab_run, tmp_path_factory):
    root, _ = lab_run
    model = tmp_path_factory.mktemp("models") / "mean-shape"
    assert main(["fit", "wings", "mean-shape", "--out", str(model), "--results", str(root / "results")]) == 0
    return model


def new_images(data, folder, count=3):
    """Images of the training images' size that the model never saw."""
    from landmark_files import image

    for i, original in enumerate(sorted(data.glob("*.png"))[:count]):
        image(folder / f"new-{original.name}", *Image.open(original).size, seed=100 + i)
    return folder


def test_predicted_tps_goes_beside_the_images_and_reads_back_without_flags(lab_run, mean_shape_model, tmp_path,
                                                                         capsys, monkeypatch):
    _, data = lab_run
    monkeypatch.chdir(tmp_path)
    new = new_images(data, tmp_path / "new-wings")
    assert main(["predict", str(mean_shape_model), str(new), "--to", "tps"]) == 0
    assert f"written: {new / 'landmarks.tps'}" in capsys.readouterr().out
    assert "IMAGE=new-img0.png" in (new / "landmarks.tps").read_text()
    assert main(["datasets", "check", str(new)]) == 0
    assert "images: 3 usable" in capsys.readouterr().out


def test_predict_overwrites_its_landmark_files_only_when_asked(lab_run, mean_shape_model, tmp_path, capsys):
    _, data = lab_run
    new = new_images(data, tmp_path / "new-wings")
    out = tmp_path / "out"
    assert main(["predict", str(mean_shape_model), str(new), "--to", "csv", "--out", str(out)]) == 0
    before = (out / "landmarks.csv").stat().st_mtime_ns
    capsys.readouterr()
    assert main(["predict", str(mean_shape_model), str(new), "--to", "csv", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{out / 'landmarks.csv'}: already exists; nothing written (replace it with --overwrite" in err
    assert (out / "landmarks.csv").stat().st_mtime_ns == before
    assert main(["predict", str(mean_shape_model), str(new), "--to", "csv", "--out", str(out), "--overwrite"]) == 0


def test_predict_without_out_asks_for_one_when_the_images_lie_in_several_folders(lab_run, mean_shape_model,
                                                                               tmp_path, capsys, monkeypatch):
    _, data = lab_run
    monkeypatch.chdir(tmp_path)
    first, second = new_images(data, tmp_path / "a", 1), new_images(data, tmp_path / "b", 1)
    images = [str(next(first.iterdir())), str(next(second.iterdir()))]
    assert main(["predict", str(mean_shape_model), *images, "--to", "tps"]) == 2
    assert "the images lie in 2 folders" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.rglob("*.tps")) == []


@pytest.fixture(scope="module")
def unet_model(lab_run, tmp_path_factory):
    root, _ = lab_run
    model = tmp_path_factory.mktemp("models") / "unet"
    assert main(["fit", "wings", "unet+resnet18+gaussian(sigma=2)", "--from-folds", "--out", str(model),
                 "--results", str(root / "results")]) == 0
    return model


def _edit_manifest(model, change):
    manifest = json.loads((model / "model.json").read_text())
    change(manifest)
    (model / "model.json").write_text(json.dumps(manifest))


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _torch_zip(path):
    import torch

    torch.save({"weight": torch.zeros(2)}, path)


def _plain_pickle(path):
    import pickle

    path.write_bytes(pickle.dumps({"weight": [0.0, 0.0]}))


def _link_out(model, tmp_path):
    outside = tmp_path / "elsewhere"
    shutil.copytree(model / "fold0-model", outside)
    shutil.rmtree(model / "fold0-model")
    (model / "fold0-model").symlink_to(outside)


WEIGHTS = "fold0-model/network.safetensors"
DAMAGES = {
    "member with ..": (lambda m, t: _edit_manifest(m, lambda d: d.update(members=["../unet/fold0-model"])),
                       "model.json: member '../unet/fold0-model' leads outside the model folder"),
    "absolute member": (lambda m, t: _edit_manifest(m, lambda d: d.update(members=[str(t / "elsewhere")])),
                        "leads outside the model folder"),
    "member linked out": (_link_out, "fold0-model: leads outside the model folder (to "),
    "plain pickle": (lambda m, t: _plain_pickle(m / WEIGHTS), f"{WEIGHTS}: a pickle (torch.save) in place of "
                                                               "safetensors weights: refused, never unpickled"),
    "torch zip": (lambda m, t: _torch_zip(m / WEIGHTS), f"{WEIGHTS}: a pickle (torch.save) in place of safetensors"),
    "truncated": (lambda m, t: _truncate(m / WEIGHTS), f"{WEIGHTS}: not readable safetensors weights"),
    "zero bytes": (lambda m, t: (m / WEIGHTS).write_bytes(b""), f"{WEIGHTS}: empty file, not network weights"),
    "no codec": (lambda m, t: _edit_manifest(m, lambda d: d.pop("codec")), "model.json: no 'codec' entry"),
    "decoder changed": (lambda m, t: _edit_manifest(m, lambda d: d["architecture"]["params"].update(
        decoder_channels=[16, 16, 8])), f"{WEIGHTS}: the weights do not fit the configuration recorded with them: "
                                        "decoder.blocks.1.conv1.0.weight has shape [8, "),
    "a landmark fewer": (lambda m, t: _edit_manifest(m, lambda d: d.update(landmark_names=d["landmark_names"][:2])),
                         "fold0-model/network.json: the member was trained for 3 landmarks, model.json names 2"),
    "no members": (lambda m, t: _edit_manifest(m, lambda d: d.update(members=[])),
                   "model.json: lists no members, so there is no trained model to predict with"),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_or_planted_model_folder_is_one_line_naming_the_file(lab_run, unet_model, tmp_path, capsys,
                                                                       damage):
    _, data = lab_run
    model = tmp_path / "unet"
    shutil.copytree(unet_model, model)
    harm, expected = DAMAGES[damage]
    harm(model, tmp_path)
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["predict", str(model), str(data), "--to", "csv", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and expected in err, err
    assert not out.exists()


def test_a_member_the_method_cannot_load_is_one_line(mean_shape_model, lab_run, tmp_path, capsys):
    _, data = lab_run
    model = tmp_path / "mean"
    shutil.copytree(mean_shape_model, model)
    (model / "model" / "mean-shape.json").write_text('{"mean": [[1, 2')
    assert main(["predict", str(model), str(data), "--to", "csv", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"benchsuite: error: {model / 'model'}: not a member mean-shape can load (JSONDecodeError")


def test_training_images_are_recognised_by_content_and_left_out_of_the_score(lab_run, mean_shape_model, tmp_path,
                                                                             capsys):
    """Two training images renamed and one image the model never saw, all annotated: only that one is scored."""
    from landmark_files import image, tps

    _, data = lab_run
    folder = tmp_path / "batch"
    folder.mkdir()
    for i in range(2):
        shutil.copy(data / f"img{i}.png", folder / f"renamed{i}.png")
    image(folder / "unseen.png", 48, 36, seed=99)
    tps(folder / "landmarks.tps", [(f"{name}.png", [(6, 5), (9, 7), (12, 9)])
                                   for name in ("renamed0", "renamed1", "unseen")])
    capsys.readouterr()
    assert main(["predict", str(mean_shape_model), str(folder), "--to", "csv", "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "2 annotated images were training images of this model (recognised by content): not scored" in out
    assert "mean radial error against the annotations:" in out and "px over 1 images" in out


def test_predict_never_scores_a_model_against_its_own_written_output(lab_run, mean_shape_model, tmp_path, capsys):
    _, data = lab_run
    new = new_images(data, tmp_path / "new-wings")
    for fmt, why in (("tps", "3 annotated images hold benchsuite's own predictions, not proofread annotations"),
                     ("csv", "3 annotated images hold exactly this model's predictions, so they are its own output")):
        assert main(["predict", str(mean_shape_model), str(new), "--to", fmt]) == 0
        capsys.readouterr()
        assert main(["predict", str(mean_shape_model), str(new), "--to", fmt, "--out", str(tmp_path / fmt)]) == 0
        out = capsys.readouterr().out
        assert why in out and "not measured, no annotated image left to score" in out and "0.00 px" not in out
        (new / next(p.name for p in (tmp_path / fmt).iterdir())).unlink()


def test_dlc_predictions_are_a_project_deeplabcut_opens_and_the_suite_reads_back(lab_run, mean_shape_model,
                                                                               tmp_path, capsys, monkeypatch):
    import yaml

    _, data = lab_run
    new = new_images(data, tmp_path / "session1")
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["predict", str(mean_shape_model), str(new), "--to", "dlc"]) == 0
    out = capsys.readouterr().out
    project = tmp_path / "predictions"
    frames = project / "labeled-data" / "session1"
    assert sorted(p.name for p in frames.iterdir()) == ["CollectedData_benchsuite.csv", "new-img0.png",
                                                        "new-img1.png", "new-img2.png"]
    assert (frames / "new-img1.png").read_bytes() == (new / "new-img1.png").read_bytes()  # copies, not links
    config = yaml.safe_load((project / "config.yaml").read_text())
    assert config["scorer"] == "benchsuite" and config["bodyparts"] == ["L1", "L2", "L3"]
    assert [Path(v).stem for v in config["video_sets"]] == ["session1"]  # DeepLabCut pairs videos by name
    assert config["video_sets"][next(iter(config["video_sets"]))]["crop"] == "0, 48, 0, 36"
    assert f"deeplabcut.label_frames('{project / 'config.yaml'}')" in out and "to merge into another project" in out
    assert main(["datasets", "check", str(project)]) == 0
    checked = capsys.readouterr().out
    assert "format: dlc" in checked and "images: 3 usable" in checked and "3 of 3 images hold benchsuite's" in checked
    # predicting the project's own frames again writes beside them without copying them onto themselves
    assert main(["predict", str(mean_shape_model), str(frames), "--to", "dlc", "--out", str(frames),
                 "--overwrite"]) == 0
    assert "written: " in capsys.readouterr().out and len(list(frames.iterdir())) == 4
