"""Each landmark format and image kind, read from real files written as the tools write them."""
from __future__ import annotations

import landmark_files as lf
import numpy as np
import pytest
from benchsuite_builtin.datasets.folder import FolderDataset, inter_annotator_mre
from benchsuite_builtin.datasets.formats.imagefiles import read_image
from PIL import Image

from benchsuite.api import PluginError
from benchsuite.train.images import to_channels


def _samples(path, **params):
    dataset = FolderDataset(str(path), **params)
    return dataset, {s.id: s for s in dataset.samples()}


# --- TPS ----------------------------------------------------------------------


def test_tps_flips_y_from_the_bottom_and_reads_scale(tmp_path):
    lf.image(tmp_path / "wing.jpg", 50, 40)
    lf.tps(tmp_path / "wings.tps", [("wing.jpg", [(10, 5), (20.5, 30.25)])], scale=0.01)
    dataset, samples = _samples(tmp_path)
    np.testing.assert_allclose(samples["wing"].landmarks, [[10, 35], [20.5, 9.75]])
    assert samples["wing"].size == (50, 40) and dataset.pixel_size_mm == 0.01
    assert dataset.landmark_names == ["L1", "L2"]
    _, top = _samples(tmp_path, y_origin="top")
    np.testing.assert_allclose(top["wing"].landmarks, [[10, 5], [20.5, 30.25]])


def test_tps_pairs_by_image_name_not_by_listing_order(tmp_path):
    """Blocks in one order, files sorting in another, different sizes: each block lands on its image."""
    sizes = {"c": (30, 20), "a": (60, 50), "b": (45, 35)}
    for stem, (w, h) in sizes.items():
        lf.image(tmp_path / f"{stem}.png", w, h)
    # Windows paths and upper-case suffixes, as tpsUtil writes them.
    lf.tps(tmp_path / "lm.tps", [("C:\\scans\\c.PNG", [(1, 2)]), ("b.png", [(3, 4)]), ("a.png", [(5, 6)])])
    _, samples = _samples(tmp_path)
    for stem, y_written, x in (("c", 2, 1), ("b", 4, 3), ("a", 6, 5)):
        assert samples[stem].size == sizes[stem]
        np.testing.assert_allclose(samples[stem].landmarks, [[x, sizes[stem][1] - y_written]])


def test_a_lone_annotation_file_finds_the_images_in_a_sibling_folder(tmp_path):
    lf.image(tmp_path / "image-examples" / "w1.jpg", 30, 20)
    lf.tps(tmp_path / "landmark-examples" / "w.tps", [("w1.jpg", [(3, 4)])])
    _, samples = _samples(tmp_path / "landmark-examples" / "w.tps")
    assert samples["w1"].landmarks.tolist() == [[3, 16]]


def test_tps_skips_curves_and_reads_missing_values(tmp_path):
    lf.image(tmp_path / "a.png", 20, 20)
    lf.image(tmp_path / "b.png", 20, 20)  # a landmark missing in every image would be an error of its own
    (tmp_path / "a.tps").write_text("LM=2\r\n1 2\r\nNA NA\r\nCURVES=1\r\nPOINTS=2\r\n5 5\r\n6 6\r\nIMAGE=a.png\r\n"
                                    "LM=2\r\n3 4\r\n5 6\r\nIMAGE=b.png\r\n")
    _, samples = _samples(tmp_path)
    assert np.isnan(samples["a"].landmarks[1]).all() and samples["a"].landmarks[0].tolist() == [1, 18]


def test_tps_reads_tpsdig_negative_coordinates_as_missing_but_keeps_a_point_left_of_the_first_pixel_centre(tmp_path):
    """tpsDig writes a missing landmark as -1 -1 (geomorph's negNA); x = -0.3 is still inside the image."""
    lf.image(tmp_path / "a.png", 20, 10)
    (tmp_path / "a.tps").write_text("LM=3\r\n-1.00000 -1.00000\r\n-0.30000 4.00000\r\n-2 3\r\nIMAGE=a.png\r\nID=0\r\n")
    _, samples = _samples(tmp_path, outside="keep")
    points = samples["a"].landmarks
    assert np.isnan(points[0]).all() and points[1].tolist() == [-0.3, 6] and points[2].tolist() == [-2, 7]


