"""A deterministic synthetic fish dataset, for smoke runs and tests.

Real landmark datasets are large, licensed and slow to load. This one is drawn
on the fly: every image and its landmarks follow from ``(seed, index)`` alone,
so a grid or a test can run end to end in seconds, anywhere, and reproduce bit
for bit. Each image shows one fish (elliptic body, forked tail fin, dorsal fin,
dark eye) in a random pose, size and contrast, with noise. The landmarks are
computed from the same geometry that is drawn, so they sit exactly where the
image shows them, and the pose varies enough that predicting the mean landmark
position does badly while a small network does well.

The fish is designed in its own frame: length 1 from tail tip (x = -0.5) to
snout (x = +0.5), the snout pointing to +x and the back (dorsal side) to -y.
"""
from __future__ import annotations

import dataclasses
import math
import operator

import numpy as np
from PIL import Image, ImageDraw

from benchsuite import api
from benchsuite.api import PluginError, Sample
from benchsuite.hookspecs import hookimpl

ANATOMICAL_NAMES = ("snout", "eye", "dorsal_fin", "tail_top", "tail_bottom", "belly")
SMALLEST_SIDE = 32  # below this the eye and fins shrink to a pixel or less
SUPERSAMPLE = 4  # drawn this many times larger, then box-averaged: anti-aliasing
MARGIN = 2.0  # pixels kept free between the fish and the image border

# The fish in its own frame (see the module docstring).
BODY_CENTRE = 0.1  # the body is an ellipse centred at (BODY_CENTRE, 0) ...
BODY_HALF_LENGTH = 0.4  # ... reaching from x = -0.3 to the snout at x = 0.5
CONTOUR_ARC = math.radians(150)  # the body contour clear of the tail: ellipse angles |t| <= this
TAIL_BASE = -0.2  # the tail fin's apex, inside the body
TAIL_FORK = -0.42  # the notch between the two tail lobes
TAIL_TIP = -0.5
EYE_X = 0.34
EYE_RADIUS = 0.045
DORSAL_BASE = (math.radians(-120), math.radians(-60))  # where the fin meets the body
DORSAL_SWEEP = 0.05  # how far the fin tip leans back from the fin's rear base
GOLDEN = (math.sqrt(5) - 1) / 2
CONTOUR_OFFSET = 0.335


