"""A user's own folder in a grid (TOML entry or ``-d PATH``), and the decoded-image cache."""
from __future__ import annotations

import json

import landmark_files as lf
import numpy as np
import pytest
from benchsuite_builtin.datasets.folder import FolderDataset

from benchsuite.cli import main
from benchsuite.protocol import load_protocol
from benchsuite.run.store import RunStore
from benchsuite.train.cache import ImageCache
from benchsuite.train.inputs import prepare

TINY = """
protocol = "smoke"
datasets = [{dataset}]
architectures = ["mean-shape", {{ name = "smp-unet", encoder_depth = 3, decoder_channels = [16, 8, 8] }}]
encoders = ["resnet18"]
codecs = [{{ name = "gaussian", sigma = 2.0 }}]

[settings]
input_size = 32
folds = 2
epochs = 2
batch_size = 4
"""


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHSUITE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _grid(tmp_path, dataset: str = '"synthetic"'):
    path = tmp_path / "grid.toml"
    path.write_text(TINY.format(dataset=dataset))
    return str(path)


def test_a_grid_entry_names_a_path_and_a_format(tmp_path, capsys):
    folder = lf.tps_folder(tmp_path / "wings", n=6)
    grid = _grid(tmp_path, f'{{ name = "folder", path = "{folder}", format = "tps" }}')
    assert main(["run", "--grid", grid, "--results", str(tmp_path / "results"), "--run", "r", "-a", "mean-shape"]) == 0
    store = RunStore(tmp_path / "results" / "r")
    records = list(store.records())
    assert len(records) == 2 and all(r["status"] == "ok" for r in records)
    table = store.predictions(records[0]["id"])
    assert set(table.landmark) == {"L1", "L2", "L3"} and table.image_id.str.startswith("img").all()


def test_a_second_annotator_is_recorded_and_shown_as_the_human_reference(tmp_path, capsys):
    folder = lf.two_annotator_folder(tmp_path / "xrays", n=6)
    grid = _grid(tmp_path, f'{{ name = "folder", path = "{folder}" }}')
    assert main(["run", "--grid", grid, "--results", str(tmp_path / "results"), "--run", "r", "-a", "mean-shape"]) == 0
    records = list(RunStore(tmp_path / "results" / "r").records())
    assert len(records) == 2 and all(r["human_error"] == pytest.approx(2.5) for r in records)
    capsys.readouterr()
    assert main(["leaderboard", str(tmp_path / "results" / "r")]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "human" in line)
    assert "| 2.50 " in row and "**" not in row


def test_dash_d_with_a_folder_replaces_the_grids_datasets(tmp_path, capsys):
    folder = lf.tps_folder(tmp_path / "my wings", n=4)
    assert main(["run", "--grid", _grid(tmp_path), "-d", str(folder), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "synthetic" not in out and "my wings | mean-shape | fold 1" in out and "4 cells to run" in out


def test_dash_d_trains_on_the_folder_and_fills_the_cache(tmp_path, cache_dir, capsys):
    folder = lf.tps_folder(tmp_path / "wings", n=6, size=(48, 36))
    code = main(["run", "--grid", _grid(tmp_path), "-d", str(folder), "--results", str(tmp_path / "results"),
                 "--run", "r", "-a", "smp-unet"])
    assert code == 0
    records = list(RunStore(tmp_path / "results" / "r").records())
    assert [r["status"] for r in records] == ["ok", "ok"] and records[0]["dataset"] == "wings"
    assert len(list(cache_dir.rglob("*.npy"))) == 6  # each image once, shared by both folds


def test_a_bad_image_fails_its_cell_with_the_file_named(tmp_path, capsys):
    folder = lf.tps_folder(tmp_path / "wings", n=4)
    damaged = bytearray((folder / "img3.png").read_bytes())
    for i in range(len(damaged) // 2, len(damaged) // 2 + 40):  # inside the pixel data: only decoding fails
        damaged[i] ^= 0x5A  # (a file cut short is refused before the run: tests/test_preflight.py)
    (folder / "img3.png").write_bytes(bytes(damaged))
    code = main(["run", "--grid", _grid(tmp_path), "-d", str(folder), "--results", str(tmp_path / "results"),
                 "--run", "r", "-a", "smp-unet"])
    assert code == 1
    errors = {r["error"] for r in RunStore(tmp_path / "results" / "r").records()}
    assert any(f"{folder / 'img3.png'}: cannot decode image" in e for e in errors)


def test_the_second_preparation_decodes_nothing(tmp_path, monkeypatch):
    folder = lf.tps_folder(tmp_path / "wings", n=3, size=(50, 40))
    protocol = load_protocol("smoke", {"input_size": 24})
    first = FolderDataset(str(folder))
    fresh = prepare(first, first.samples(), protocol)
    second = FolderDataset(str(folder))
    monkeypatch.setattr(second, "load_image", lambda sample_id: pytest.fail(f"{sample_id} decoded again"))
    cached = prepare(second, second.samples(), protocol)
    assert np.array_equal(fresh.images.numpy(), cached.images.numpy())
    assert np.array_equal(fresh.landmarks.numpy(), cached.landmarks.numpy())
    # another input size is another entry; a changed file is another key
    assert not np.array_equal(prepare(first, first.samples(), load_protocol("smoke", {"input_size": 20})).images.shape,
                              fresh.images.shape)
    before = second.image_key("img0")
    lf.image(folder / "img0.png", 50, 40, seed=99)
    assert FolderDataset(str(folder)).image_key("img0") != before


def test_cache_round_trip_and_what_it_refuses(tmp_path, monkeypatch):
    cache = ImageCache(tmp_path)
    array = np.arange(2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 3)
    cache.put("ab" * 32, 2, 3, array)
    assert np.array_equal(cache.get("ab" * 32, 2, 3), array)
    assert cache.get("ab" * 32, 2, 1) is None and cache.get("cd" * 32, 2, 3) is None
    next(tmp_path.rglob("*.npy")).write_bytes(b"garbage")  # a crashed writer: recomputed, not crashed on
    assert cache.get("ab" * 32, 2, 3) is None
    monkeypatch.setenv("BENCHSUITE_CACHE", "off")
    assert ImageCache.for_dataset(FolderDataset(str(tmp_path))) is None
    monkeypatch.setenv("BENCHSUITE_CACHE", str(tmp_path))
    assert json.dumps(str(ImageCache.for_dataset(FolderDataset(str(tmp_path))).folder)) == json.dumps(str(tmp_path / "images"))