# --- DeepLabCut ---------------------------------------------------------------


def test_dlc_csv_reads_body_parts_paths_and_empty_cells(tmp_path):
    video = tmp_path / "labeled-data" / "video1"
    lf.image(video / "img001.png", 40, 30, mode="RGB")
    lf.image(video / "img002.png", 40, 30, mode="RGB", seed=1)
    lf.dlc_csv(video / "CollectedData_Ann.csv", ["snout", "tail"], {
        "labeled-data/video1/img002.png": [1, 2, None, None],
        "labeled-data/video1/img001.png": [3, 4, 5, 6],
    })
    (tmp_path / "config.yaml").write_text("scorer: Ann\n")
    dataset, samples = _samples(tmp_path)
    assert dataset.landmark_names == ["snout", "tail"] and dataset.loaded().format == "dlc"
    np.testing.assert_allclose(samples["video1/img001"].landmarks, [[3, 4], [5, 6]])
    assert samples["video1/img002"].landmarks[0].tolist() == [1, 2] and np.isnan(samples["video1/img002"].landmarks[1]).all()


def test_dlc_csv_with_three_index_columns(tmp_path):
    """DeepLabCut >= 2.3 splits the frame path over three index columns."""
    video = tmp_path / "labeled-data" / "v"
    lf.image(video / "f.png", 20, 20)
    (video / "CollectedData_B.csv").write_text(
        "scorer,,,B,B\nbodyparts,,,eye,eye\ncoords,,,x,y\nlabeled-data,v,f.png,7.5,8.5\n")
    _, samples = _samples(tmp_path)
    np.testing.assert_allclose(samples["v/f"].landmarks, [[7.5, 8.5]])


