"""Bad input: a one-line message naming the file and the problem, never a traceback, nothing lost.

Each test writes a real malformed file into an otherwise valid dataset and
runs ``benchsuite datasets check`` on it: errors give exit code 1 (2 when
nothing at all can be read) with one stderr line each; warnings keep 0.
"""
from __future__ import annotations

import subprocess
import sys

import landmark_files as lf
import numpy as np
import pytest
from benchsuite_builtin.datasets.folder import FolderDataset

from benchsuite.api import PluginError
from benchsuite.cli import main
from benchsuite.protocol import load_protocol
from benchsuite.train.inputs import prepare


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHSUITE_CACHE", str(tmp_path / "cache"))  # never the user's ~/.cache


def check(capsys, path, *options):
    code = main(["datasets", "check", str(path), *options])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err.splitlines()


def usable(out: str) -> int:
    return int(next(line for line in out.splitlines() if line.startswith("images:")).split()[1])


def test_corrupt_image_is_named_and_the_others_are_still_reported(tmp_path, capsys):
    lf.tps_folder(tmp_path, n=4)
    (tmp_path / "img2.png").write_bytes(b"this is not a PNG at all")
    code, out, err = check(capsys, tmp_path)
    assert code == 1 and usable(out) == 3
    assert len(err) == 1 and err[0].startswith(f"benchsuite: error: {tmp_path / 'img2.png'}: not a readable image")