@dataclasses.dataclass(frozen=True)
class _Fish:
    """Everything random about one image: its size, the fish's shape and pose, the look."""

    size: tuple[int, int]  # (width, height)
    body_height: float  # half-height of the body, in fish lengths
    tail_height: float  # half-spread of the tail lobes, in fish lengths
    fin_height: float  # dorsal fin tip above the body, in fish lengths
    length: float  # fish length in pixels
    angle: float  # rotation in radians; positive turns the snout downwards
    offset: np.ndarray  # image position of the fish frame's origin
    background: float
    body: float
    eye: float
    gradient: np.ndarray  # intensity change per pixel along x and y
    noise: float  # standard deviation of the Gaussian pixel noise
    tint: np.ndarray  # per-channel gain for colour images

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Fish-frame points (n, 2) in image pixel coordinates."""
        return _place(points, self.length, self.angle) + self.offset


class SyntheticFish(api.Dataset):
    name = "synthetic"
    description = "Deterministic synthetic fish images with anatomical landmarks, for smoke runs and tests."
    synthetic = True

    def __init__(
        self,
        n_images: int = 90,
        n_landmarks: int = 6,
        seed: int = 0,
        min_size: int = 64,
        max_size: int = 128,
        channels: int = 1,
    ):
        self.n_images = _integer("n_images", n_images, lowest=1)
        self.n_landmarks = _integer("n_landmarks", n_landmarks, lowest=1)
        self.seed = _integer("seed", seed, lowest=0)
        self.min_size = _integer("min_size", min_size, lowest=SMALLEST_SIDE)
        self.max_size = _integer("max_size", max_size, lowest=SMALLEST_SIDE)
        self.channels = _integer("channels", channels, lowest=1)
        if self.min_size > self.max_size:
            raise PluginError(f"synthetic: min_size ({min_size}) must not exceed max_size ({max_size})")
        if self.channels not in (1, 3):
            raise PluginError(f"synthetic: channels must be 1 or 3, got {channels}")
        self.landmark_names = landmark_names(self.n_landmarks)
        self.pixel_size_mm = None

    def samples(self) -> list[Sample]:
        return [self._sample(index) for index in range(self.n_images)]

    def load_image(self, sample_id: str) -> np.ndarray:
        index = self._index(sample_id)
        fish = self._fish(index)
        noise_rng = np.random.default_rng([self.seed, index, 1])
        return _render(fish, self.channels, noise_rng)

    def _sample(self, index: int) -> Sample:
        fish = self._fish(index)
        landmarks = fish.to_image(_landmarks(fish, self.n_landmarks))
        return Sample(id=_sample_id(index), landmarks=landmarks, size=fish.size)

    def _fish(self, index: int) -> _Fish:
        return _random_fish(np.random.default_rng([self.seed, index, 0]), self.min_size, self.max_size)

    def _index(self, sample_id: str) -> int:
        prefix, _, number = str(sample_id).partition("_")
        if prefix == "fish" and number.isdigit() and int(number) < self.n_images:
            if _sample_id(int(number)) == sample_id:
                return int(number)
        raise PluginError(f"synthetic: unknown sample id {sample_id!r} (ids run fish_0000 to {_sample_id(self.n_images - 1)})")


def landmark_names(n_landmarks: int) -> list[str]:
    """The anatomical names first, then contour points "contour_7", "contour_8", ..."""
    extra = [f"contour_{k}" for k in range(len(ANATOMICAL_NAMES) + 1, n_landmarks + 1)]
    return list(ANATOMICAL_NAMES[:n_landmarks]) + extra


def _sample_id(index: int) -> str:
    return f"fish_{index:04d}"


def _integer(name: str, value, lowest: int) -> int:
    try:
        number = operator.index(value)
    except TypeError:
        raise PluginError(f"synthetic: {name} must be an integer, got {value!r}") from None
    if number < lowest:
        raise PluginError(f"synthetic: {name} must be at least {lowest}, got {number}")
    return number


# --- the fish's shape, in its own frame --------------------------------------


def _body_point(t, body_height: float) -> np.ndarray:
    """The body ellipse at angle(s) t: 0 is the snout, -pi/2 the back, +pi/2 the belly."""
    t = np.asarray(t, dtype=float)
    return np.stack([BODY_CENTRE + BODY_HALF_LENGTH * np.cos(t), body_height * np.sin(t)], axis=-1)


def _eye_centre(fish: _Fish) -> np.ndarray:
    return np.array([EYE_X, -0.3 * fish.body_height])


def _dorsal_tip(fish: _Fish) -> np.ndarray:
    rear_base = _body_point(DORSAL_BASE[0], fish.body_height)
    return np.array([rear_base[0] - DORSAL_SWEEP, -(fish.body_height + fish.fin_height)])


def _tail(fish: _Fish) -> np.ndarray:
    """The forked tail fin: base, upper tip, fork, lower tip."""
    h = fish.tail_height
    return np.array([[TAIL_BASE, 0.0], [TAIL_TIP, -h], [TAIL_FORK, 0.0], [TAIL_TIP, h]])


def _dorsal_fin(fish: _Fish) -> np.ndarray:
    base = _body_point(np.array(DORSAL_BASE), fish.body_height)
    return np.vstack([base[0], _dorsal_tip(fish), base[1]])


def _body(fish: _Fish) -> np.ndarray:
    return _body_point(np.linspace(-math.pi, math.pi, 96, endpoint=False), fish.body_height)


def _eye(fish: _Fish) -> np.ndarray:
    t = np.linspace(-math.pi, math.pi, 24, endpoint=False)
    return _eye_centre(fish) + EYE_RADIUS * np.stack([np.cos(t), np.sin(t)], axis=-1)


def _contour_fractions(count: int) -> np.ndarray:
    """Where the extra landmarks ("contour_7", ...) sit along the visible body contour.

    Fractions of its length follow the golden-ratio sequence, so a point keeps
    its place whatever n_landmarks is and no two points coincide; the offset
    keeps the first ones clear of the snout (0.5) and the belly (about 0.78).
    """
    return (CONTOUR_OFFSET + np.arange(count) * GOLDEN) % 1.0


def _contour_point(fractions: np.ndarray, body_height: float) -> np.ndarray:
    """Points at fractions of the contour's length: 0 is its end on the back, by the
    tail, 0.5 the snout, 1 its end on the belly side, by the tail."""
    t = np.linspace(-CONTOUR_ARC, CONTOUR_ARC, 601)
    steps = np.linalg.norm(np.diff(_body_point(t, body_height), axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(steps)])
    return _body_point(np.interp(fractions * arc[-1], arc, t), body_height)


def _landmarks(fish: _Fish, n_landmarks: int) -> np.ndarray:
    """The first n_landmarks landmarks, in the fish frame."""
    tail = _tail(fish)
    anatomical = [
        _body_point(0.0, fish.body_height),  # snout
        _eye_centre(fish),
        _dorsal_tip(fish),
        tail[1],  # tail_top
        tail[3],  # tail_bottom
        _body_point(math.pi / 2, fish.body_height),  # belly
    ]
    contour = _contour_point(_contour_fractions(max(n_landmarks - len(anatomical), 0)), fish.body_height)
    return np.vstack([anatomical, contour])[:n_landmarks].astype(np.float64)


def _outline(fish: _Fish) -> np.ndarray:
    """Every drawn vertex of the fish; the eye lies inside the body."""
    return np.vstack([_body(fish), _tail(fish), _dorsal_fin(fish)])


# --- pose and look ------------------------------------------------------------


def _place(points: np.ndarray, length: float, angle: float) -> np.ndarray:
    """Scale fish-frame points to pixels and rotate them (no translation)."""
    c, s = math.cos(angle), math.sin(angle)
    return length * points @ np.array([[c, s], [-s, c]])


def _random_fish(rng: np.random.Generator, min_size: int, max_size: int) -> _Fish:
    """Draw one image's size, fish shape, pose and look; always the same number of draws."""
    width, height = (int(side) for side in rng.integers(min_size, max_size + 1, size=2))
    body_height, tail_height, fin_height = rng.uniform([0.12, 0.12, 0.06], [0.17, 0.17, 0.11])
    angle = math.radians(rng.uniform(-30, 30))
    unit = _Fish(
        size=(width, height), body_height=body_height, tail_height=tail_height, fin_height=fin_height,
        length=1.0, angle=angle, offset=np.zeros(2), **_random_look(rng, width, height),
    )
    extent = unit.to_image(_outline(unit))  # the posed fish at length 1, before translation
    low, high = extent.min(axis=0), extent.max(axis=0)
    room = np.array([width, height]) - 1 - 2 * MARGIN
    length = min(rng.uniform(0.45, 0.85) * min(width, height), *(room / (high - low)))
    first, last = MARGIN - length * low, room + MARGIN - length * high
    offset = rng.uniform(first, np.maximum(first, last))  # equal, up to rounding, when it fits tightly
    return dataclasses.replace(unit, length=length, offset=offset)


