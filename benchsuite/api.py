"""The contracts between the core and its plugins.

A plugin registers *classes*; the grid instantiates them with the parameters
a grid file gives (``SyntheticFish(n_images=60)``, ``Gaussian(sigma=3)``).
Every registered class carries a ``name`` and a one-line ``description``.
The core only ever talks to plugins through the methods declared here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Iterable, Iterator, Protocol

import numpy as np

KINDS = ("datasets", "encoders", "architectures", "codecs", "metrics", "executors")


class PluginError(Exception):
    """A plugin or its input is unusable; the message names what and why."""


@dataclass(frozen=True)
class Sample:
    """One annotated image: landmarks in original pixels, NaN where missing.

    Coordinates follow the pixel-centre convention: the centre of the
    top-left pixel is (0, 0), so a pixel (i, j) spans [i-0.5, i+0.5].
    """

    id: str
    landmarks: np.ndarray  # (n_landmarks, 2) float64, x then y
    size: tuple[int, int]  # (width, height) of the original image


class Dataset(Protocol):
    name: ClassVar[str]
    description: ClassVar[str]
    landmark_names: list[str]
    pixel_size_mm: float | None  # physical size of one pixel, when known

    def samples(self) -> list[Sample]: ...

    def load_image(self, sample_id: str) -> np.ndarray:
        """H×W (grayscale) or H×W×C uint8/uint16 array of the original image."""


class Encoder(Protocol):
    name: ClassVar[str]
    description: ClassVar[str]
    smp_name: str  # the name segmentation-models-pytorch / timm knows it by

    def build(self, in_channels: int, depth: int = 5): ...


class Architecture(Protocol):
    """A network, or a codec-free statistical baseline.

    ``encoder`` says whether it takes an encoder ("required") or not ("none").
    ``outputs`` lists the codec output kinds it can produce ("heatmap",
    "coords"); an empty set marks a baseline, which implements ``fit_predict``
    instead of ``build``.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    encoder: ClassVar[str]
    outputs: ClassVar[frozenset[str]]

    def build(self, *, n_landmarks: int, in_channels: int, output: str, encoder: Encoder | None): ...

    def fit_predict(self, train: list[Sample], test: list[Sample]) -> np.ndarray: ...


class Codec(Protocol):
    """How landmarks become training targets and network outputs landmarks.

    All coordinates here are in network-input pixels (pixel-centre convention)
    and tensors live on the training device.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    output: ClassVar[str]  # "heatmap" or "coords"

    def out_channels(self, n_landmarks: int) -> int: ...

    def encode(self, landmarks, size: int): ...

    def loss(self, prediction, landmarks, size: int): ...

    def decode(self, prediction, size: int): ...


class Metric(Protocol):
    """A pure function of the predictions table (one row per image × landmark).

    Before calling a metric the core adds context columns where known:
    ``width``/``height`` (original image size), ``delta`` (original pixels
    per network-input pixel) and ``pixel_size_mm``; NaN where unknown. A
    metric may also offer ``per_landmark(predictions)`` (a Series indexed by
    landmark) and ``fold_score(predictions)`` (a float, for scores that are
    not a mean over images, such as r²; the core then uses it as the fold's
    score). Parameterised metrics are instantiated from a spec such as
    ``hit-rate(threshold=2,unit=delta)``.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    higher_is_better: ClassVar[bool]

    def per_image(self, predictions) -> "Any":
        """A pandas Series indexed by image_id (a fold's score is its mean over images)."""


class Executor(Protocol):
    """Runs cells somewhere. ``work`` claims, computes and stores one cell by itself
    (it is picklable unless ``in_process`` is true), so an executor only has to call
    it, anywhere; ``workdir`` is the run folder, for the executor's own files."""

    name: ClassVar[str]
    description: ClassVar[str]
    in_process: bool  # True: call work here, with live progress; it may then be unpicklable

    def map(self, work: Callable[[Any], Any], items: Iterable[Any], workdir) -> Iterator[Any]:
        """Run ``work`` on every item, yielding each result as it finishes (or none, if not waiting)."""


@dataclass
class Registered:
    """One registered class and where it came from."""

    kind: str
    name: str
    cls: type
    plugin: str
    version: str
    description: str = field(default="")
