"""A lab's own splits: reproduced exactly, written into every run, and groups (videos) never split."""
from __future__ import annotations

import pandas as pd
import pytest
from landmark_files import dlc_csv, image, tps_folder

from benchsuite.cli import main
from benchsuite.run.launch import Filters, plan_grid
from benchsuite.run.store import RunStore

FAST = ["--set", "epochs=1", "--set", "input_size=16", "--set", "batch_size=2"]


def _dlc_project(root, videos: int = 4, frames: int = 3):
    parts = ["nose", "paw"]
    for v in range(videos):
        folder = root / "labeled-data" / f"video{v}"
        rows = {}
        for f in range(frames):
            image(folder / f"img{f:03d}.png", 32, 24, seed=10 * v + f)
            rows[f"labeled-data/video{v}/img{f:03d}.png"] = [5 + f, 6, 10, 12 + v]
        dlc_csv(folder / "CollectedData_Tester.csv", parts, rows)
    return root


def test_a_deeplabcut_projects_folds_never_split_a_video(tmp_path, capsys):
    project = _dlc_project(tmp_path / "reach")
    assert main(["splits", str(project), "--folds", "3"]) == 0
    rows = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    rows["video"] = rows["image"].str.split("/").str[0]
    for fold, part in rows.groupby("fold"):
        assert (part.groupby("video")["part"].nunique() == 1).all(), f"fold {fold} splits a video"
    assert set(rows[rows.part == "test"].groupby("video")["fold"].nunique()) == {1}


def test_run_with_a_split_file_reproduces_the_given_folds_and_writes_them(tmp_path, capsys):
    data = tps_folder(tmp_path / "wings", n=6)
    folds = tmp_path / "folds.csv"
    folds.write_text("image,fold\n" + "".join(f"img{i}.png,{(i * 2) % 3}\n" for i in range(6)))
    results = tmp_path / "results"
    code = main(["run", "-d", str(data), "-a", "mean-shape", "--splits", str(folds), "--results", str(results),
                 *FAST])
    assert code == 0, capsys.readouterr().err
    store = RunStore(results / "wings")
    tests = {r["fold"]: set(store.predictions(r["id"])["image_id"]) for r in store.records()}
    assert tests == {0: {"img0", "img3"}, 1: {"img2", "img5"}, 2: {"img1", "img4"}}
    written = pd.read_csv(store.root / "splits.csv")
    assert set(written.columns) == {"dataset", "image", "fold", "part"}
    assert {f: set(g.image) for f, g in written[written.part == "test"].groupby("fold")} == {
        f: set(ids) for f, ids in tests.items()}


def test_a_runs_splits_csv_fed_back_gives_the_same_cells_splits(tmp_path, capsys):
    data = tps_folder(tmp_path / "wings", n=8)
    results = tmp_path / "results"
    assert main(["run", "-d", str(data), "-a", "mean-shape", "--folds", "2", "--results", str(results), *FAST]) == 0
    first = pd.read_csv(results / "wings" / "splits.csv")
    assert main(["run", "-d", str(data), "-a", "mean-shape", "--splits", str(results / "wings" / "splits.csv"),
                 "--run", "again", "--results", str(results), *FAST]) == 0
    again = pd.read_csv(results / "again" / "splits.csv")
    key = ["image", "fold", "part"]
    assert first[key].sort_values(key).to_numpy().tolist() == again[key].sort_values(key).to_numpy().tolist()
    capsys.readouterr()


def test_a_bad_split_file_stops_the_run_before_anything_is_written(tmp_path, capsys):
    data = tps_folder(tmp_path / "wings", n=4)
    folds = tmp_path / "folds.csv"
    folds.write_text("image,fold\nimg0.png,0\nimg1.png,1\nimg2.png,0\nimgX.png,1\n")
    results = tmp_path / "results"
    assert main(["run", "-d", str(data), "--splits", str(folds), "--results", str(results), *FAST]) == 2
    err = capsys.readouterr().err
    assert "imgX.png" in err and "not in the dataset" in err and len(err.strip().splitlines()) == 1
    assert not results.exists()


def test_a_fixed_split_gives_one_fold(tmp_path, registry):
    data = tps_folder(tmp_path / "wings", n=5)
    split = tmp_path / "split.csv"
    split.write_text("image,part\n" + "".join(f"img{i},{p}\n" for i, p in enumerate(
        ["train", "train", "val", "test", "test"])))
    spec_dataset = {"name": "folder", "path": str(data), "splits": str(split)}
    from benchsuite.run.grid import GridSpec

    spec = GridSpec("fixed", "", "smoke", {}, {"datasets": [spec_dataset], "architectures": ["mean-shape"],
                                               "encoders": [], "codecs": []})
    plan = plan_grid(spec, registry=registry, filters=Filters())
    assert [c.fold for c in plan.cells] == [0]
    with pytest.raises(Exception, match="changed since"):
        split.write_text(split.read_text().replace("img4,test", "img4,train"))
        from benchsuite.run.grid import split_table

        split_table(registry, plan.cells[0].dataset)


def test_a_named_datasets_splits_csv_fed_back_selects_its_rows(tmp_path, capsys):
    """A run of an installed dataset names it plainly in splits.csv; given back with --splits the dataset's label
    carries the file, and the rows are still found (it was "no rows for dataset synthetic(splits=...)")."""
    results = tmp_path / "results"
    run = ["run", "--grid", "lab", "-d", "synthetic", "-a", "mean-shape", "--results", str(results),
           "--set", "epochs=1", "--set", "batch_size=2"]
    assert main([*run, "--folds", "2", "--run", "first"]) == 0, capsys.readouterr().err
    first = pd.read_csv(results / "first" / "splits.csv")
    assert set(first["dataset"]) == {"synthetic"}
    assert main([*run, "--splits", str(results / "first" / "splits.csv"), "--run", "again"]) == 0, \
        capsys.readouterr().err
    again = pd.read_csv(results / "again" / "splits.csv")
    key = ["image", "fold", "part"]
    assert first[key].sort_values(key).to_numpy().tolist() == again[key].sort_values(key).to_numpy().tolist()
    capsys.readouterr()
