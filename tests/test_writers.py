"""Writing landmarks in the formats labs correct them in, read back by the suite's own readers.

Every writer must be its reader's exact inverse: sub-pixel coordinates come
back within 0.01 px, missing landmarks come back missing, on non-square
images (a y flip with the wrong side would show). Writing is atomic, stays
in the folder it is given and never replaces a file unless told to.
"""
from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import landmark_files as lf
import numpy as np
import pytest
from benchsuite_builtin.datasets.folder import FolderDataset
from benchsuite_builtin.datasets.formats import writing
from benchsuite_builtin.datasets.manifest import default_root
from PIL import Image

from benchsuite.api import PluginError, Sample, contract_problems

FORMATS = ("tps", "labelme", "dlc", "coco", "csv")
NAMES = ["tip", "base", "notch"]
SHARED = default_root("shared")
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared datasets not found at {SHARED}")


@pytest.fixture
def dataset(tmp_path):
    """Three non-square images of different formats; sub-pixel points, one landmark missing, points on the edges."""
    folder = tmp_path / "photos"
    images = {"wing1": lf.image(folder / "wing1.png", 40, 30),
              "wing2": lf.image(folder / "wing2.jpg", 36, 50, mode="RGB", seed=1),
              "wing3": lf.image(folder / "wing3.tif", 64, 20, seed=2)}
    landmarks = {"wing1": [[1.25, 2.5], [np.nan, np.nan], [-0.3, 29.4]],  # missing; left of the first pixel centre
                 "wing2": [[10.123, 20.456], [35.49, -0.49], [17.0, 49.5]],  # top and bottom edges
                 "wing3": [[0.0, 0.0], [63.5, 19.5], [31.7, 9.01]]}
    records = [Sample(key, np.array(points), Image.open(images[key]).size) for key, points in landmarks.items()]
    return records, images


def _read_back(path, format, images_folder=None, **params):
    """{image stem: landmarks} as the suite's own reader sees the written files."""
    reader = FolderDataset(str(path), format=format, images=str(images_folder) if images_folder else None, **params)
    return reader, {Path(s.id).name: s.landmarks for s in reader.samples()}


def _assert_same(records, read):
    assert sorted(read) == sorted(r.id for r in records)
    for record in records:
        expected, got = record.landmarks, read[record.id]
        assert np.array_equal(np.isnan(got), np.isnan(expected)), record.id
        np.testing.assert_allclose(got[~np.isnan(expected)], expected[~np.isnan(expected)], atol=0.01, rtol=0)


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


@pytest.mark.parametrize("format", FORMATS)
def test_written_landmarks_read_back_within_a_hundredth_of_a_pixel_and_missing_stays_missing(tmp_path, dataset, format):
    records, images = dataset
    out = tmp_path / "out"
    written = FolderDataset.write_landmarks(format, records, NAMES, out, images)
    assert written and all(p.is_file() and p.resolve().is_relative_to(out.resolve()) for p in written)
    assert _files(out) == set(written)  # no temporary file left behind
    reader, read = _read_back(out, format, tmp_path / "photos", landmark_names=NAMES)
    assert reader.loaded().format == format and reader.landmark_names == NAMES
    _assert_same(records, read)
    # TPS has no landmark names (numbered), LabelMe no landmark order (its reader sorts the labels); the others keep both.
    untold = FolderDataset(str(out), format=format, images=str(tmp_path / "photos")).landmark_names
    assert untold == {"tps": ["L1", "L2", "L3"], "labelme": sorted(NAMES)}.get(format, NAMES)


@pytest.mark.parametrize("format", ["coco", "csv"])
def test_written_files_name_their_images_relative_to_themselves(tmp_path, dataset, format):
    """Read back with no image folder given: the written image references alone find the images
    (the TPS and LabelMe readers pair by image name, so they are read with their image folder).
    The images lie outside the annotations' folder, so reading them is the user's explicit choice."""
    records, images = dataset
    out = tmp_path / "elsewhere" / "out"
    FolderDataset.write_landmarks(format, records, NAMES, out, images)
    with pytest.raises(PluginError, match="outside the dataset folder"):
        _read_back(out, format, landmark_names=NAMES)
    _assert_same(records, _read_back(out, format, landmark_names=NAMES, allow_outside=True)[1])


