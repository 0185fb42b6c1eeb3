"""The contract between the core and its plugins, written once and checked at registration.

A plugin registers *classes*; the grid instantiates them with the parameters
a grid file gives (``SyntheticFish(n_images=60)``, ``Gaussian(sigma=3)``).
Each kind has a base class here. A registered class derives from its kind's
base class, overrides every required member (the abstract methods and the
attributes marked ``REQUIRED``) and may override the optional ones, which
all have working defaults. Capabilities a plugin offers beyond the minimum
are *declared* with class attributes (``Metric.scores``,
``Dataset.opens_folders``, ``Dataset.writes``, ...), never guessed with
``hasattr``. :func:`contract_problems` is the check the registry runs on
every registered class: a class that fails it is listed as broken with the
member at fault, and the rest of the suite keeps working.

Coordinates everywhere follow the pixel-centre convention: the centre of
the top-left pixel is (0, 0), so a pixel (i, j) spans [i-0.5, i+0.5].
This module imports neither torch nor any plugin.
"""
from __future__ import annotations

import abc
import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Iterator

import numpy as np

from benchsuite import weights
from benchsuite.errors import DatasetMissing, PluginError  # noqa: F401 - re-exported: the contract plugins import
from benchsuite.protocol import SETTINGS  # the contract names the settings; the protocol module owns them
from benchsuite.weights import PretrainedWeights  # noqa: F401 - re-exported: plugins declare their weights with it

KINDS = ("datasets", "encoders", "architectures", "methods", "codecs", "metrics", "executors")
ERROR, WARNING = "error", "warning"


class _Required:
    """Marks a class attribute every plugin class must set."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


# --- data passed between the core and plugins ------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One annotated image: landmarks in original pixels, NaN where missing.

    ``group`` keeps related images together when folds are drawn (the
    video of a DeepLabCut frame, the individual of a beetle's body part, a
    patient): images of one group never land in two different folds.
    """

    id: str
    landmarks: np.ndarray  # (n_landmarks, 2) float64, x then y
    size: tuple[int, int]  # (width, height) of the original image
    group: str | None = None


@dataclass(frozen=True)
class Problem:
    """One finding of a dataset check, printed on one line: ``<where>: <message>``."""

    where: str  # the file (and block, row or landmark) it concerns
    message: str
    severity: str = ERROR

    def line(self) -> str:
        return one_line(f"{self.where}: {self.message}")


@dataclass
class CheckReport:
    """What :meth:`Dataset.check` found: the usable samples and every problem, so one bad file hides no other."""

    dataset: str  # a registered name or a path
    landmark_names: list[str]
    samples: list[Sample]  # the usable ones
    problems: list[Problem] = field(default_factory=list)
    format: str | None = None
    notes: dict[str, str] = field(default_factory=dict)  # extra facts: annotators, licence, reference error

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity != ERROR]


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun, singular for one: "1 cell", "2 cells", "1 combination"."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def duration(seconds: float) -> str:
    """A time span as a person says it: "42 s", "12 min", "1.5 h"."""
    minutes = seconds / 60
    return f"{seconds:.0f} s" if seconds < 90 else f"{minutes:.0f} min" if minutes < 90 else f"{minutes / 60:.1f} h"


def spread(values) -> str:
    """``20`` when every value agrees, else their range, ``23–114``; ``?`` where none is a number."""
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not numbers:
        return "?"
    low, high = min(numbers), max(numbers)
    return f"{low:g}" if low == high else f"{low:g}–{high:g}"


def one_line(text: str) -> str:
    """Text that prints as one line whatever it quotes: line breaks escaped, undecodable bytes shown as escapes."""
    try:  # a file name's undecodable bytes came in as surrogates: show them as the bytes they were (\xff)
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text.replace("\r", "\\r").replace("\n", "\\n")


def extent(size) -> tuple[int, int]:
    """A network input's (width, height): codecs get ``size`` as one side for a square, or a (width, height) pair."""
    if isinstance(size, (tuple, list)):
        width, height = size
        return int(width), int(height)
    return int(size), int(size)


ImageLoader = Callable[[str], np.ndarray]  # sample id -> H×W or H×W×C uint8/uint16 array, original pixels
EpochCallback = Callable[..., None]  # (epoch, epochs, training loss, validation loss, validation / flat loss or None)


