"""See the predictions: landmarks drawn on the images they were predicted on.

For each dataset × method of a run: the best, median and worst test images
(by per-image mean radial error over the method's out-of-fold predictions)
with ground truth (circle), prediction (cross) and the error between them
(line) for every named landmark; and for every landmark all its errors as a
scatter of prediction − truth offsets around the truth, in original pixels.

Images come from the dataset plugin, created from the cell's stored
configuration through the registry. Where it cannot be created or an image
cannot be read here, the figures say why instead of failing. Drawing maps
original pixels to the shown image exactly (pixel-centre convention: the
centre of the top-left pixel is (0, 0)).
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from benchsuite import distance
from benchsuite.api import PluginError
from benchsuite.report.plots import filename
from benchsuite.run.results import Run, group_cells

LONGEST = 400  # longest side of a drawn image, in shown pixels (a third of a page's width)
TRUTH = (26, 152, 80)  # green
PREDICTION = (215, 48, 39)  # red
ERROR_LINE = (255, 217, 47)  # yellow
EXAMPLES = ("best", "median", "worst")


# --- errors and the images to show -----------------------------------------------------------------------------


def radial_errors(table: pd.DataFrame) -> pd.Series:
    """Each row's distance from prediction to truth in original pixels (NaN where the truth is missing)."""
    errors = distance.radial_errors(table[["pred_x", "pred_y"]].to_numpy(float), table[["x", "y"]].to_numpy(float))
    return pd.Series(errors, index=table.index)


def image_errors(table: pd.DataFrame) -> pd.Series:
    """Each image's mean radial error over its landmarks with ground truth; images without any are left out."""
    errors = table.assign(error=radial_errors(table)).groupby("image_id", sort=True)["error"].mean()
    return errors.dropna()