def test_truncated_jpeg_is_caught_by_check_and_fails_training_naming_the_file(tmp_path, capsys):
    lf.tps_folder(tmp_path, n=3)
    lf.image(tmp_path / "img1.jpg", 40, 30, mode="RGB")
    (tmp_path / "img1.png").unlink()
    data = (tmp_path / "img1.jpg").read_bytes()
    (tmp_path / "img1.jpg").write_bytes(data[: len(data) // 2])  # the header survives: the size reads fine
    code, out, err = check(capsys, tmp_path)
    assert code == 1 and usable(out) == 2
    assert err == [f"benchsuite: error: {tmp_path / 'img1.jpg'}: cannot decode image (image file is truncated)"] or (
        len(err) == 1 and f"{tmp_path / 'img1.jpg'}: cannot decode image" in err[0])
    dataset = FolderDataset(str(tmp_path))
    with pytest.raises(PluginError, match=r"img1\.jpg: cannot decode image"):
        prepare(dataset, dataset.samples(), load_protocol("smoke", {"input_size": 16}))


def test_image_without_annotation_and_annotation_without_image(tmp_path, capsys):
    lf.tps_folder(tmp_path, n=3)
    lf.image(tmp_path / "stray.png", 40, 30)
    (tmp_path / "img1.png").unlink()
    code, out, err = check(capsys, tmp_path)
    assert code == 1 and usable(out) == 2
    assert sorted(err) == [
        f"benchsuite: error: {tmp_path / 'landmarks.tps'} line 7 (IMAGE=img1.png): annotation without image: no image file for 'img1.png'",
        f"benchsuite: error: {tmp_path / 'stray.png'}: image without annotation (pass unannotated=ignore to skip such images)",
    ]
    code, out, _ = check(capsys, tmp_path, "--param", "unannotated=ignore")
    assert code == 1 and usable(out) == 2  # the missing image is still an error


def test_wrong_number_of_landmarks_on_one_image(tmp_path, capsys):
    for i in range(3):
        lf.image(tmp_path / f"f{i}.png", 20, 20, seed=i)
    (tmp_path / "marks.csv").write_text("f0.png,1,2,3,4\nf1.png,1,2\nf2.png,5,6,7,8\n")
    code, out, err = check(capsys, tmp_path)
    assert code == 1 and usable(out) == 2
    assert err == [f"benchsuite: error: {tmp_path / 'marks.csv'} row 2 (f1.png): wrong number of landmarks: 1, "
                   "expected 2 (as in 2 other images)"]


def test_nan_and_empty_coordinates_are_missing_counted_and_reported(tmp_path, capsys):
    for i in range(3):
        lf.image(tmp_path / f"f{i}.png", 20, 20, seed=i)
    (tmp_path / "marks.csv").write_text("image,x1,y1,x2,y2\nf0.png,1,2,NaN,NaN\nf1.png,1,2,,\nf2.png,,,7,8\n")
    code, out, err = check(capsys, tmp_path)
    assert code == 0 and err == [] and usable(out) == 3
    assert "missing landmarks: 3 of 6 (L1 1, L2 2)" in out


def test_coordinates_outside_the_image_are_warned_kept_or_rejected(tmp_path, capsys):
    lf.tps_folder(tmp_path, n=3, size=(40, 30))
    lf.tps(tmp_path / "landmarks.tps", [("img0.png", [(5, 5), (50, 5)]), ("img1.png", [(5, 5), (6, 6)]),
                                        ("img2.png", [(5, 5), (6, 6)])])
    code, out, err = check(capsys, tmp_path)
    assert code == 0 and usable(out) == 3 and err == []
    assert "outside the 40×30 image: L2 (50, 25) (kept)" in out
    code, out, err = check(capsys, tmp_path, "--outside", "missing")
    assert code == 0 and "missing landmarks: 1 of 6 (L2 1)" in out
    code, out, err = check(capsys, tmp_path, "--outside", "error")
    assert code == 1 and usable(out) == 2 and "outside the 40×30 image" in err[0] and "landmarks.tps line 1" in err[0]


def test_duplicate_identifiers_reject_every_copy(tmp_path, capsys):
    lf.tps_folder(tmp_path, n=3)
    lf.tps(tmp_path / "landmarks.tps", [("img0.png", [(1, 1)]), ("img1.png", [(2, 2)]), ("img2.png", [(3, 3)]),
                                        ("img1.png", [(4, 4)])])
    code, out, err = check(capsys, tmp_path)
    assert code == 1 and usable(out) == 2 and len(err) == 2
    assert all("duplicate identifier 'img1'" in line for line in err)


def test_two_images_with_one_identifier_are_ambiguous(tmp_path, capsys):
    lf.tps_folder(tmp_path, n=2)
    lf.image(tmp_path / "img0.tif", 40, 30)
    code, out, err = check(capsys, tmp_path)
    assert code == 1 and usable(out) == 1 and "ambiguous image for 'img0'" in err[0]


def test_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, out, err = check(capsys, tmp_path / "empty")
    assert code == 2 and err == [f"benchsuite: error: {tmp_path / 'empty'}: empty folder (no images, no annotation files)"]


def test_images_but_no_annotation_file(tmp_path, capsys):
    lf.image(tmp_path / "a.png", 10, 10)
    code, _, err = check(capsys, tmp_path)
    assert code == 2 and len(err) == 1 and f"{tmp_path}: 1 images but no annotation files" in err[0]


@pytest.mark.parametrize("block,problem", [
    ("LM=three\n1 2\nIMAGE=img1.png\n", "line 6 (IMAGE=img1.png): unreadable TPS block: LM= expects a number of landmarks, got 'three'"),
    ("LM=2\n1 2\nIMAGE=img1.png\n", "line 6 (IMAGE=img1.png): unreadable TPS block: LM=2 but only 1 coordinate lines follow"),
    ("LM=2\n1 2\n3 four\nIMAGE=img1.png\n", "line 8 (IMAGE=img1.png): unreadable TPS block: expected 'x y', got '3 four'"),
])
def test_unreadable_tps_block(tmp_path, capsys, block, problem):
    lf.tps_folder(tmp_path, n=3, landmarks=2)
    lines = (tmp_path / "landmarks.tps").read_text().splitlines(keepends=True)
    (tmp_path / "landmarks.tps").write_text("".join(lines[:5]) + block + "".join(lines[10:]))
    code, out, err = check(capsys, tmp_path)
    assert code == 1 and usable(out) == 2  # the good blocks are kept; img1 is not reported a second time
    assert err == [f"benchsuite: error: {tmp_path / 'landmarks.tps'} {problem}"]


@pytest.mark.parametrize("header,problem", [
    ("scorer,A,A\ncoords,x,y\n", "unexpected DeepLabCut header: expected rows scorer, bodyparts, coords; found 'scorer', 'coords'"),
    ("scorer,A,A,A\nbodyparts,nose,nose,nose\ncoords,x,y,likelihood\n", "coords has 'likelihood': this is a predictions file"),
    ("scorer,A,A\nbodyparts,nose,nose\ncoords,y,x\n", "the coords row must be x, y pairs, got y, x"),
])
def test_deeplabcut_file_with_an_unexpected_header(tmp_path, capsys, header, problem):
    video = tmp_path / "labeled-data" / "v"
    lf.image(video / "f.png", 20, 20)
    (video / "CollectedData_A.csv").write_text(header + "labeled-data/v/f.png,1,2\n")
    code, out, err = check(capsys, tmp_path)
    assert code == 1 and len(err) == 1 and problem in err[0]  # not buried under one line per unread image
    assert err[0].startswith(f"benchsuite: error: {video / 'CollectedData_A.csv'}: ")


def test_samples_refuses_a_dataset_with_errors_in_one_line(tmp_path):
    lf.tps_folder(tmp_path, n=3)
    (tmp_path / "img0.png").unlink()
    with pytest.raises(PluginError) as raised:
        FolderDataset(str(tmp_path)).samples()
    assert "\n" not in str(raised.value) and "annotation without image" in str(raised.value)
    assert f"benchsuite datasets check {tmp_path}" in str(raised.value)


def test_the_command_prints_no_traceback_and_exits_non_zero(tmp_path):
    (tmp_path / "broken.tps").write_text("IMAGE=x.png\nLM=1\n1 1\n")
    lf.image(tmp_path / "x.png", 10, 10)
    result = subprocess.run([sys.executable, "-m", "benchsuite.cli", "datasets", "check", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[0] == (f"benchsuite: error: {tmp_path / 'broken.tps'} line 1: "
                                             "IMAGE= before any LM= line (not a TPS file?)")


def test_bad_options_are_one_line_errors(tmp_path, capsys):
    lf.tps_folder(tmp_path)
    code, _, err = check(capsys, tmp_path, "--format", "xml")
    assert code == 2 and err == ["benchsuite: error: folder: unknown format 'xml' (known: tps, dlc, coco, labelme, csv, points)"]
    code, _, err = check(capsys, tmp_path, "--outside", "sometimes")
    assert code == 2 and "outside must be one of keep, missing, error" in err[0]
    assert np.isfinite(FolderDataset(str(tmp_path)).samples()[0].landmarks).all()


def test_a_truncated_labelme_file_is_named_not_taken_for_a_missing_annotation(tmp_path, capsys):
    for i in range(3):
        lf.image(tmp_path / f"img{i}.png", 20, 16, seed=i)
        lf.labelme(tmp_path / f"img{i}.json", [("a", 1, 2), ("b", 3, 4)], (20, 16), f"img{i}.png")
    text = (tmp_path / "img1.json").read_text()
    (tmp_path / "img1.json").write_text(text[: len(text) // 2])
    code, out, err = check(capsys, tmp_path)
    assert code == 1 and usable(out) == 2
    assert len(err) == 1 and f"{tmp_path / 'img1.json'}: not valid JSON" in err[0]


def test_a_truncated_json_without_an_image_of_its_name_is_named(tmp_path, capsys):
    lf.tps_folder(tmp_path, n=3)
    (tmp_path / "keypoints.json").write_text('{"images": [{"id": 1, "file_')
    code, out, err = check(capsys, tmp_path)
    assert code == 1 and usable(out) == 3
    assert err == [f"benchsuite: error: {tmp_path / 'keypoints.json'}: not valid JSON (Unterminated string starting "
                   "at: line 1 column 23 (char 22)): a damaged annotation file?"]


@pytest.mark.parametrize("reference", ["../elsewhere/img0.png", "{root}/elsewhere/img0.png"])
def test_a_tps_image_reference_leading_out_of_the_folder_says_so(tmp_path, capsys, reference):
    lf.image(tmp_path / "elsewhere" / "img0.png", 20, 16)
    data = tmp_path / "data"
    lf.image(data / "img1.png", 20, 16, seed=1)
    reference = reference.format(root=tmp_path)
    lf.tps(data / "marks.tps", [(reference, [(1, 2), (3, 4)]), ("img1.png", [(1, 2), (3, 4)])])
    code, out, err = check(capsys, data)
    assert code == 1 and usable(out) == 1
    assert len(err) == 1 and f"(IMAGE={reference}): image reference {reference!r}" in err[0]
    assert "outside the dataset folder" in err[0] and "pass allow_outside=true" in err[0]
    code, out, err = check(capsys, data, "--param", "allow_outside=yes")  # typed as people type a yes/no
    assert code == 0 and usable(out) == 2


def test_a_tps_image_reference_with_a_folder_picks_one_of_two_images_of_that_name(tmp_path, capsys):
    for folder in ("new", "old"):
        lf.image(tmp_path / folder / "img0.png", 20, 16)
    lf.tps(tmp_path / "marks" / "landmarks.tps", [("../new/img0.png", [(1, 2), (3, 4)])])
    code, out, err = check(capsys, tmp_path / "marks" / "landmarks.tps")  # its images are found from the folder above
    assert code == 0 and usable(out) == 1 and err == []


@pytest.mark.parametrize("text,value", [("true", True), ("0", False), ("Yes", True), ("no", False)])
def test_a_yes_no_parameter_reads_as_people_type_it(tmp_path, text, value):
    from benchsuite.lab.datasets import typed_params

    assert typed_params(FolderDataset, {"allow_outside": text, "outside": "keep"}) == \
        {"allow_outside": value, "outside": "keep"}
    with pytest.raises(PluginError, match="--param allow_outside must be true or false"):
        typed_params(FolderDataset, {"allow_outside": "maybe"})