@dataclass(frozen=True)
class Images:
    """The pixels a method reads, by sample id, in original pixels (a dataset's images, or a lab's new ones).

    ``image_key`` gives a digest of an image file's content so that the core can cache prepared inputs
    across cells (None: not cached); a :class:`Dataset` offers all three members itself.
    """

    name: str
    load_image: ImageLoader
    image_key: Callable[[str], str | None] = lambda sample_id: None
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # (width, height) where known, by sample id

    @classmethod
    def of(cls, dataset: "Dataset", samples: Iterable[Sample] = ()) -> "Images":
        """A dataset's images; the sizes of ``samples`` known without decoding them."""
        return cls(dataset.name, dataset.load_image, dataset.image_key, {s.id: tuple(s.size) for s in samples})

    def size(self, sample_id: str) -> tuple[int, int]:
        """An image's (width, height): known, or read from the image itself."""
        if sample_id not in self.sizes:
            image = self.load_image(sample_id)
            self.sizes[sample_id] = (int(image.shape[1]), int(image.shape[0]))
        return self.sizes[sample_id]


class NetworkTools(abc.ABC):
    """How the core builds, trains and runs networks, lent to a method that trains its own (in stages, on
    crops): exactly the core's path, so its networks train like every network cell's. ``Inputs`` are the
    core's prepared sets (uint8 images on the training device's side, landmarks in input pixels)."""

    @abc.abstractmethod
    def build(self, architecture: "Architecture", encoder: "Encoder | None", codec: "Codec", n_landmarks: int,
              channels: int):
        """The torch module of ``architecture`` with as many outputs as ``codec`` needs."""

    @abc.abstractmethod
    def letterboxed(self, samples: list[Sample], images: Images, protocol, for_training: bool = False) -> Any:
        """Inputs of whole images, each letterboxed to ``protocol.input_size`` (cached where images are keyed);
        ``for_training`` adds the protocol's offline colour copies, as a network cell's training part has."""

    @abc.abstractmethod
    def windows(self, samples: list[Sample], crops: np.ndarray, landmarks: np.ndarray) -> Any:
        """Inputs of the method's own crops: (B, C, H, W) uint8 and (B, N, 2) landmarks in crop pixels, NaN where
        missing; ``samples[i]`` is the image crop i came from."""

    @abc.abstractmethod
    def train(self, module, codec: "Codec", train: Any, validation: Any, protocol, on_epoch=None) -> Any:
        """Train with early stopping on ``validation`` and the protocol's augmentation; the module keeps its best
        weights. Returns a report with ``epochs_run``, ``best_epoch``, ``stopped_by`` and ``elapsed_seconds``;
        its ``stopping()`` is what a cell's record (or one stage of it) keeps of how the training ended."""

    @abc.abstractmethod
    def locate(self, module, codec: "Codec", images: np.ndarray, regions: np.ndarray, size, protocol) -> np.ndarray:
        """(B, N, 2) points in input pixels that ``module`` finds in B×H×W×C uint8 ``images`` of ``size``, decoded
        inside ``regions`` (B, 4: first and last image pixel, x0, y0, x1, y1), in evaluation mode."""


@dataclass(frozen=True)
class Training:
    """What the core hands a :class:`Method` when it fits it, and again when it loads a fitted one.

    ``protocol`` is the cell's :class:`benchsuite.protocol.Protocol` (input size, epochs, optimiser, budget,
    augmentation); its ``max_minutes`` bounds all the method's training together. ``validation`` names the
    samples among those given to ``fit`` that form the validation part (a method declaring
    ``uses_validation``): drawn from the fold's training part only, they are the only ones early stopping and
    any other choice may look at. ``on_epoch`` reports progress; ``threads`` is the CPUs the cell was given;
    ``networks`` the core's own network training (:class:`NetworkTools`).
    """

    protocol: Any
    validation: frozenset[str] = frozenset()
    on_epoch: EpochCallback | None = None
    flip_permutation: tuple[int, ...] | None = None  # landmark order after a horizontal flip (the dataset's pairs)
    threads: int = 1
    networks: NetworkTools | None = None


def trains_networks(cls) -> bool:
    """Whether a cell of this class trains networks under the protocol's time budget: every network
    architecture, and a method whose results depend on ``max_minutes``."""
    return issubclass(cls, Architecture) or "max_minutes" in getattr(cls, "reads", ())


# --- the kinds -------------------------------------------------------------------------------