def test_labelme_files_written_beside_the_images_open_with_them(tmp_path, dataset):
    records, images = dataset
    written = FolderDataset.write_landmarks("labelme", records, NAMES, tmp_path / "photos", images)
    assert sorted(p.name for p in written) == ["wing1.json", "wing2.json", "wing3.json"]
    data = json.loads((tmp_path / "photos" / "wing2.json").read_text())
    assert data["imagePath"] == "wing2.jpg" and data["imageData"] is None and data["version"].startswith("5.")
    assert (data["imageWidth"], data["imageHeight"]) == (36, 50)
    assert {s["shape_type"] for s in data["shapes"]} == {"point"} and all(s["group_id"] is None for s in data["shapes"])
    labels = [s["label"] for s in json.loads((tmp_path / "photos" / "wing1.json").read_text())["shapes"]]
    assert labels == ["tip", "notch"]  # the missing "base" is omitted
    _assert_same(records, _read_back(tmp_path / "photos", "labelme", landmark_names=NAMES)[1])


def test_tps_counts_y_from_the_bottom_edge_and_writes_missing_as_tpsdig_does(tmp_path, dataset):
    records, images = dataset
    [path] = FolderDataset.write_landmarks("tps", records, NAMES, tmp_path / "out", images)
    lines = path.read_bytes().decode().split("\r\n")
    assert lines[:7] == ["LM=3", "1.25000 27.50000", "-1.00000 -1.00000", "-0.30000 0.60000",
                         "IMAGE=../photos/wing1.png", "ID=0", "COMMENT=predicted by benchsuite: delete this line "
                         "once proofread"]
    assert lines[7:10] == ["LM=3", "10.12300 29.54400", "35.49000 50.49000"]  # height 50: y = 50 - y_image


def test_dlc_writes_the_layout_deeplabcut_projects_use(tmp_path, dataset):
    records, images = dataset
    video = tmp_path / "project" / "labeled-data" / "session1"
    path, *frames = FolderDataset.write_landmarks("dlc", records, NAMES, video, images, annotator="Ana")
    assert path == video / "CollectedData_Ana.csv"
    assert frames == [video / "wing1.png", video / "wing2.jpg", video / "wing3.tif"]  # the GUI shows these only
    assert not (tmp_path / "project" / "config.yaml").exists()  # never written outside the folder given
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["scorer"] + ["Ana"] * 6
    assert rows[1] == ["bodyparts", "tip", "tip", "base", "base", "notch", "notch"]
    assert rows[2] == ["coords"] + ["x", "y"] * 3
    assert rows[3] == ["labeled-data/session1/wing1.png", "1.25", "2.5", "", "", "-0.3", "29.4"]
    assert [r[0] for r in rows[4:]] == ["labeled-data/session1/wing2.jpg", "labeled-data/session1/wing3.tif"]


def test_dlc_in_a_project_folder_writes_per_video_with_the_projects_scorer(tmp_path, dataset):
    records, images = dataset
    project = tmp_path / "Reaching-Ana-2024"
    project.mkdir()
    (project / "config.yaml").write_text("Task: Reaching\nscorer: Ana  # who labels\ndate: Jan1\n")
    path, *frames = FolderDataset.write_landmarks("dlc", records, NAMES, project, images)
    assert path == project / "labeled-data" / "photos" / "CollectedData_Ana.csv" and len(frames) == 3
    assert "Reaching" in (project / "config.yaml").read_text()  # the project's own config is left alone
    assert [s.id for s in FolderDataset(str(project), format="dlc", images=str(tmp_path / "photos")).samples()] == \
        ["photos/wing1", "photos/wing2", "photos/wing3"]


def test_coco_marks_missing_keypoints_unlabelled(tmp_path, dataset):
    records, images = dataset
    [path] = FolderDataset.write_landmarks("coco", records, NAMES, tmp_path / "out", images, annotator="model A")
    data = json.loads(path.read_text())
    assert data["categories"][0]["keypoints"] == NAMES and data["info"]["contributor"] == "model A"
    first = data["annotations"][0]
    assert first["keypoints"] == [1.25, 2.5, 2, 0, 0, 0, -0.3, 29.4, 2] and first["num_keypoints"] == 2
    assert first["image_id"] == data["images"][0]["id"] and data["images"][0]["file_name"] == "../photos/wing1.png"
    assert (data["images"][1]["width"], data["images"][1]["height"]) == (36, 50)


@pytest.mark.parametrize("format", FORMATS)
def test_an_existing_file_is_never_overwritten_unless_asked(tmp_path, dataset, format):
    records, images = dataset
    out = tmp_path / "out"
    written = FolderDataset.write_landmarks(format, records, NAMES, out, images)
    before = {p: p.read_bytes() for p in written}
    moved = [Sample(r.id, r.landmarks + 1.5, r.size) for r in records]
    with pytest.raises(PluginError) as raised:
        FolderDataset.write_landmarks(format, moved, NAMES, out, images)
    assert str(written[0]) in str(raised.value) and "already exists" in str(raised.value)
    assert "\n" not in str(raised.value)
    assert {p: p.read_bytes() for p in written} == before and _files(out) == set(written)
    rewritten = FolderDataset.write_landmarks(format, moved, NAMES, out, images, overwrite=True)
    assert written[0] in rewritten and set(rewritten) <= set(written)  # copied frames already there stay
    _assert_same(moved, _read_back(out, format, tmp_path / "photos", landmark_names=NAMES)[1])