def _random_look(rng: np.random.Generator, width: int, height: int) -> dict:
    """Grey levels, lighting gradient, noise and colour tint.

    The body is brighter or darker than the background by 50 to 100 grey
    levels; the eye is always the darkest part of the picture.
    """
    background = rng.uniform(60, 200)
    brighter = rng.random() < 0.5 or background - 60 < 50
    contrast = rng.uniform(50, min(100, 250 - background if brighter else background - 60))
    direction = rng.uniform(0, 2 * math.pi)
    slope = rng.uniform(0, 20) / math.hypot(width, height)  # at most 20 grey levels corner to corner
    return dict(
        background=background,
        body=background + contrast if brighter else background - contrast,
        eye=rng.uniform(0, 15),
        gradient=slope * np.array([math.cos(direction), math.sin(direction)]),
        noise=rng.uniform(2, 6),
        tint=rng.uniform(0.8, 1.0, size=3),
    )


# --- drawing ------------------------------------------------------------------


def _render(fish: _Fish, channels: int, noise_rng: np.random.Generator) -> np.ndarray:
    width, height = fish.size
    canvas = Image.new("L", (width * SUPERSAMPLE, height * SUPERSAMPLE), round(fish.background))
    draw = ImageDraw.Draw(canvas)
    fin = 0.6 * fish.body + 0.4 * fish.background
    layers = ((_tail(fish), fin), (_dorsal_fin(fish), fin), (_body(fish), fish.body), (_eye(fish), fish.eye))
    for polygon, grey in layers:
        draw.polygon(_supersampled(fish.to_image(polygon)), fill=round(grey))
    image = np.asarray(canvas.reduce(SUPERSAMPLE), dtype=np.float32)
    ys, xs = np.ogrid[:height, :width]
    image = image + fish.gradient[0] * (xs - (width - 1) / 2) + fish.gradient[1] * (ys - (height - 1) / 2)
    image += fish.noise * noise_rng.standard_normal(image.shape, dtype=np.float32)
    if channels == 3:
        image = image[..., None] * fish.tint
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _supersampled(points: np.ndarray) -> list[tuple[float, float]]:
    """Image pixel coordinates on the supersampled canvas.

    Pixel i spans [i - 0.5, i + 0.5] in the image and canvas pixels
    [i * SUPERSAMPLE, (i + 1) * SUPERSAMPLE) on the canvas, where Pillow puts
    canvas pixel m's centre at m + 0.5.
    """
    return [tuple(p) for p in ((points + 0.5) * SUPERSAMPLE).tolist()]


@hookimpl
def register_datasets(register):
    register(SyntheticFish)