class Plugin(abc.ABC):  # noqa: B024 - the kinds below declare the abstract members
    """What every registered class has, whatever its kind."""

    name: ClassVar[str] = REQUIRED  # the name grids and the command line use
    description: ClassVar[str] = REQUIRED  # one line for listings

    @classmethod
    def unavailable(cls) -> str | None:
        """Why this plugin cannot run here (e.g. an optional library is missing, with the install command), or None."""
        return None


class Dataset(Plugin):
    """Images with landmarks in original pixels.

    Instances must have ``landmark_names`` (a list of str, possibly a
    property); ``pixel_size_mm`` and ``flip_pairs`` are optional. Reading may
    be lazy: instantiating a dataset should be cheap.
    """

    kind: ClassVar[str] = "datasets"
    landmark_names: list[str]
    pixel_size_mm: float | None = None  # physical size of one pixel, when known (hit rates in mm)
    flip_pairs: list[tuple[str, str]] | None = None  # left/right landmark names swapped by a horizontal flip
    opens_folders: ClassVar[bool] = False  # takes ``path`` (and ``format``) parameters: a user's own folder
    synthetic: ClassVar[bool] = False  # generates images; takes n_images, n_landmarks, min_size, max_size, channels
    writes: ClassVar[tuple[str, ...]] = ()  # annotation formats :meth:`write_landmarks` produces
    image_suffixes: ClassVar[tuple[str, ...]] = ()  # image files :meth:`read_image_file` reads (".png", ...)

    @abc.abstractmethod
    def samples(self) -> list[Sample]:
        """Every usable annotated image (a :class:`PluginError` when the dataset cannot be read at all)."""

    @abc.abstractmethod
    def load_image(self, sample_id: str) -> np.ndarray:
        """H×W (grayscale) or H×W×C uint8/uint16 array of the original image."""

    def image_path(self, sample_id: str) -> Path | None:
        """The image file of a sample, when it is one (exports refer to it: tpsDig's IMAGE=, LabelMe's imagePath)."""
        return None

    def predicted_ids(self) -> frozenset[str]:
        """Samples whose landmarks this suite predicted and nobody has proofread yet: never scored against."""
        return frozenset()

    def image_key(self, sample_id: str) -> str | None:
        """A digest of the image file's content, so prepared inputs can be cached across runs; None: no caching."""
        return None

    def check(self) -> CheckReport:
        """Everything readable plus every problem found (``benchsuite datasets check``)."""
        return CheckReport(self.name, list(self.landmark_names), self.samples())

    def fetch(self, progress: Callable[[str], None]) -> Path:
        """Obtain the dataset's files (``benchsuite datasets fetch``) and return their folder."""
        raise PluginError(f"dataset {self.name} has nothing to fetch")

    def human_error(self) -> float | None:
        """The inter-annotator mean radial error in original pixels, when known: recorded in each cell.json and
        shown in the leaderboards as a human reference row beside the headline metric, never ranked."""
        return None

    @classmethod
    def read_image_file(cls, path: Path) -> np.ndarray:
        """An image file as :meth:`load_image` returns images (new images to predict, outside any dataset)."""
        raise PluginError(f"dataset {cls.name} reads no image files")

    @classmethod
    def write_landmarks(cls, format: str, records: list[Sample], landmark_names: list[str], path: Path,
                        images: dict[str, Path], *, overwrite: bool = False, annotator: str | None = None) -> list[Path]:
        """Write landmarks in one of the :attr:`writes` formats into the folder ``path``, so a lab can open and
        correct them in its annotation tool; returns the files written.

        ``records`` hold landmarks in original pixels (NaN where missing); ``images`` maps each record's id
        to its image file, which the written files name. Nothing is written outside ``path``, and an
        existing file is a :class:`PluginError` unless ``overwrite``. ``annotator`` names who made the
        landmarks where a format records it (DeepLabCut's scorer, the ``CollectedData_<scorer>`` file).
        """
        raise PluginError(f"dataset {cls.name} writes no annotation format")