def test_dlc_h5_without_pytables_says_what_to_install(tmp_path):
    pytest.importorskip("pandas")
    try:
        import tables  # noqa: F401
        pytest.skip("PyTables is installed: the .h5 is readable")
    except ImportError:
        pass
    video = tmp_path / "labeled-data" / "v"
    lf.image(video / "f.png", 20, 20)
    (video / "CollectedData_B.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    report = FolderDataset(str(tmp_path)).check()
    assert any("needs PyTables (pip install tables)" in p.message and p.where.endswith(".h5") for p in report.errors)


# --- COCO ---------------------------------------------------------------------


def test_coco_visibility_zero_is_missing_and_names_come_from_the_category(tmp_path):
    lf.image(tmp_path / "images" / "m1.jpg", 32, 24)
    lf.image(tmp_path / "images" / "m2.jpg", 32, 24)  # a landmark missing in every image would be an error
    lf.coco(tmp_path / "keypoints.json", ["nose", "ear", "tail"],
            [{"id": 7, "file_name": "m1.jpg", "width": 32, "height": 24},
             {"id": 8, "file_name": "m2.jpg", "width": 32, "height": 24}],
            [{"id": 1, "image_id": 7, "category_id": 1, "keypoints": [3, 4, 2, 0, 0, 0, 10, 11, 1]},
             {"id": 2, "image_id": 8, "category_id": 1, "keypoints": [3, 4, 2, 5, 6, 2, 10, 11, 1]}])
    dataset, samples = _samples(tmp_path)
    assert dataset.landmark_names == ["nose", "ear", "tail"]
    points = samples["m1"].landmarks
    assert points[0].tolist() == [3, 4] and np.isnan(points[1]).all() and points[2].tolist() == [10, 11]


def test_coco_with_two_instances_on_one_image_is_an_error_not_a_guess(tmp_path):
    lf.image(tmp_path / "a.png", 20, 20)
    lf.coco(tmp_path / "k.json", ["p"], [{"id": 1, "file_name": "a.png", "width": 20, "height": 20}],
            [{"id": 1, "image_id": 1, "category_id": 1, "keypoints": [1, 1, 2]},
             {"id": 2, "image_id": 1, "category_id": 1, "keypoints": [5, 5, 2]}])
    with pytest.raises(PluginError, match=r"k\.json image 'a\.png'.*2 keypoint annotations for one image"):
        FolderDataset(str(tmp_path)).samples()


# --- LabelMe ------------------------------------------------------------------


def test_labelme_pairs_by_file_stem_and_orders_labels_naturally(tmp_path):
    lf.image(tmp_path / "pictures" / "001.png", 30, 30)
    lf.labelme(tmp_path / "ann" / "001.json", [("l10", 1, 1), ("l2", 2, 2), ("l1", 3, 3)], (30, 30), "1.tif")
    dataset, samples = _samples(tmp_path)
    assert dataset.landmark_names == ["l1", "l2", "l10"]
    np.testing.assert_allclose(samples["001"].landmarks, [[3, 3], [2, 2], [1, 1]])


def test_labelme_duplicate_label_becomes_missing_with_a_warning(tmp_path):
    for stem in ("a", "b"):
        lf.image(tmp_path / f"{stem}.png", 30, 30)
    lf.labelme(tmp_path / "a.json", [("p1", 1, 1), ("p2", 2, 2)], (30, 30), "a.png")
    lf.labelme(tmp_path / "b.json", [("p1", 1, 1), ("p1", 9, 9), ("p2", 2, 2)], (30, 30), "b.png")
    dataset = FolderDataset(str(tmp_path))
    report = dataset.check()
    assert not report.errors
    assert [(p.where.endswith("b.json"), "'p1' appears 2 times" in p.message) for p in report.warnings] == [(True, True)]
    b = {s.id: s for s in dataset.samples()}["b"]
    assert np.isnan(b.landmarks[0]).all() and b.landmarks[1].tolist() == [2, 2]


def test_several_annotator_folders_make_an_annotator_parameter(tmp_path):
    lf.image(tmp_path / "pictures" / "1.png", 30, 30)
    lf.image(tmp_path / "pictures" / "2.png", 30, 30, seed=1)
    for stem in ("1", "2"):
        lf.labelme(tmp_path / "by_ann" / f"{stem}.json", [("a", 10, 10), ("b", 20, 20)], (30, 30), f"{stem}.png")
        lf.labelme(tmp_path / "by_bob" / f"{stem}.json", [("a", 13, 14), ("b", 20, 20)], (30, 30), f"{stem}.png")
    default = FolderDataset(str(tmp_path)).check()
    assert default.notes["annotators"] == "by_ann, by_bob (ground truth: by_ann)"
    # 5 px on landmark a, 0 on b: 2.5 px per image
    assert default.notes["inter-annotator MRE (by_bob vs by_ann)"].startswith("2.50 px over 2 images")
    assert FolderDataset(str(tmp_path)).human_error() == pytest.approx(2.5)  # the reports' human reference
    assert FolderDataset(str(tmp_path / "by_ann"), images=str(tmp_path / "pictures")).human_error() is None
    _, bob = _samples(tmp_path, annotator="bob")
    assert bob["1"].landmarks[0].tolist() == [13, 14]
    with pytest.raises(PluginError, match="annotator 'carol' not found"):
        FolderDataset(str(tmp_path), annotator="carol").samples()


def test_human_error_is_the_inter_annotator_mre_and_none_with_one_annotator(tmp_path):
    folder = lf.two_annotator_folder(tmp_path / "two", n=3)
    assert FolderDataset(str(folder)).human_error() == pytest.approx(2.5)  # 5 px on a, 0 on b
    assert FolderDataset(str(folder), annotator="bob").human_error() == pytest.approx(2.5)
    assert FolderDataset(str(lf.tps_folder(tmp_path / "one"))).human_error() is None


def test_inter_annotator_mre_skips_landmarks_missing_on_either_side():
    truth = {"x": np.array([[0.0, 0.0], [np.nan, np.nan]]), "y": np.array([[0.0, 0.0], [1.0, 1.0]])}
    other = {"x": np.array([[3.0, 4.0], [7.0, 7.0]]), "y": np.array([[0.0, 6.0], [1.0, 1.0]])}
    assert inter_annotator_mre(truth, other) == (4.0, 2)  # x: 5; y: (6 + 0) / 2 = 3


# --- plain tables and per-image text files -------------------------------------


def test_wide_csv_with_named_columns_and_semicolons(tmp_path):
    lf.image(tmp_path / "p.bmp", 20, 20)
    lf.image(tmp_path / "q.bmp", 20, 20)  # a landmark missing in every image would be an error
    (tmp_path / "marks.csv").write_text("file;snout_x;snout_y;eye_x;eye_y\np.bmp;1;2;;\nq.bmp;1;2;3;4\n")
    dataset, samples = _samples(tmp_path)
    assert dataset.landmark_names == ["snout", "eye"]
    assert samples["p"].landmarks[0].tolist() == [1, 2] and np.isnan(samples["p"].landmarks[1]).all()


def test_wide_csv_without_header_and_long_csv(tmp_path):
    wide, long = tmp_path / "wide", tmp_path / "long"
    for folder in (wide, long):
        lf.image(folder / "a.tif", 20, 20)
        lf.image(folder / "b.tif", 20, 20, seed=1)
    (wide / "lm.csv").write_text("b.tif,1,2,3,4\na.tif,5,6,7,8\n")
    (long / "lm.csv").write_text("image,landmark,x,y\na.tif,tip,1,2\nb.tif,tip,3,4\na.tif,base,5,6\nb.tif,base,7,8\n")
    dataset, samples = _samples(wide)
    assert dataset.landmark_names == ["L1", "L2"] and samples["a"].landmarks.tolist() == [[5, 6], [7, 8]]
    dataset, samples = _samples(long)
    assert dataset.landmark_names == ["tip", "base"] and samples["b"].landmarks.tolist() == [[3, 4], [7, 8]]


def test_per_image_text_files_as_the_fish_datasets_ship_them(tmp_path):
    lf.image(tmp_path / "fish1.jpg", 40, 20)
    lf.image(tmp_path / "fish2.jpg", 40, 20, seed=1)
    (tmp_path / "fish1.txt").write_text("1.5 2.5\n3 4\n")
    (tmp_path / "fish2.txt").write_text("# x;y\n5;6\n7;8\n")
    (tmp_path / "notes.txt").write_text("not landmarks\n")
    dataset, samples = _samples(tmp_path)
    assert dataset.loaded().format == "points"
    assert samples["fish1"].landmarks.tolist() == [[1.5, 2.5], [3, 4]] and samples["fish2"].landmarks.tolist() == [[5, 6], [7, 8]]


def test_detection_prefers_tps_over_its_csv_export_and_says_so(tmp_path):
    lf.tps_folder(tmp_path)
    (tmp_path / "export.csv").write_text("id,X1,Y1\nimg0.png,1,2\n")
    report = FolderDataset(str(tmp_path)).check()
    assert report.format == "tps" and not report.errors
    assert "1 csv file(s) found but not used" in report.warnings[0].message


# --- images -------------------------------------------------------------------


def test_16_bit_tiff_is_scaled_not_clipped(tmp_path):
    pixels = np.array([[0, 1000], [2000, 4000]], dtype=np.uint16)
    Image.fromarray(pixels).save(tmp_path / "deep.tif")
    image = read_image(tmp_path / "deep.tif")
    assert image.dtype == np.uint16 and image.max() == 4000
    converted = to_channels(image, 1)[:, :, 0]
    assert converted.tolist() == [[0, 64], [128, 255]]  # clipping would give [[0, 255], [255, 255]]


@pytest.mark.parametrize("mode,suffix", [("RGBA", ".png"), ("P", ".png"), ("1", ".bmp"), ("L", ".jpg"),
                                         ("RGB", ".tiff"), ("LA", ".png"), ("CMYK", ".jpg")])
def test_every_image_mode_becomes_the_networks_channels(tmp_path, mode, suffix):
    path = lf.image(tmp_path / f"x{suffix}", 9, 7, mode=mode)
    image = read_image(path)
    assert image.shape[:2] == (7, 9)
    for channels in (1, 3):
        assert to_channels(image, channels).shape == (7, 9, channels)


def test_palette_image_keeps_its_colours(tmp_path):
    rgb = Image.new("RGB", (4, 2), (200, 10, 30))
    rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(tmp_path / "pal.png")
    assert read_image(tmp_path / "pal.png")[0, 0].tolist() == [200, 10, 30]