def pick_examples(errors: pd.Series) -> list[tuple[str, str]]:
    """(kind, image id) of the best, median and worst image (the lower median when the count is even); an image
    that is two of them is listed once ("best and median")."""
    if errors.empty:
        return []
    ordered = errors.sort_values(kind="stable")
    ids = [str(ordered.index[0]), str(ordered.index[(len(ordered) - 1) // 2]), str(ordered.index[-1])]
    kinds: dict[str, list[str]] = {}
    for kind, image_id in zip(EXAMPLES, ids):
        kinds.setdefault(image_id, []).append(kind)
    return [(" and ".join([", ".join(k[:-1]), k[-1]] if len(k) > 1 else k), image_id) for image_id, k in kinds.items()]


# --- drawing ---------------------------------------------------------------------------------------------------


def shown_size(size: tuple[int, int], longest: int = LONGEST) -> tuple[int, int]:
    """(width, height) an image of ``size`` is drawn at: its longest side ``longest``, the aspect kept."""
    width, height = size
    scale = longest / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def to_shown(points: np.ndarray, size: tuple[int, int], shown: tuple[int, int]) -> np.ndarray:
    """Original-pixel points in the shown image's pixels, pixel centres onto pixel centres: u = (x + ½)·s − ½."""
    scale = np.array([shown[0] / size[0], shown[1] / size[1]])
    return (np.asarray(points, dtype=float) + 0.5) * scale - 0.5


def as_rgb(image: np.ndarray) -> Image.Image:
    """An H×W or H×W×C array as an 8-bit RGB picture; other depths scaled by their own range."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim == 3:
        array = array[..., :3]  # alpha dropped
    if array.dtype != np.uint8:
        values = array.astype(np.float64)
        low, high = np.nanmin(values), np.nanmax(values)
        array = ((values - low) / (high - low) * 255 if high > low else np.zeros_like(values)).astype(np.uint8)
    picture = Image.fromarray(array)
    return picture.convert("RGB")


@cache
def font(size: int) -> ImageFont.ImageFont:
    """DejaVu Sans (shipped with matplotlib), else Pillow's default font."""
    try:
        from matplotlib import font_manager

        return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)
    except (ImportError, OSError, ValueError):
        return ImageFont.load_default()


def draw_landmarks(image: np.ndarray, names: list[str], truth: np.ndarray, predicted: np.ndarray | None = None,
                   longest: int = LONGEST, numbered: bool = False) -> Image.Image:
    """The image with each named landmark's truth (circle) and, if given, prediction (cross) joined by the error,
    above a legend. ``truth`` and ``predicted`` are (n, 2) in original pixels, NaN where missing; ``numbered``
    puts each landmark's number before its name."""
    picture = as_rgb(image)
    size = picture.size
    shown = shown_size(size, longest)
    picture = picture.resize(shown, Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(picture)
    truth_shown = to_shown(truth, size, shown)
    predicted_shown = to_shown(predicted, size, shown) if predicted is not None else None
    label_font = font(12)
    radius = 5
    for j, name in enumerate(names):
        t = truth_shown[j]
        p = predicted_shown[j] if predicted_shown is not None else None
        if p is not None and np.isfinite(p).all():
            if np.isfinite(t).all():
                draw.line([tuple(t), tuple(p)], fill=ERROR_LINE, width=2)
            draw.line([(p[0] - radius, p[1] - radius), (p[0] + radius, p[1] + radius)], fill=PREDICTION, width=2)
            draw.line([(p[0] - radius, p[1] + radius), (p[0] + radius, p[1] - radius)], fill=PREDICTION, width=2)
        if np.isfinite(t).all():
            draw.ellipse([t[0] - radius, t[1] - radius, t[0] + radius, t[1] + radius], outline=TRUTH, width=2)
            anchor = t
        elif p is not None and np.isfinite(p).all():
            anchor = p  # no ground truth: the name goes by the prediction
        else:
            continue
        label = f"{j + 1} {name}" if numbered else name
        draw.text((anchor[0] + radius + 2, anchor[1] - radius - 2), label, font=label_font, fill="white",
                  anchor="ls", stroke_width=2, stroke_fill="black")
    return _with_legend(picture, predicted is not None)


def _with_legend(picture: Image.Image, with_prediction: bool) -> Image.Image:
    """The picture above a white strip with the legend."""
    text_font = font(12)
    strip = 22
    out = Image.new("RGB", (picture.width, picture.height + strip), "white")
    out.paste(picture, (0, 0))
    draw = ImageDraw.Draw(out)
    y = picture.height + 11
    draw.ellipse([6, y - 5, 16, y + 5], outline=TRUTH, width=2)
    label = "truth" if with_prediction else "landmark as annotated"
    x = draw.textlength(label, font=text_font) + 22
    draw.text((20, y), label, font=text_font, fill="black", anchor="lm")
    if with_prediction:
        draw.line([(x + 6, y - 5), (x + 16, y + 5)], fill=PREDICTION, width=2)
        draw.line([(x + 6, y + 5), (x + 16, y - 5)], fill=PREDICTION, width=2)
        draw.text((x + 20, y), "prediction", font=text_font, fill="black", anchor="lm")
        x += draw.textlength("prediction", font=text_font) + 28
        draw.line([(x, y), (x + 14, y)], fill=ERROR_LINE, width=3)
        draw.text((x + 18, y), "error", font=text_font, fill="black", anchor="lm")
    return out


def png_bytes(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


# --- the run's datasets ----------------------------------------------------------------------------------------


class Datasets:
    """The datasets of a run, created from their cells' stored configuration through the registry, once each."""

    def __init__(self, run: Run):
        self.run = run
        self._opened: dict[str, object] = {}

    def open(self, label: str):
        """The dataset plugin behind a dataset label; a :class:`PluginError` saying why it is not available here."""
        if label not in self._opened:
            try:
                self._opened[label] = self._create(label)
            except PluginError as exc:
                self._opened[label] = exc
        opened = self._opened[label]
        if isinstance(opened, PluginError):
            raise opened
        return opened

    def _create(self, label: str):
        cell = next((c for c in self.run.cells if c.dataset == label), None)
        config = (cell.config.get("dataset") if cell else None) or {}
        if not isinstance(config, dict) or not config.get("name"):
            raise PluginError(f"{label}: its cells record no dataset configuration")
        return self.run.registry.create("datasets", config["name"], config.get("params") or {})

    def human_error(self, label: str) -> float | None:
        """The dataset's inter-annotator error in original pixels: as its cells recorded it, else from the dataset
        when it is here and knows it."""
        if label in self.run.human_errors:
            return self.run.human_errors[label]
        try:
            value = self.open(label).human_error()
        except PluginError:
            return None
        return float(value) if value is not None and np.isfinite(value) else None


# --- the figures of a run --------------------------------------------------------------------------------------


@dataclass
class Figure:
    name: str  # a file name stem, unique within its dataset × method
    caption: str
    png: bytes


@dataclass
class MethodFigures:
    dataset: str
    method: str
    images: int  # out-of-fold test images with ground truth
    examples: list[Figure] = field(default_factory=list)  # best, median, worst
    offsets: list[Figure] = field(default_factory=list)  # one per landmark
    problems: list[str] = field(default_factory=list)  # why an example could not be drawn


@dataclass
class DatasetFigures:
    dataset: str
    methods: list[MethodFigures] = field(default_factory=list)
    unavailable: str | None = None  # why no image of this dataset could be loaded here


def method_predictions(run: Run, dataset: str, method: str) -> pd.DataFrame:
    """Every out-of-fold prediction of a dataset × method, all its folds together."""
    cells = group_cells(run.cells).get((dataset, method), [])
    return pd.concat([run.predictions(c) for c in cells], ignore_index=True)


def nice_limit(value: float) -> float:
    """The smallest 1, 2 or 5 × 10^k at least ``value`` (a round axis limit)."""
    if not np.isfinite(value) or value <= 0:
        return 1.0
    power = 10.0 ** np.floor(np.log10(value))
    return float(next(step * power for step in (1, 2, 5, 10) if step * power >= value * (1 - 1e-12)))


SHARED_QUANTILE = 0.98  # the panels of a dataset share the axis that holds this share of all its offsets


def shared_limit(tables: list[pd.DataFrame]) -> float:
    """One round axis limit for every offsets panel of a dataset (all its methods and landmarks), so that panels
    compare at a glance; it holds 98 % of the offsets, the rarest far misses are drawn on the frame's edge."""
    radii = np.concatenate([radial_errors(t.dropna(subset=["x", "y"])).to_numpy(float) for t in tables] or [[]])
    radii = radii[np.isfinite(radii)]
    return nice_limit(float(np.quantile(radii, SHARED_QUANTILE)) if len(radii) else 0.0)


def offsets_picture(dx, dy, title: str, unit: str = "px", side: int = 200, limit: float | None = None) -> Image.Image:
    """A landmark's errors as prediction − truth offsets (dots) around the truth (circle at the centre), y down as
    in the image, both axes ±limit ``unit`` (by default the offsets' own); the green ring is the median error,
    the cross the mean offset (bias); an offset beyond the frame is a hollow dot on its edge."""
    dx, dy = np.asarray(dx, float), np.asarray(dy, float)
    keep = np.isfinite(dx) & np.isfinite(dy)
    dx, dy = dx[keep], dy[keep]
    radii = np.hypot(dx, dy)
    limit = limit or nice_limit(float(radii.max()) if len(radii) else 0.0)
    margin, top = 34, 24
    out = Image.new("RGB", (side + 2 * margin - 10, side + top + 40), "white")
    draw = ImageDraw.Draw(out, "RGBA")
    x0, y0 = margin, top
    centre = np.array([x0 + side / 2, y0 + side / 2])
    scale = side / 2 / limit
    draw.rectangle([x0, y0, x0 + side, y0 + side], outline=(160, 160, 160))
    draw.line([(x0, centre[1]), (x0 + side, centre[1])], fill=(215, 215, 215))
    draw.line([(centre[0], y0), (centre[0], y0 + side)], fill=(215, 215, 215))
    small = font(10)
    label = f"{limit:g}"
    draw.text((x0, y0 + side + 3), f"−{label}", font=small, fill="black", anchor="lt")
    draw.text((x0 + side, y0 + side + 3), f"+{label}", font=small, fill="black", anchor="rt")
    draw.text((x0 - 3, y0), f"−{label}", font=small, fill="black", anchor="rt")
    draw.text((x0 - 3, y0 + side), f"+{label}", font=small, fill="black", anchor="rb")
    draw.text((centre[0], y0 + side + 16), f"Δx, Δy ({unit}; y down)", font=small, fill=(80, 80, 80), anchor="mt")
    if len(radii):
        median = float(np.median(radii)) * scale
        draw.ellipse([*(centre - median), *(centre + median)], outline=(*TRUTH, 200), width=1)
        shrink = np.minimum(1.0, limit / np.maximum(np.abs(dx), np.abs(dy)).clip(min=1e-12))  # onto the frame
        for u, v, inside in zip(centre[0] + dx * shrink * scale, centre[1] + dy * shrink * scale, shrink >= 1):
            if inside:
                draw.ellipse([u - 2.5, v - 2.5, u + 2.5, v + 2.5], fill=(*PREDICTION, 150))
            else:
                draw.ellipse([u - 3, v - 3, u + 3, v + 3], outline=(*PREDICTION, 220), width=1)
        bias = centre + np.array([dx.mean(), dy.mean()]) * scale
        draw.line([(bias[0] - 6, bias[1]), (bias[0] + 6, bias[1])], fill="black", width=2)
        draw.line([(bias[0], bias[1] - 6), (bias[0], bias[1] + 6)], fill="black", width=2)
    draw.ellipse([*(centre - 4), *(centre + 4)], outline=TRUTH, width=2)
    draw.text((out.width / 2, 4), title, font=font(12), fill="black", anchor="mt")
    return out


def offsets(table: pd.DataFrame, unit: str = "px", limit: float | None = None) -> list[Figure]:
    """One scatter per landmark of its prediction − truth offsets over all test images, all on ±``limit``."""
    limit = limit or shared_limit([table])
    figures = []
    known = table.dropna(subset=["x", "y"])
    for index, landmark in enumerate(pd.unique(table["landmark"])):
        rows = known[known["landmark"] == landmark]
        dx, dy = rows["pred_x"] - rows["x"], rows["pred_y"] - rows["y"]
        median = float(np.median(radial_errors(rows))) if len(rows) else float("nan")
        beyond = int(((dx.abs() > limit) | (dy.abs() > limit)).sum())
        caption = (f"{landmark}: {len(rows)} images, median error {median:.2f} {unit}, "
                   f"mean offset ({dx.mean():+.2f}, {dy.mean():+.2f})"
                   + (f", {beyond} beyond ±{limit:g} {unit} on the edge" if beyond else ""))
        figures.append(Figure(f"offsets-{index + 1:02d}-{filename(str(landmark))}", caption,
                              png_bytes(offsets_picture(dx, dy, str(landmark), unit, limit=limit))))
    return figures


def examples(table: pd.DataFrame, dataset) -> tuple[list[Figure], list[str]]:
    """The best, median and worst image of a method with its predictions drawn; problems instead where unreadable."""
    errors = image_errors(table)
    figures, problems = [], []
    for kind, image_id in pick_examples(errors):
        rows = table[table["image_id"].astype(str) == image_id]
        try:
            image = dataset.load_image(image_id)
        except PluginError as exc:
            problems.append(f"{kind} image {image_id}: not available here ({exc})")
            continue
        stored = _stored_size(rows)
        if stored and (image.shape[1], image.shape[0]) != stored:
            problems.append(f"{kind} image {image_id}: {image.shape[1]}×{image.shape[0]} px here but "
                            f"{stored[0]}×{stored[1]} px when predicted (the dataset changed); not drawn")
            continue
        caption = f"{kind} of {len(errors)}: {image_id}, mean radial error {errors[image_id]:.2f} px"
        outside = _outside(rows[["pred_x", "pred_y"]].to_numpy(float), (image.shape[1], image.shape[0]))
        if outside:
            caption += f" ({outside} prediction{'s' * (outside > 1)} outside the image)"
        picture = draw_landmarks(image, rows["landmark"].astype(str).tolist(), rows[["x", "y"]].to_numpy(float),
                                 rows[["pred_x", "pred_y"]].to_numpy(float))
        figures.append(Figure(f"{kind.replace(' and ', '-').replace(', ', '-')}-{filename(image_id)}", caption,
                              png_bytes(picture)))
    return figures, problems


def _outside(points: np.ndarray, size: tuple[int, int]) -> int:
    """How many points lie outside the image (its pixels span [-½, width - ½] × [-½, height - ½])."""
    x, y = points[:, 0], points[:, 1]
    return int(np.sum((x < -0.5) | (x > size[0] - 0.5) | (y < -0.5) | (y > size[1] - 0.5)))


def _stored_size(rows: pd.DataFrame) -> tuple[int, int] | None:
    if not {"width", "height"} <= set(rows.columns) or rows[["width", "height"]].isna().any().any():
        return None
    return int(rows["width"].iloc[0]), int(rows["height"].iloc[0])


def run_figures(run: Run, datasets: Datasets | None = None) -> list[DatasetFigures]:
    """Every dataset × method's example overlays and per-landmark offset scatters."""
    datasets = datasets or Datasets(run)
    result: dict[str, DatasetFigures] = {}
    tables = {key: method_predictions(run, *key) for key in group_cells(run.cells)}
    limits = {d: shared_limit([t for (label, _), t in tables.items() if label == d]) for d, _ in tables}
    for (dataset_label, method), table in tables.items():
        figures = result.setdefault(dataset_label, DatasetFigures(dataset_label))
        entry = MethodFigures(dataset_label, method, len(image_errors(table)))
        entry.offsets = offsets(table, limit=limits[dataset_label])
        try:
            dataset = datasets.open(dataset_label)
        except PluginError as exc:
            figures.unavailable = str(exc)
        else:
            entry.examples, entry.problems = examples(table, dataset)
        figures.methods.append(entry)
    return list(result.values())


def write_figures(figures: list[DatasetFigures], folder: Path) -> list[Path]:
    """Every figure as a PNG file under ``folder/<dataset>/<method>/``; the paths written."""
    from benchsuite.report.plots import save

    written = []
    for dataset in figures:
        for method in dataset.methods:
            target = Path(folder) / filename(dataset.dataset) / filename(method.method)
            for figure in method.examples + method.offsets:
                written.append(save(figure.png, target / f"{figure.name}.png"))
    return written