class Encoder(Plugin):
    """A feature extractor that architectures build on.

    ``weights`` is None (random initialisation), ``"imagenet"`` (the file
    the class declares as ``pretrained``, from an installed package or
    torch's cache) or the path of a state-dict file. Loading is strict: a
    file that leaves any of the module's tensors random is an error unless
    ``partial``. An encoder built by its own ``build`` loads them there; one
    built by segmentation-models-pytorch (``smp_name``) through
    :meth:`load_weights`.
    """

    kind: ClassVar[str] = "encoders"
    smp_name: str = ""  # the name segmentation-models-pytorch knows it by ("" when it is not an smp encoder)
    pretrained: ClassVar[PretrainedWeights | None] = None  # what weights = "imagenet" loads, if it has any
    weights: str | None = None
    partial: bool = False  # a weights file may leave some of the module's tensors random

    @abc.abstractmethod
    def build(self, in_channels: int, depth: int = 5):
        """A torch module returning ``depth + 1`` feature maps, with an ``out_channels`` list."""

    def load_weights(self, module) -> None:
        """Load ``weights`` (local files only, every tensor of ``module``) into a module built elsewhere (by smp);
        what was loaded is kept as ``loaded`` for the cell's record."""
        if self.weights is None:
            return
        self.loaded = weights.load_weights(module, f"encoder {self.name}", self.weights, self.pretrained, self.partial)

    def normalisation(self) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
        """The input mean and std (per channel, from [0, 1]) the loaded weights expect; None: the protocol's."""
        if self.weights == "imagenet" and self.pretrained is not None:
            return tuple(self.pretrained.mean), tuple(self.pretrained.std)
        return None


class Architecture(Plugin):
    """A network the core trains through a codec.

    ``encoder`` says whether it takes an encoder (``"required"``) or not
    (``"none"``). ``outputs`` lists the codec output kinds its networks can
    produce (``"heatmap"``, ``"coords"``). A method that learns otherwise (a
    statistical baseline, a classical predictor, a method training networks
    of its own) is a :class:`Method`.
    """

    kind: ClassVar[str] = "architectures"
    encoder: ClassVar[str] = REQUIRED  # "required" | "none"
    outputs: ClassVar[frozenset[str]] = REQUIRED
    pretrained: ClassVar[PretrainedWeights | None] = None  # what its weights = "imagenet" loads, if it has any

    @abc.abstractmethod
    def build(self, *, in_channels: int, out_channels: int, output: str, encoder: Encoder | None):
        """The torch module: (B, in_channels, H, W) -> heatmaps (B, C, H, W) or coordinates (B, C)."""


class Method(Plugin):
    """Anything that learns from a fold's annotated images and predicts landmarks on new ones.

    The core's own network method (an architecture × encoder × codec) is one;
    the mean shape, dlib's shape predictor and coarse-to-fine implement this
    contract directly. ``reads`` declares the protocol settings a method's
    results depend on: only those (and the split) are part of its cells'
    identity, so changing the epochs or the time budget recomputes no cell
    of a method that reads neither. A method with ``uses_validation`` is told
    which of the samples it is given are the validation part (its early
    stopping); one without learns from all of them.
    """

    kind: ClassVar[str] = "methods"
    reads: ClassVar[frozenset[str]] = frozenset()  # protocol settings that change its results
    uses_validation: ClassVar[bool] = False  # fit() holds training.validation out, so its error there is one
    # A floor every method must beat: it predicts without looking at the image (the mean shape). The tables
    # flag a method whose mean error on a dataset is worse than that dataset's baseline.
    baseline: ClassVar[bool] = False
    # Parameters that are plugin tables of their own, by the kind of plugin they name (coarse-to-fine's
    # ``encoder = { name = "efficientnet-lite0", weights = "imagenet" }`` is an encoder): their ``weights`` file
    # is identified by its content, as a grid's own encoder's is.
    nested: ClassVar[dict[str, str]] = {}

    @abc.abstractmethod
    def fit(self, samples: list[Sample], images: Images, training: Training) -> dict[str, Any] | None:
        """Learn from annotated images (a fold's training part, and its validation part as the core decides);
        may return facts about the fit for the cell's record (``epochs_run``, ``best_epoch``, ``stopped_by``...;
        ``stages``: such facts per stage, for a method that trains in stages)."""

    @abc.abstractmethod
    def predict(self, sample_ids: list[str], images: Images) -> np.ndarray:
        """(len(sample_ids), n_landmarks, 2) predicted landmarks in original pixels."""

    def validation_points(self) -> np.ndarray | None:
        """Points for the validation samples ``fit`` was given, in their order, if it computed them anyway
        (a network's best epoch): the core then predicts them no second time. None: the core predicts them."""
        return None

    def fit_seconds(self, n_images: int, n_landmarks: int, threads: int = 1) -> float | None:
        """Optional: about how many seconds :meth:`fit` takes here on so many images (timed on a small probe,
        not guessed), for the dry run's estimate; None when the method cannot tell."""
        return None

    def save(self, folder: Path) -> None:
        """Write the fitted method into the (existing, empty) ``folder`` in a format that cannot carry code."""
        raise PluginError(f"method {self.name} cannot be saved")

    @classmethod
    def load(cls, folder: Path, params: dict[str, Any], training: Training) -> "Method":
        """The fitted method :meth:`save` wrote, made with ``params``, under the protocol it was fitted with."""
        raise PluginError(f"method {cls.name} cannot be loaded")


