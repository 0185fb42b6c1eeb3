"""The letterbox mapping: exact inverse, correct padding, matches the resampler."""
from __future__ import annotations

import numpy as np
import pytest

from benchsuite.train.geometry import Letterbox
from benchsuite.train.images import to_channels

# (width, height, size): landscape/portrait/square, odd and even total padding
CASES = [(200, 120, 64), (120, 200, 64), (100, 45, 64), (45, 100, 64), (64, 64, 64), (1340, 1671, 256), (633, 480, 256)]


@pytest.mark.parametrize("width,height,size", CASES)
def test_inverse_is_exact(width, height, size):
    box = Letterbox(width, height, size)
    rng = np.random.default_rng(0)
    points = rng.uniform(-0.5, [width - 0.5, height - 0.5], size=(50, 2))
    np.testing.assert_allclose(box.to_original(box.to_input(points)), points, rtol=0, atol=1e-9)


def test_no_truncation_of_sub_pixel_coordinates():
    box = Letterbox(200, 120, 64)
    mapped = box.to_input(np.array([[10.3, 20.7]]))
    assert not np.allclose(mapped, np.round(mapped))
    np.testing.assert_allclose(mapped, [[(10.3 + 0.5) * 0.32 - 0.5, (20.7 + 0.5) * (38 / 120) - 0.5 + 13]])


@pytest.mark.parametrize("width,height,resized,offset", [
    (200, 120, (64, 38), (0, 13)),   # landscape, even padding 26
    (120, 200, (38, 64), (13, 0)),   # portrait pads the x axis, not y
    (100, 45, (64, 29), (0, 17)),    # odd padding 35: 17 before, 18 after
    (45, 100, (29, 64), (17, 0)),
])
def test_padding_goes_on_the_short_axis_and_image_matches_offset(width, height, resized, offset):
    box = Letterbox(width, height, 64)
    assert box.resized == resized and tuple(box.offset) == offset
    out = box.apply(np.full((height, width, 1), 200, dtype=np.uint8))[:, :, 0]
    rows, cols = np.nonzero(out)
    assert (cols.min(), rows.min()) == offset
    assert (cols.max() + 1 - cols.min(), rows.max() + 1 - rows.min()) == resized


def _blob(width, height, centre, sigma=5.0):
    ys, xs = np.mgrid[0:height, 0:width]
    d2 = (xs - centre[0]) ** 2 + (ys - centre[1]) ** 2
    return np.round(250 * np.exp(-d2 / (2 * sigma**2))).astype(np.uint8)[:, :, None]


def _centroid(image):
    ys, xs = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    w = image.astype(np.float64)
    return np.array([(xs * w).sum() / w.sum(), (ys * w).sum() / w.sum()])


@pytest.mark.parametrize("width,height", [(200, 120), (120, 200), (101, 45), (45, 101)])
def test_mapping_agrees_with_the_resampled_image(width, height):
    """A blob's centre, resized by the real resampler, lands where to_input says (sub-pixel)."""
    centre = np.array([width * 0.37 + 0.3, height * 0.61 + 0.2])
    box = Letterbox(width, height, 64)
    resized = box.apply(_blob(width, height, centre, sigma=min(width, height) / 8))[:, :, 0]
    np.testing.assert_allclose(_centroid(resized), box.to_input(centre), atol=0.06)
    np.testing.assert_allclose(box.to_original(_centroid(resized)), centre, atol=0.06 * max(width, height) / 64)


