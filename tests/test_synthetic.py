"""The synthetic fish dataset: deterministic, varied, and drawn where its landmarks say."""
import numpy as np
import pluggy
import pytest
from benchsuite_builtin.datasets import synthetic
from benchsuite_builtin.datasets.synthetic import SyntheticFish

from benchsuite import hookspecs
from benchsuite.api import PluginError


@pytest.fixture(scope="module")
def fish():
    dataset = SyntheticFish()
    return dataset, dataset.samples()


def pixel(image, point):
    x, y = np.rint(point).astype(int)
    return float(image[y, x])


def patch_mean(image, point):
    x, y = np.rint(point).astype(int)
    return float(image[y - 1 : y + 2, x - 1 : x + 2].mean())


def border_median(image):
    return float(np.median(np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])))


def body_centre(landmarks):
    """Halfway from the snout to the tail fin's tips: inside the body, clear of eye and fins."""
    snout, tail_top, tail_bottom = landmarks[0], landmarks[3], landmarks[4]
    return (snout + (tail_top + tail_bottom) / 2) / 2


def test_same_parameters_give_identical_data_in_any_order():
    first, second = SyntheticFish(n_images=12, seed=3), SyntheticFish(n_images=12, seed=3)
    ids = [f"fish_{i:04d}" for i in range(12)]
    images = {i: first.load_image(i) for i in ids}  # before samples() is ever called
    for i in reversed(ids):
        assert np.array_equal(second.load_image(i), images[i])
    for a, b in zip(first.samples(), second.samples()):
        assert (a.id, a.size) == (b.id, b.size)
        assert np.array_equal(a.landmarks, b.landmarks)


def test_different_seed_gives_different_data():
    a, b = SyntheticFish(n_images=5, seed=0), SyntheticFish(n_images=5, seed=1)
    assert not np.array_equal(a.samples()[0].landmarks, b.samples()[0].landmarks)
    assert a.load_image("fish_0000").shape != b.load_image("fish_0000").shape or not np.array_equal(
        a.load_image("fish_0000"), b.load_image("fish_0000")
    )


def test_plugin_metadata_and_default_landmarks(fish):
    dataset, samples = fish
    assert SyntheticFish.name == "synthetic" and SyntheticFish.description
    assert dataset.pixel_size_mm is None
    assert dataset.landmark_names == ["snout", "eye", "dorsal_fin", "tail_top", "tail_bottom", "belly"]
    assert len(samples) == 90 and samples[0].id == "fish_0000" and samples[-1].id == "fish_0089"
    for sample in samples:
        assert sample.landmarks.shape == (6, 2) and sample.landmarks.dtype == np.float64
    every = np.concatenate([s.landmarks for s in samples])
    assert np.all(np.isfinite(every)) and np.mean(every != np.round(every)) > 0.99  # sub-pixel


@pytest.mark.parametrize("count", [1, 7, 25, 40])
def test_landmark_counts_extend_the_same_points(count):
    dataset = SyntheticFish(n_images=4, n_landmarks=count)
    names = dataset.landmark_names
    assert len(names) == len(set(names)) == count
    assert names[:6] == ["snout", "eye", "dorsal_fin", "tail_top", "tail_bottom", "belly"][:count]
    assert names[6:] == [f"contour_{k}" for k in range(7, count + 1)]
    reference = SyntheticFish(n_images=4, n_landmarks=40).samples()
    for sample, full in zip(dataset.samples(), reference):
        assert np.array_equal(sample.landmarks, full.landmarks[:count])


def test_sizes_vary_and_match_images(fish):
    dataset, samples = fish
    sizes = np.array([s.size for s in samples])
    assert sizes.min() >= 64 and sizes.max() <= 128
    assert np.any(sizes[:, 0] > sizes[:, 1]) and np.any(sizes[:, 0] < sizes[:, 1])
    assert len(set(map(tuple, sizes))) > 60
    for sample in samples:
        image = dataset.load_image(sample.id)
        assert image.dtype == np.uint8 and image.shape == (sample.size[1], sample.size[0])


def test_landmarks_lie_inside_the_image():
    for sample in SyntheticFish(n_images=200, n_landmarks=25, min_size=32, max_size=160).samples():
        width, height = sample.size
        assert np.all(sample.landmarks >= 0)
        assert np.all(sample.landmarks <= [width - 1, height - 1])