class Codec(Plugin):
    """How landmarks become training targets and network outputs become landmarks.

    All coordinates here are in network-input pixels and tensors live on the
    training device; ``size`` is the network input (see :func:`extent`).

    Optional: a codec declaring ``takes_region`` has ``decode`` accept
    ``region=``, a (B, 4) integer tensor of the first and last pixel
    (x0, y0, x1, y1) of each input that shows the image (outside it lies the
    letterbox padding), and decodes inside it only; the core clamps every
    codec's decoded points to it in any case. :meth:`flat_output` gives the
    trivial output a loss may settle in (all-zero heatmaps), so that the core
    can flag a network whose validation loss is no better than that output's.
    """

    kind: ClassVar[str] = "codecs"
    output: ClassVar[str] = REQUIRED  # "heatmap" or "coords": what the network must produce
    takes_region: ClassVar[bool] = False  # decode() accepts region=(B, 4) first and last image pixel per input
    collapsed_above: ClassVar[float] = 0.9  # validation loss over flat_output()'s above this: the network collapsed

    @abc.abstractmethod
    def out_channels(self, n_landmarks: int) -> int:
        """How many output channels (heatmaps) or numbers (coordinates) the network needs."""

    @abc.abstractmethod
    def encode(self, landmarks, size):
        """(B, N, 2) landmarks (NaN = missing) to training targets."""

    @abc.abstractmethod
    def loss(self, prediction, landmarks, size):
        """A scalar tensor; missing landmarks contribute nothing."""

    @abc.abstractmethod
    def decode(self, prediction, size):
        """Network output to (B, N, 2) landmarks: a float tensor, finite for any output (predictions that are not
        finite fail the cell). With ``takes_region``, also ``region=None`` (see above)."""

    def flat_output(self, prediction):
        """The flat output a network can collapse to (all-zero heatmaps), shaped like ``prediction``: a
        network whose validation loss is not clearly below this output's has learnt nothing about where
        the landmarks are. None (the default): the codec's loss has no such output."""
        return None

    def collapse_remedy(self) -> str:
        """What to try when a network trained with this codec (as configured) collapsed: shown in the warning,
        so a codec that already uses a remedy suggests the next one. Empty (the default): nothing specific."""
        return ""


class Metric(Plugin):
    """A pure function of the predictions table (one row per image × landmark).

    Columns: ``image_id``, ``landmark``, truth ``x, y``, prediction
    ``pred_x, pred_y`` (original pixels), and the context the core adds:
    ``width``/``height`` (original image size), ``delta`` (original pixels
    per network-input pixel) and ``pixel_size_mm``; NaN where unknown.
    ``scores`` declares the levels a metric computes: ``"image"``
    (:meth:`per_image`; a fold's score is then the mean over its images),
    ``"landmark"`` (:meth:`per_landmark`) and ``"fold"`` (:meth:`fold_score`,
    for scores that are not a mean over images, like r²). ``tables`` says
    which of the papers' tables the metric fills, and with which parameters
    per column (``{"hits": ({"threshold": 1}, {"threshold": 2})}``).
    """

    kind: ClassVar[str] = "metrics"
    higher_is_better: ClassVar[bool] = REQUIRED
    unit: ClassVar[str] = REQUIRED  # "px", "input px", "%", "" (unitless)
    scores: ClassVar[frozenset[str]] = frozenset({"image"})
    headline: ClassVar[bool] = False  # the default metric of leaderboards, statistics and comparisons
    tables: ClassVar[dict[str, tuple[dict[str, Any], ...]]] = {}
    decimals: ClassVar[int] = 2

    @property
    def label(self) -> str:
        """The column header for this metric with its parameters."""
        return self.name

    def per_image(self, predictions) -> Any:
        """A pandas Series indexed by image_id (declared by ``"image"`` in :attr:`scores`)."""
        raise PluginError(f"metric {self.name} has no per-image score")

    def per_landmark(self, predictions) -> Any:
        """A pandas Series indexed by landmark (declared by ``"landmark"`` in :attr:`scores`)."""
        raise PluginError(f"metric {self.name} has no per-landmark score")

    def fold_score(self, predictions) -> float:
        """One number for a fold's whole table (declared by ``"fold"`` in :attr:`scores`)."""
        raise PluginError(f"metric {self.name} has no fold score")


