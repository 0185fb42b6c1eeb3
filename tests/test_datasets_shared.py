"""The shared real datasets (``../shared/datasets``) as plugins, and the manifest-only ones.

The counts asserted here are the ones their SOURCE.md documents. These
tests only read ``../shared``; a guard checks that nothing in it changed.
"""
from __future__ import annotations

import csv
import os
import shutil
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import torch
from benchsuite_builtin.datasets.manifest import default_root

from benchsuite.api import PluginError
from benchsuite.cli import main
from benchsuite.run.grid import expand, load_spec
from benchsuite.run.runner import compute_cell

SHARED = default_root("shared")
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared datasets not found at {SHARED} "
                                  "(check out ../shared beside the repository or set BENCHSUITE_SHARED_DATA)")

SEED_PAPERS = {"zebrafish": 25, "medaka": 6, "seabream": 19, "beetle-pronotum": 8, "beetle-head": 10,
               "beetle-elytra": 11, "beetle-left-mandible": 16, "beetle-right-mandible": 18}


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


@pytest.fixture(scope="module", autouse=True)
def shared_left_untouched():
    before = _snapshot(SHARED) if SHARED.is_dir() else None
    yield
    if before is not None:
        assert _snapshot(SHARED) == before, "a test wrote into ../shared"


def _dataset(registry, name, **params):
    return registry.get("datasets", name).cls(**params)


def test_every_named_dataset_is_registered_with_its_landmarks_licence_and_citation(registry):
    expected = SEED_PAPERS | {"drosophila-wings": 12, "cephalometric-hamedan": 19, "dlc-reaching": 5}
    for name, landmarks in expected.items():
        dataset = _dataset(registry, name, root="/nonexistent")  # instantiating reads no file
        assert len(dataset.landmark_names) == landmarks, name
        assert dataset.manifest["licence"] and dataset.manifest["citation"] and dataset.manifest["source"]
        assert registry.get("datasets", name).plugin == "known-datasets"
    zebrafish = _dataset(registry, "zebrafish").landmark_names
    assert zebrafish[0] == "01_maxilla" and zebrafish[15] == "16_anterior_end" and zebrafish[24] == "25_ceratobranchial"
    assert [n[0] for n in _dataset(registry, "seabream").landmark_names] == list("ABCDEFGHILMNOPQRSTU")


def test_manifests_are_installed_with_the_package():
    names = {p.name for p in resources.files("benchsuite_builtin.manifests").iterdir()}
    assert {"zebrafish.toml", "drosophila-wings.toml", "beetle-head.toml"} <= names


@pytest.mark.parametrize("name", sorted(SEED_PAPERS))
def test_absent_files_say_where_to_put_them_and_how_to_obtain_them(registry, tmp_path, name):
    dataset = _dataset(registry, name, root=str(tmp_path))
    with pytest.raises(PluginError) as raised:
        dataset.samples()
    message = str(raised.value)
    assert "\n" not in message and f"dataset files not found at {tmp_path / name}" in message
    assert "put them there" in message and "How to obtain them:" in message


@needs_shared
def test_drosophila_wings_tps_with_the_y_flip(registry):
    dataset = _dataset(registry, "drosophila-wings")
    samples = {s.id: s for s in dataset.samples()}
    assert len(samples) == 58 and {s.size for s in samples.values()} == {(632, 480)}
    assert not any(np.isnan(s.landmarks).any() for s in samples.values())
    # tps-example.tps: 63001's first landmark is "290. 108." from the bottom of a 480 px high image
    np.testing.assert_allclose(samples["63001"].landmarks[0], [290, 480 - 108])
    # the CSV export holds the same numbers: pairing by name agrees with it row by row
    rows = list(csv.reader((dataset.folder / "landmark-examples" / "csv-example.csv").open()))[1:]
    for row in rows:
        written = np.array(row[1:], dtype=float).reshape(-1, 2)
        np.testing.assert_allclose(samples[Path(row[0]).stem].landmarks, np.c_[written[:, 0], 480 - written[:, 1]])


@needs_shared
def test_cephalometric_annotators_and_their_documented_defects(registry):
    default = _dataset(registry, "cephalometric-hamedan")
    assert default.options.annotator == "farhadifar"
    samples = default.samples()
    assert len(samples) == 150 and {s.size for s in samples} == {(1340, 1671)}
    missing = {(s.id, default.landmark_names[i]) for s in samples for i in np.flatnonzero(np.isnan(s.landmarks).any(1))}
    assert missing == {("002", "l17"), ("002", "l18")}  # l17 twice, l18 absent
    other = _dataset(registry, "cephalometric-hamedan", annotator="mollabashi")
    missing = {(s.id, other.landmark_names[i]) for s in other.samples() for i in np.flatnonzero(np.isnan(s.landmarks).any(1))}
    assert missing == {("002", "l11"), ("009", "l15"), ("010", "l12"), ("064", "l7"), ("098", "l5"), ("137", "l16"),
                       ("140", "l1"), ("109", "l13"), ("109", "l14"), ("086", "l16")}
    with pytest.raises(PluginError, match="unknown annotator 'smith'"):
        _dataset(registry, "cephalometric-hamedan", annotator="smith")


