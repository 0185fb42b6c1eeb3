"""`benchsuite floor`: the error each decoding leaves at a grid's input size, before any training."""
from __future__ import annotations

import numpy as np
from landmark_files import image, tps, tps_folder

from benchsuite.cli import main

INTEGRAL = "integral regression (single-peak term)"  # the lab grid's label of its pretrained network's codec


def _rows(out: str) -> dict[str, list[str]]:
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in out.splitlines() if line.startswith("| ")]
    return {row[3]: row for row in cells[1:]}


def _wings(root, n=4):
    """632×480 images with landmarks spread over the wing, away from the image's edges."""
    rng = np.random.default_rng(0)
    for i in range(n):
        image(root / f"wing{i}.png", 632, 480, seed=i)
    tps(root / "landmarks.tps", [(f"wing{i}.png", rng.uniform([60, 60], [570, 420], (5, 2)).tolist())
                                 for i in range(n)])
    return root


def test_the_lab_grid_s_floor_uses_each_folder_s_own_input_and_the_grid_s_codecs(tmp_path, capsys):
    data = _wings(tmp_path / "wings")
    assert main(["floor", "--grid", "lab", "-d", str(data)]) == 0
    rows = _rows(capsys.readouterr().out)
    assert set(rows) == {"Exponential σ=3", INTEGRAL}  # the grid's methods, by their labels
    argmax, integral = rows["Exponential σ=3"], rows[INTEGRAL]
    assert argmax[1] == "160×128" and float(argmax[2]) == 3.95  # "auto" for 632×480 images
    assert 0.2 < float(argmax[4]) < 0.6 * 3.95  # whole input pixels: a share of δ
    assert float(integral[4]) < 0.1 * float(argmax[4])  # sub-pixel


def test_a_fixed_input_and_a_codec_filter(tmp_path, capsys):
    data = tps_folder(tmp_path / "wings", n=3, size=(200, 100))
    assert main(["floor", "--grid", "lab", "-d", str(data), "-c", "integral", "--set", "input_size=64"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert list(rows) == [INTEGRAL] and rows[INTEGRAL][1] == "64×64"