GIVEN_GPU = "BENCHSUITE_GIVEN_GPU"


class Executor(Plugin):
    """Runs cells somewhere. ``work`` claims, computes and stores one cell by itself (it is picklable
    unless ``in_process`` is true), so an executor only has to call it, anywhere; the items are cells
    (picklable, each with a unique ``id`` and a ``describe()`` line, and ``trains_networks``: whether it
    needs a GPU); ``workdir`` is the run folder, for the executor's own files.

    An executor that gives a process a GPU sets the environment variable :data:`GIVEN_GPU` there (to the
    device's name): a network cell that then sees no CUDA device records it and warns."""

    kind: ClassVar[str] = "executors"
    default: ClassVar[bool] = False  # the executor used when a run names none
    in_process: bool = False  # True: call work here, with live progress; it may then be unpicklable
    parallel: int = 1  # how many cells it runs at once, at most: the progress spreads the time left over them

    @abc.abstractmethod
    def map(self, work: Callable[[Any], Any], items: Iterable[Any], workdir: Path) -> Iterator[Any]:
        """Run ``work`` on every item, yielding each result as it finishes (or none, if not waiting)."""

    def preflight(self) -> None:
        """Raise :class:`PluginError` when this executor cannot run here; called before anything is written."""


BASES: dict[str, type[Plugin]] = {
    "datasets": Dataset, "encoders": Encoder, "architectures": Architecture, "methods": Method,
    "codecs": Codec, "metrics": Metric, "executors": Executor,
}
assert tuple(BASES) == KINDS

# Members whose type is checked at registration (class attributes with a fixed type).
_ATTRIBUTE_TYPES: dict[str, type | tuple[type, ...]] = {
    "name": str, "description": str, "encoder": str, "outputs": frozenset, "output": str,
    "higher_is_better": bool, "unit": str, "scores": frozenset, "headline": bool, "tables": dict,
    "decimals": int, "baseline": bool, "opens_folders": bool, "synthetic": bool, "writes": tuple,
    "image_suffixes": tuple, "default": bool, "takes_region": bool, "reads": frozenset,
    "uses_validation": bool, "collapsed_above": (int, float), "nested": dict,
}
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # what a registered name may be
_ALLOWED = {"encoder": {"required", "none"}, "output": {"heatmap", "coords"}}
SCORE_METHODS = {"image": "per_image", "landmark": "per_landmark", "fold": "fold_score"}


def contract_problems(kind: str, cls: Any) -> list[str]:
    """Why ``cls`` does not fulfil the contract of ``kind``: one short reason per problem (empty: it does)."""
    base = BASES[kind]
    if not isinstance(cls, type):
        return [f"registered {cls!r}, which is not a class"]
    if not issubclass(cls, base):
        return [f"does not derive from benchsuite.api.{base.__name__}"]
    problems = []
    for attr in [a for k in reversed(base.__mro__) for a in vars(k) if vars(k)[a] is REQUIRED]:
        if getattr(cls, attr, REQUIRED) is REQUIRED:
            problems.append(f"missing required attribute {attr!r}")
    for attr, kinds in _ATTRIBUTE_TYPES.items():
        value = getattr(cls, attr, None)
        if hasattr(base, attr) and value is not REQUIRED and value is not None and not isinstance(value, kinds):
            problems.append(f"attribute {attr!r} must be {_type_name(kinds)}, got {value!r}")
        elif attr in _ALLOWED and hasattr(base, attr) and value not in (REQUIRED, None) and value not in _ALLOWED[attr]:
            problems.append(f"attribute {attr!r} must be one of {sorted(_ALLOWED[attr])}, got {value!r}")
    name = getattr(cls, "name", REQUIRED)
    if isinstance(name, str) and not NAME_PATTERN.fullmatch(name):
        problems.append(f"attribute 'name' must be letters, digits, '.', '_' or '-' (grid patterns, metric specs "
                        f"and method labels such as 'arch+encoder+codec' rely on it), got {name!r}")
    for method in sorted(getattr(cls, "__abstractmethods__", ())):
        problems.append(f"missing required method {method}()")
    problems += _signature_problems(base, cls)
    problems += _declared_problems(kind, cls)
    return problems