def test_one_existing_file_stops_the_whole_write(tmp_path, dataset):
    records, images = dataset
    out = tmp_path / "out"
    out.mkdir()
    (out / "wing2.json").write_text("{}")
    with pytest.raises(PluginError, match=r"wing2\.json: already exists"):
        FolderDataset.write_landmarks("labelme", records, NAMES, out, images)
    assert _files(out) == {out / "wing2.json"}


def test_writing_stays_inside_the_folder_it_is_given(tmp_path, dataset):
    records, images = dataset
    outside = tmp_path / "outside"
    outside.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    (project / "labeled-data").symlink_to(outside, target_is_directory=True)  # a link pointing out of the folder
    with pytest.raises(PluginError, match="outside the folder"):
        FolderDataset.write_landmarks("dlc", records, NAMES, project, images)
    with pytest.raises(PluginError, match="scorer"):
        FolderDataset.write_landmarks("dlc", records, NAMES, tmp_path / "out", images, annotator="../../evil")
    with pytest.raises(PluginError, match="outside the folder"):
        writing.commit(tmp_path / "out", {"../escaped.txt": "x"}, overwrite=True)
    assert _files(outside) == set() and not (tmp_path / "escaped.txt").exists() and not (tmp_path / "out").exists()


def _hostile(records, images, tmp_path):
    first, *rest = records
    return {
        "wrong landmark count": ([Sample(first.id, first.landmarks[:2], first.size), *rest], images, "shape"),
        "infinite coordinate": ([Sample(first.id, np.array([[math.inf, 1.0]] * 3), first.size), *rest], images,
                                "infinite"),
        "no image for a sample": (records, {k: v for k, v in images.items() if k != "wing2"}, "no image file given"),
        "image not there": (records, {**images, "wing1": tmp_path / "gone.png"}, "gone.png: no such image"),
        "wrong image size": ([Sample(first.id, first.landmarks, (30, 40)), *rest], images, "is 40×30 but"),
        "sample twice": ([first, first], images, "given twice"),
        "no records": ([], images, "no landmarks to write"),
    }


@pytest.mark.parametrize("case", ["wrong landmark count", "infinite coordinate", "no image for a sample",
                                  "image not there", "wrong image size", "sample twice", "no records"])
def test_bad_input_is_one_line_naming_the_problem_and_nothing_is_written(tmp_path, dataset, case):
    records, images = dataset
    given, image_files, message = _hostile(records, images, tmp_path)[case]
    for format in FORMATS:
        with pytest.raises(PluginError, match=message) as raised:
            FolderDataset.write_landmarks(format, given, NAMES, tmp_path / "out", image_files)
        assert "\n" not in str(raised.value)
    assert not (tmp_path / "out").exists()


def test_images_the_format_could_not_tell_apart_are_refused(tmp_path, dataset):
    records, images = dataset
    twin = lf.image(tmp_path / "other" / "wing1.png", 40, 30, seed=5)
    doubled = [*records, Sample("other/wing1", records[0].landmarks, records[0].size)]
    for format in ("tps", "labelme", "coco", "csv"):
        with pytest.raises(PluginError, match=r"wing1\.png .*separate folders"):
            FolderDataset.write_landmarks(format, doubled, NAMES, tmp_path / "out", {**images, "other/wing1": twin})
    # DeepLabCut names frames by video folder too: these two are apart.
    written = FolderDataset.write_landmarks("dlc", doubled, NAMES, tmp_path / "dlc", {**images, "other/wing1": twin})
    assert len([p for p in written if p.suffix == ".csv"]) == 2


def test_labelme_refuses_images_it_would_show_turned(tmp_path, dataset):
    records, images = dataset
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° on display
    Image.open(images["wing2"]).save(images["wing2"], exif=exif)
    with pytest.raises(PluginError, match=r"wing2\.jpg: EXIF orientation 6"):
        FolderDataset.write_landmarks("labelme", records, NAMES, tmp_path / "out", images)
    assert FolderDataset.write_landmarks("tps", records, NAMES, tmp_path / "out", images)  # tpsDig does not turn it