@needs_shared
def test_dlc_reaching_missing_labels_match_the_csv(registry):
    dataset = _dataset(registry, "dlc-reaching")
    samples = {s.id: s for s in dataset.samples()}
    assert len(samples) == 55 and {s.size for s in samples.values()} == {(832, 747), (640, 470)}
    table = list(csv.reader((dataset.folder / "labeled-data/reachingvideo1/CollectedData_Mackenzie.csv").open()))
    for row in table[3:]:
        key = "reachingvideo1/" + Path(row[0]).stem
        written = np.array([float(v) if v else np.nan for v in row[1:]]).reshape(-1, 2)
        np.testing.assert_array_equal(samples[key].landmarks, written)
    missing = np.isnan(np.stack([s.landmarks for s in samples.values()])[:, :, 0]).sum(axis=0)
    assert dict(zip(dataset.landmark_names, missing.tolist())) == {
        "Hand": 1, "Finger1": 1, "Tongue": 40, "Joystick1": 0, "Joystick2": 0}


@needs_shared
@pytest.mark.parametrize("folder,lines", [
    ("drosophila_wings_mlmorph", ["format: tps", "images: 58 usable", "landmarks: 12 (L1,", "632×480 (58)",
                                  "missing landmarks: none", "errors: 0, warnings: 1"]),
    ("cephalometric_hamedan", ["format: labelme", "images: 150 usable", "landmarks: 19 (l1, l2,", "1340×1671 (150)",
                               "missing landmarks: 2 of 2850 (l17 1, l18 1)", "(ground truth: annotated_by_Dr.farhadifar)",
                               "inter-annotator MRE (annotated_by_Dr.mollabashi vs annotated_by_Dr.farhadifar): ",
                               "errors: 0, warnings: 10"]),
    ("dlc_reaching_mackenzie", ["format: dlc", "images: 55 usable", "landmarks: 5 (Hand, Finger1, Tongue, Joystick1, Joystick2)",
                                "832×747 (40), 640×470 (15)", "missing landmarks: 42 of 275 (Hand 1, Finger1 1, Tongue 40)",
                                "errors: 0, warnings: 0"]),
])
def test_check_on_each_shared_folder(capsys, folder, lines):
    assert main(["datasets", "check", str(SHARED / folder)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    for line in lines:
        assert line in out, line


@needs_shared
def test_check_by_name_verifies_the_manifest_and_reports_the_human_reference(capsys):
    assert main(["datasets", "check", "cephalometric-hamedan", "--annotator", "mollabashi"]) == 0
    out = capsys.readouterr().out
    reference = next(line for line in out.splitlines() if line.startswith("inter-annotator MRE"))
    value = float(reference.split(": ")[1].split(" px")[0])
    assert 5 < value < 30  # two experts on 1340×1671 radiographs: about a millimetre
    assert "licence: None stated" in out and "citation: Hamedan University" in out


@needs_shared
def test_check_by_name_finds_a_changed_file(tmp_path, capsys):
    copy = tmp_path / "drosophila_wings_mlmorph"
    shutil.copytree(SHARED / "drosophila_wings_mlmorph", copy)
    for path in [copy, *copy.rglob("*")]:  # ../shared is read-only; the copy need not be
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    tps = copy / "landmark-examples" / "tps-example.tps"
    tps.write_text(tps.read_text().replace("290. 108.", "291. 108.", 1))
    assert main(["datasets", "check", "drosophila-wings", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [f"benchsuite: error: {tps}: sha256 " + err[0].split("sha256 ")[1]]
    assert "differs from the manifest's f99c1f182293…" in err[0]


def test_real_smoke_grid_runs_three_methods_on_the_three_shared_datasets(registry):
    grid = expand(load_spec("real-smoke"), registry)
    assert {c.dataset.name for c in grid.cells} == {"drosophila-wings", "cephalometric-hamedan", "dlc-reaching"}
    assert {c.architecture.name for c in grid.cells} == {"mean-shape", "smp-unet", "fc-regression"}
    assert len(grid.cells) == 27 and grid.protocol.input_size == 64 and grid.protocol.batch_size == 4


@pytest.mark.slow
@needs_shared
def test_the_heatmap_unet_beats_the_mean_shape_on_the_fly_wings(registry, tmp_path, monkeypatch):
    """The real-smoke grid's promise, on its cheapest dataset and one fold (about half a minute)."""
    monkeypatch.setenv("BENCHSUITE_CACHE", str(tmp_path))
    grid = expand(load_spec("real-smoke"), registry, {"datasets": "drosophila-wings"})
    cells = {c.architecture.name: c for c in grid.cells if c.fold == 0}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        scores = {}
        for name in ("mean-shape", "smp-unet"):
            _, table = compute_cell(cells[name], registry)
            scores[name] = np.hypot(table.pred_x - table.x, table.pred_y - table.y).groupby(table.image_id).mean().mean()
    finally:
        torch.set_num_threads(threads)
    assert scores["smp-unet"] < 0.75 * scores["mean-shape"], scores