def _type_name(kinds) -> str:
    return " or ".join(k.__name__ for k in (kinds if isinstance(kinds, tuple) else (kinds,)))


def _signature_problems(base: type, cls: type) -> list[str]:
    """An overriding method must accept every parameter the core passes to the base's."""
    problems = []
    for attr, member in inspect.getmembers(base):
        if attr.startswith("_") or not callable(member) or isinstance(member, type):
            continue
        mine = getattr(cls, attr, None)
        if mine is None or mine is member or not callable(mine):
            continue
        try:
            wanted, got = inspect.signature(member), inspect.signature(mine)
        except (TypeError, ValueError):
            continue
        accepts_any_kw = any(p.kind is p.VAR_KEYWORD for p in got.parameters.values())
        accepts_any_pos = any(p.kind is p.VAR_POSITIONAL for p in got.parameters.values())
        for param in wanted.parameters.values():
            if param.name in ("self", "cls") or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            if param.name in got.parameters:
                continue
            if param.kind is param.KEYWORD_ONLY and accepts_any_kw:
                continue
            if param.kind is param.POSITIONAL_OR_KEYWORD and accepts_any_pos and accepts_any_kw:
                continue
            problems.append(f"method {attr}() must accept parameter {param.name!r} (signature {attr}{got})")
        required = [p.name for p in got.parameters.values() if p.default is p.empty
                    and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in wanted.parameters
                    and p.name not in ("self", "cls")]
        if required:
            problems.append(f"method {attr}() requires parameters the core never passes: {', '.join(required)}")
    return problems


def _declared_problems(kind: str, cls: type) -> list[str]:
    """Declared capabilities must be implemented, and declared protocol settings must exist."""
    problems = []
    base = BASES[kind]
    if kind == "metrics" and isinstance(cls.scores, frozenset):
        unknown = cls.scores - set(SCORE_METHODS)
        if unknown:
            problems.append(f"attribute 'scores' has unknown levels {sorted(unknown)} (known: image, landmark, fold)")
        if not cls.scores & {"image", "fold"}:
            problems.append("attribute 'scores' must include 'image' or 'fold'")
        for level in sorted(cls.scores & set(SCORE_METHODS)):
            method = SCORE_METHODS[level]
            if getattr(cls, method) is getattr(base, method):
                problems.append(f"declares {level!r} scores but does not implement {method}()")
    if kind == "architectures" and isinstance(cls.outputs, frozenset) and not cls.outputs:
        problems.append("attribute 'outputs' is empty: a method that learns without a codec is a method (derive from "
                        "benchsuite.api.Method and register it with register_methods)")
    if kind == "methods" and isinstance(cls.reads, frozenset):
        unknown = sorted(str(key) for key in cls.reads - SETTINGS)
        if unknown:
            problems.append(f"attribute 'reads' names settings the protocol does not have: {', '.join(unknown)}")
    if kind == "datasets" and cls.writes and cls.write_landmarks.__func__ is base.write_landmarks.__func__:
        problems.append("declares formats in 'writes' but does not implement write_landmarks()")
    if kind == "codecs" and cls.takes_region is True and not _accepts(cls.decode, "region"):
        problems.append("declares takes_region but decode() does not accept parameter 'region'")
    if kind == "datasets" and cls.image_suffixes and cls.read_image_file.__func__ is base.read_image_file.__func__:
        problems.append("declares 'image_suffixes' but does not implement read_image_file()")
    return problems


def _accepts(method, parameter: str) -> bool:
    """Whether ``method`` takes ``parameter`` as a keyword (by name or through ``**kwargs``)."""
    try:
        params = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == parameter and p.kind is not p.POSITIONAL_ONLY or p.kind is p.VAR_KEYWORD for p in params)


@dataclass
class Registered:
    """One registered class and where it came from."""

    kind: str
    name: str
    cls: type
    plugin: str
    version: str
    description: str = field(default="")
    distribution: str = field(default="")