def test_unknown_format_and_the_contract(tmp_path, dataset):
    records, images = dataset
    with pytest.raises(PluginError, match=r"cannot write format 'xml' \(writes: tps, labelme, dlc, coco, csv\)"):
        FolderDataset.write_landmarks("xml", records, NAMES, tmp_path / "out", images)
    assert FolderDataset.writes == FORMATS
    assert contract_problems("datasets", FolderDataset) == []

    class OldWriter(FolderDataset):  # a writer that cannot be told to overwrite or who the annotator is
        @classmethod
        def write_landmarks(cls, format, records, landmark_names, path, images):
            return []

    signature = "(signature write_landmarks(format, records, landmark_names, path, images))"
    assert contract_problems("datasets", OldWriter) == [
        f"method write_landmarks() must accept parameter {name!r} {signature}" for name in ("overwrite", "annotator")]


# --- the shared real datasets ---------------------------------------------------


@needs_shared
def test_fly_wing_tps_round_trip_gives_back_tpsdigs_own_numbers(tmp_path):
    """ml-morph's 58 wings: read, write, read again; the written coordinates are the original file's."""
    original = SHARED / "drosophila_wings_mlmorph"
    reader = FolderDataset(str(original), format="tps")
    samples = reader.samples()
    [path] = FolderDataset.write_landmarks("tps", samples, reader.landmark_names, tmp_path, reader.loaded().images)
    _assert_same(samples, _read_back(tmp_path, "tps", original / "image-examples")[1])
    assert _coordinates(path) == _coordinates(original / "landmark-examples" / "tps-example.tps")


def _coordinates(path: Path) -> list[tuple[float, float]]:
    return [tuple(map(float, line.split())) for line in path.read_text().splitlines()
            if line.strip() and "=" not in line]


@needs_shared
def test_deeplabcut_project_round_trip_writes_deeplabcuts_own_table(tmp_path):
    """The Reaching example: the written CollectedData CSV is the project's, cell for cell (missing parts included)."""
    original = SHARED / "dlc_reaching_mackenzie"
    reader = FolderDataset(str(original), format="dlc")
    samples = reader.samples()
    shutil.copy(original / "config.yaml", tmp_path / "config.yaml")  # the scorer comes from the project
    written = FolderDataset.write_landmarks("dlc", samples, reader.landmark_names, tmp_path, reader.loaded().images)
    [path] = [p for p in written if p.suffix == ".csv"]
    assert path.relative_to(tmp_path).as_posix() == "labeled-data/reachingvideo1/CollectedData_Mackenzie.csv"
    again = FolderDataset(str(tmp_path), format="dlc", images=str(original / "labeled-data"))
    assert [s.id for s in again.samples()] == [s.id for s in samples]
    _assert_same(samples, {s.id: s.landmarks for s in again.samples()})
    ours, theirs = _table(path), _table(original / "labeled-data" / "reachingvideo1" / "CollectedData_Mackenzie.csv")
    assert ours[:3] == theirs[:3]  # scorer, bodyparts, coords
    assert sorted(ours[3:]) == sorted(theirs[3:])


def _table(path: Path) -> list[list]:
    rows = list(csv.reader(path.open()))
    return rows[:3] + [[r[0]] + [float(v) if v else None for v in r[1:]] for r in rows[3:]]


@pytest.mark.parametrize("format,unmark", [
    ("tps", lambda f: f.write_text("".join(l for l in f.read_text().splitlines(True) if not l.startswith("COMMENT=")))),
    ("labelme", lambda f: f.write_text(f.read_text().replace(": true", ": false"))),
    ("coco", lambda f: f.write_text(f.read_text().replace("predicted by benchsuite", "proofread by Ana"))),
    ("dlc", lambda f: f.write_text(f.read_text().replace("benchsuite", "Ana"))),
])
def test_written_predictions_read_back_marked_until_the_mark_is_removed(tmp_path, dataset, format, unmark):
    """What the suite writes is never taken for annotations: each format marks it where its tool keeps such a
    note (a TPS COMMENT=, a LabelMe flag to untick, the COCO description, DeepLabCut's scorer)."""
    records, images = dataset
    out = tmp_path / "out"
    written = FolderDataset.write_landmarks(format, records, NAMES, out, images)
    reader, _ = _read_back(out, format, tmp_path / "photos", landmark_names=NAMES)
    assert reader.predicted_ids() == {s.id for s in reader.samples()} and len(reader.samples()) == 3
    assert "3 of 3 images hold benchsuite's predictions" in reader.check().notes["not proofread"]
    for path in written:
        if path.suffix in (".tps", ".json", ".csv"):  # not DeepLabCut's copied frames
            unmark(path)
    reader, _ = _read_back(out, format, tmp_path / "photos", landmark_names=NAMES)
    assert reader.predicted_ids() == frozenset() and "not proofread" not in reader.check().notes