def test_channel_conversion_is_explicit():
    rgba = np.zeros((4, 5, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    assert to_channels(rgba, 3).shape == (4, 5, 3)
    assert to_channels(rgba, 1)[0, 0, 0] == round(0.299 * 255)
    gray = np.arange(20, dtype=np.uint8).reshape(4, 5)
    assert (to_channels(gray, 3)[..., 2] == gray).all()
    deep = np.array([[1000, 3000]], dtype=np.uint16)
    assert to_channels(deep, 1)[0, :, 0].tolist() == [0, 255]  # scaled to its range, not clipped


@pytest.mark.parametrize("width,height,resized,offset", [
    (3264, 2448, (256, 192), (0, 0)),  # the beetle photographs fill a 256×192 input exactly
    (100, 200, (96, 192), (80, 0)),    # a portrait image is letterboxed into it
    (400, 100, (256, 64), (0, 64)),
])
def test_rectangular_inputs(width, height, resized, offset):
    box = Letterbox(width, height, (256, 192))
    assert box.resized == resized and tuple(box.offset) == offset
    assert box.apply(np.zeros((height, width, 1), dtype=np.uint8)).shape == (192, 256, 1)
    points = np.random.default_rng(1).uniform(0, [width - 1, height - 1], size=(20, 2))
    np.testing.assert_allclose(box.to_original(box.to_input(points)), points, atol=1e-9)
    centre = np.array([width * 0.4 + 0.3, height * 0.55 + 0.2])
    resized_image = box.apply(_blob(width, height, centre, sigma=min(width, height) / 8))[:, :, 0]
    np.testing.assert_allclose(_centroid(resized_image), box.to_input(centre), atol=0.06)


# --- the image region of a letterbox, and crops of the original ---------------------------------------------


@pytest.mark.parametrize("width,height", [(200, 120), (120, 200), (101, 45), (64, 64)])
def test_region_is_exactly_the_letterboxed_image(width, height):
    box = Letterbox(width, height, 64)
    rows, cols = np.nonzero(box.apply(np.full((height, width, 1), 200, dtype=np.uint8))[:, :, 0])
    assert box.region == (cols.min(), rows.min(), cols.max(), rows.max())
    edges = box.to_original(np.array([[box.region[0] - 0.5, box.region[1] - 0.5],
                                      [box.region[2] + 0.5, box.region[3] + 0.5]]))
    np.testing.assert_allclose(edges, [[-0.5, -0.5], [width - 0.5, height - 0.5]], atol=1e-9)


@pytest.mark.parametrize("centre,delta", [((20.3, 30.7), 1.0), ((3.2, 2.1), 2.5), ((65.1, 47.9), 0.7)])
def test_crop_samples_exactly_where_its_mapping_says(centre, delta):
    """Bilinear sampling is exact on a linear ramp: each crop pixel holds the original point it maps to."""
    from benchsuite.train.geometry import Crop

    height, width = 50, 70
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    crop = Crop(centre, delta, 16, width, height)
    sampled = crop.apply(np.stack([xs, ys], axis=-1))
    grid = crop.to_original(np.stack(np.meshgrid(np.arange(16.0), np.arange(16.0)), axis=-1))
    x0, y0, x1, y1 = crop.region
    on = (grid[..., 0] >= 0) & (grid[..., 0] <= width - 1) & (grid[..., 1] >= 0) & (grid[..., 1] <= height - 1)
    assert on[y0 : y1 + 1, x0 : x1 + 1].sum() > 40
    np.testing.assert_allclose(sampled[on], grid[on], atol=1e-9)
    outside = np.ones((16, 16), dtype=bool)
    outside[y0 : y1 + 1, x0 : x1 + 1] = False
    assert (sampled[outside] == 0).all()  # what is not image is zero, and the region says so
    np.testing.assert_allclose(crop.to_original(crop.to_input(np.array([[4.2, 9.9]]))), [[4.2, 9.9]], atol=1e-12)


@pytest.mark.parametrize("delta", [1.0, 1.7, 3.0])
def test_a_blob_found_in_a_crop_maps_back_to_its_true_place_within_a_tenth_of_a_pixel(delta):
    from benchsuite.train.geometry import Crop, antialias

    centre = np.array([61.37, 40.82])
    image = _blob(140, 90, centre, sigma=4.0)
    crop = Crop((55.6, 44.1), delta, 32, 140, 90)  # the located point is off by several pixels
    found = _centroid(crop.apply(antialias(image, delta))[:, :, 0])
    assert np.hypot(*(crop.to_original(found) - centre)) < 0.1