def test_eye_landmark_is_on_the_dark_eye(fish):
    dataset, samples = fish
    for sample in samples:
        image = dataset.load_image(sample.id).astype(float)
        body = pixel(image, body_centre(sample.landmarks))
        eye = pixel(image, sample.landmarks[1])
        assert eye < min(body, border_median(image)) - 20, sample.id


@pytest.mark.parametrize("index", [0, 5], ids=["snout", "belly"])
def test_boundary_landmarks_sit_on_the_body_outline(fish, index):
    dataset, samples = fish
    for sample in samples:
        image = dataset.load_image(sample.id).astype(float)
        centre = body_centre(sample.landmarks)
        point = sample.landmarks[index]
        inward = (centre - point) / np.linalg.norm(centre - point)
        body, background = pixel(image, centre), border_median(image)

        def level(offset):  # 0 looks like background, 1 like body
            return (pixel(image, point + offset * inward) - background) / (body - background)

        assert level(1.5) > 0.5 > level(-1.5), sample.id


def test_pose_varies_in_rotation_and_scale(fish):
    _, samples = fish
    landmarks = np.stack([s.landmarks for s in samples])
    axis = landmarks[:, 0] - (landmarks[:, 3] + landmarks[:, 4]) / 2  # tail towards snout
    angle = np.degrees(np.arctan2(axis[:, 1], axis[:, 0]))
    assert angle.min() < -20 and angle.max() > 20 and np.all(np.abs(angle) < 35)
    shorter_side = np.array([min(s.size) for s in samples])
    relative_length = np.linalg.norm(axis, axis=1) / shorter_side
    assert relative_length.max() - relative_length.min() > 0.25


def test_tail_landmarks_are_the_tips_of_the_forked_tail(fish):
    dataset, samples = fish
    for sample in samples:
        image = dataset.load_image(sample.id).astype(float)
        snout, tips = sample.landmarks[0], sample.landmarks[3:5]
        body, background = pixel(image, body_centre(sample.landmarks)), border_median(image)
        between = tips.mean(axis=0)  # in the notch of the fork: background
        axis = snout - between
        assert (patch_mean(image, between) - background) / (body - background) < 0.3, sample.id
        for tip in tips:  # inside each lobe, a little towards the body: fin, half as bright as the body
            lobe = tip + 0.127 * axis + (between - tip) * 2 / 3
            assert (pixel(image, lobe) - background) / (body - background) > 0.1, sample.id


def test_mean_position_baseline_is_clearly_wrong(fish):
    _, samples = fish
    landmarks = np.stack([s.landmarks for s in samples])
    sizes = np.array([s.size for s in samples], dtype=float)[:, None, :]
    mean_relative = (landmarks / sizes).mean(axis=0)
    error = np.linalg.norm(mean_relative * sizes - landmarks, axis=-1).mean(axis=1)
    assert np.mean(error / sizes.max(axis=-1)[:, 0]) > 0.12


def test_three_channels_give_colour_images():
    grey, colour = SyntheticFish(n_images=3), SyntheticFish(n_images=3, channels=3)
    image = colour.load_image("fish_0002")
    assert image.dtype == np.uint8 and image.shape == grey.load_image("fish_0002").shape + (3,)
    assert not np.array_equal(image[..., 0], image[..., 2])
    for a, b in zip(grey.samples(), colour.samples()):
        assert np.array_equal(a.landmarks, b.landmarks)


@pytest.mark.parametrize(
    "params",
    [
        dict(n_landmarks=0),
        dict(n_images=0),
        dict(min_size=100, max_size=80),
        dict(min_size=8, max_size=8),
        dict(channels=2),
        dict(seed=-1),
        dict(n_images=1.5),
    ],
)
def test_bad_parameters_raise_plugin_error(params):
    with pytest.raises(PluginError):
        SyntheticFish(**params)


@pytest.mark.parametrize("sample_id", ["fish_0005", "fish_1", "dog_0000", "fish_-001", ""])
def test_unknown_sample_id_raises_plugin_error(sample_id):
    with pytest.raises(PluginError, match="unknown sample id"):
        SyntheticFish(n_images=5).load_image(sample_id)


def test_hook_registers_the_class():
    manager = pluggy.PluginManager("benchsuite")
    manager.add_hookspecs(hookspecs)
    manager.register(synthetic)
    registered = []
    manager.hook.register_datasets(register=registered.append)
    assert registered == [SyntheticFish]
