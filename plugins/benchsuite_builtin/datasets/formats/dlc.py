"""DeepLabCut labelled data: ``labeled-data/<video>/CollectedData_<scorer>.csv`` (or ``.h5``).

The CSV has a three-row header — ``scorer``, ``bodyparts``, ``coords`` (x, y
per body part) — then one row per frame: the frame's path relative to the
project (``labeled-data/video/img005.png``; DeepLabCut ≥ 2.3 splits it over
three index columns), then x, y per body part, empty where the part was not
labelled (missing). A multi-animal project adds an ``individuals`` row; with
more than one individual it is not a single-instance landmark set and is
rejected. The CSV is preferred; the ``.h5`` (same table) is read only when
there is no CSV, and needs PyTables.

An HDF5 file can hold pickled Python objects, and PyTables unpickles them
while reading, which runs whatever code the pickle names. An ``.h5`` is
therefore read with unpickling restricted to plain values (numbers,
strings, lists, tuples, dicts): a pickle that names any class or function
is refused and the file is reported, nothing of it runs.

:func:`write` produces the CSV as DeepLabCut's example projects ship it: the
three header rows, one index column ``labeled-data/<video>/<image>``, x, y
per body part with full precision, empty cells for missing parts. Given a
project's ``labeled-data/<video>`` folder it writes the one file there;
given any other folder, it is the project folder and each video (an image's
folder name) gets ``labeled-data/<video>/CollectedData_<scorer>.csv``. The
scorer is the annotator, else the scorer in the given project folder's
``config.yaml`` (so that ``deeplabcut.convertcsv2h5`` finds the file and
makes the ``.h5`` DeepLabCut's labelling GUI opens), else ``benchsuite``: the scorer that marks the
suite's own predictions, which are never taken for annotations until proofread under a person's name.
The frames are copied beside the CSV (the GUI shows only the frames of ``labeled-data/<video>/``;
copies, not links, so the project survives being moved to another disk or machine), and a project
folder without ``config.yaml`` gets a stub naming the scorer, the body parts and one video per
folder, whose comments say how to open it or merge it into an existing project.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import pickle
import re
import types
from pathlib import Path

import numpy as np

from benchsuite.api import PluginError
from benchsuite.toolkit import sha256

from .annotations import PREDICTED_SCORER, Annotations, Record, mark_predicted, number
from .writing import Item, unique

FORMAT = "dlc"
_HEADERS = (["scorer", "bodyparts", "coords"], ["scorer", "individuals", "bodyparts", "coords"])


def sniff(path: Path) -> bool:
    if path.name.startswith("CollectedData_") and path.suffix.lower() in (".csv", ".h5"):
        return True
    if path.suffix.lower() != ".csv":
        return False
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return handle.readline().split(",")[0].strip().lower() == "scorer"
    except OSError:
        return False


def read(files: list[Path], landmark_names: list[str] | None = None) -> Annotations:
    annotations = Annotations(FORMAT, list(landmark_names or []))
    csvs = {p.with_suffix("") for p in files if p.suffix.lower() == ".csv"}
    for path in files:
        if path.suffix.lower() == ".h5" and path.with_suffix("") in csvs:
            continue  # the CSV beside it holds the same table
        rows = _h5_rows(path, annotations) if path.suffix.lower() == ".h5" else _csv_rows(path, annotations)
        if rows is not None:
            _parse(path, rows, annotations)
    return annotations


def _csv_rows(path: Path, annotations: Annotations) -> list[list[str]] | None:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        annotations.error(str(path), f"cannot read file ({exc})")
        return None
    return [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]


def _h5_rows(path: Path, annotations: Annotations) -> list[list[str]] | None:
    """The .h5 table as the rows its CSV export would have."""
    try:
        import pandas as pd
        import tables  # noqa: F401  (pandas needs it for HDF5)
    except ImportError:
        annotations.error(str(path), "reading DeepLabCut .h5 files needs PyTables (pip install tables); "
                                     "or put the CSV DeepLabCut writes beside it")
        return None
    refused: list[str] = []
    try:
        with _plain_unpickling(refused):
            frame = pd.read_hdf(path)
    except Exception as exc:  # noqa: BLE001 - any HDF5 failure is a file problem
        if not refused:
            annotations.error(str(path), f"cannot read HDF5 table ({type(exc).__name__}: {exc})")
            return None
    if refused:
        annotations.error(str(path), f"refused: the file stores pickled Python objects ({refused[0]}), which could "
                                     "run code; use the CSV DeepLabCut writes beside it")
        return None
    depth = frame.index.nlevels
    header = [[str(name)] + [""] * (depth - 1) + [str(c[level]) for c in frame.columns]
              for level, name in enumerate(frame.columns.names)]
    body = []
    for index, values in zip(frame.index, frame.to_numpy(dtype=float)):
        cells = list(index) if isinstance(index, tuple) else [index]
        body.append([str(c) for c in cells] + ["" if np.isnan(v) else repr(float(v)) for v in values])
    return header + body


class _PlainUnpickler(pickle.Unpickler):
    """Rebuilds only what pickle's own opcodes make (numbers, strings, lists, tuples, dicts, sets)."""

    def __init__(self, data: bytes, refused: list[str]):
        super().__init__(io.BytesIO(data))
        self.refused = refused

    def find_class(self, module: str, name: str):  # how a pickle reaches code: never allowed here
        self.refused.append(f"{module}.{name}")
        raise pickle.UnpicklingError(f"refused to load {module}.{name}")


@contextlib.contextmanager
def _plain_unpickling(refused: list[str]):
    """While reading an .h5, PyTables' unpickling (attributes, object arrays) rebuilds plain values only."""
    import tables.atom
    import tables.attributeset

    restricted = types.SimpleNamespace(
        loads=lambda data, **_: _PlainUnpickler(bytes(data), refused).load(), dumps=pickle.dumps,
        HIGHEST_PROTOCOL=pickle.HIGHEST_PROTOCOL, UnpicklingError=pickle.UnpicklingError)
    modules = (tables.atom, tables.attributeset)
    saved = [m.pickle for m in modules]
    for module in modules:
        module.pickle = restricted
    try:
        yield
    finally:
        for module, original in zip(modules, saved):
            module.pickle = original


def _parse(path: Path, rows: list[list[str]], annotations: Annotations) -> None:
    kinds = [row[0].strip().lower() for row in rows[:4] if row]
    header = next((h for h in _HEADERS if kinds[: len(h)] == h), None)
    if header is None:
        found = ", ".join(repr(k) for k in kinds[:3]) or "nothing"
        annotations.error(str(path), f"unexpected DeepLabCut header: expected rows scorer, bodyparts, coords; found {found}")
        return
    named = dict(zip(header, rows[: len(header)]))
    coords_row = named["coords"]
    width = 1
    while width < len(coords_row) and not coords_row[width].strip():
        width += 1  # index columns: empty in the header rows
    coords = [c.strip().lower() for c in coords_row[width:]]
    parts = [c.strip() for c in named["bodyparts"][width:]]
    problem = _header_problem(coords, parts, named.get("individuals", [])[width:])
    if problem:
        annotations.error(str(path), f"unexpected DeepLabCut header: {problem}")
        return
    names = parts[0::2]
    if annotations.landmark_names and names != annotations.landmark_names:
        annotations.error(str(path), f"body parts {names} differ from the expected {annotations.landmark_names}")
        return
    annotations.landmark_names = names
    since = len(annotations.records)
    for row_no, row in enumerate(rows[len(header):], start=len(header) + 1):
        _row(path, row_no, row, width, names, annotations)
    if {c.strip() for c in named["scorer"][width:]} == {PREDICTED_SCORER}:
        mark_predicted(annotations, since)


def _header_problem(coords: list[str], parts: list[str], individuals: list[str]) -> str | None:
    if "likelihood" in coords:
        return "coords has 'likelihood': this is a predictions file, not labelled data"
    if not coords or len(coords) % 2 or coords[0::2] != ["x"] * (len(coords) // 2) or coords[1::2] != ["y"] * (len(coords) // 2):
        return f"the coords row must be x, y pairs, got {', '.join(coords[:6]) or 'nothing'}"
    if len(parts) != len(coords) or parts[0::2] != parts[1::2]:
        return "the bodyparts row does not name each x, y pair once"
    if len(set(parts[0::2])) != len(parts) // 2:
        return "a body part is named twice"
    animals = sorted({i.strip() for i in individuals if i.strip()})
    if len(animals) > 1:
        return f"multi-animal project ({len(animals)} individuals: {', '.join(animals[:4])}) is not a single landmark set"
    return None


def _row(path: Path, row_no: int, row: list[str], width: int, names: list[str], annotations: Annotations) -> None:
    reference = "/".join(c.strip() for c in row[:width] if c.strip())
    where = f"{path} row {row_no} ({reference})"
    key = _key(reference)
    values = row[width:]
    if len(values) != 2 * len(names):
        annotations.error(where, f"{len(values)} coordinate values, the header announces {2 * len(names)} "
                                 f"({len(names)} body parts × x, y)")
        annotations.rejected.add(key)
        return
    try:
        points = np.array([number(v) for v in values], dtype=np.float64).reshape(-1, 2)
    except ValueError as exc:
        annotations.error(where, f"not a coordinate: {exc}")
        annotations.rejected.add(key)
        return
    annotations.records.append(Record(key=key, points=points, where=where, image=reference,
                                      image_path=_image_path(path, reference)))


def _key(reference: str) -> str:
    """Sample id: the frame's path without ``labeled-data/`` and suffix (``video/img005``)."""
    parts = Path(reference).with_suffix("").parts
    return "/".join(parts[1:] if parts and parts[0] == "labeled-data" else parts)


def _image_path(path: Path, reference: str) -> Path:
    """Frames are named relative to the project folder, two levels above labeled-data/<video>/."""
    if path.parent.parent.name == "labeled-data":
        return path.parent.parent.parent / reference
    return path.parent / Path(reference).name


def write(items: list[Item], landmark_names: list[str], folder: Path, annotator: str | None = None) -> dict[str, str]:
    one_video = folder.parent.name == "labeled-data"
    scorer = annotator or (None if one_video else _project_scorer(folder)) or PREDICTED_SCORER
    if not re.fullmatch(r"[^/\\\x00]+", scorer) or scorer in (".", ".."):
        raise PluginError(f"DeepLabCut scorer {scorer!r} cannot be part of a file name")
    videos: dict[str, list[Item]] = {}
    for item in items:
        videos.setdefault(folder.name if one_video else item.image.parent.name, []).append(item)
    files: dict[str, str | Path] = {}
    for video, members in videos.items():
        unique(members, lambda item: item.image.name, f"labeled-data/{video}/")
        place = "" if one_video else f"labeled-data/{video}/"
        files[f"{place}CollectedData_{scorer}.csv"] = _table(video, members, landmark_names, scorer)
        for item in members:  # DeepLabCut's labelling GUI shows the frames of labeled-data/<video>/ only
            if not _holds(folder / f"{place}{item.image.name}", item.image):
                files[f"{place}{item.image.name}"] = item.image
    if not one_video and not (folder / "config.yaml").exists():
        files["config.yaml"] = _config_stub(folder, videos, landmark_names, scorer)
    return files


def _holds(target: Path, image: Path) -> bool:
    """Whether ``target`` is already that image or a copy of it (predicting a project's own frames)."""
    if not target.is_file():
        return False
    try:
        return target.samefile(image) or sha256(target) == sha256(image)
    except OSError:
        return False


def _config_stub(project: Path, videos: dict[str, list[Item]], landmark_names: list[str], scorer: str) -> str:
    """A project's config.yaml with what DeepLabCut's labelling reads: the scorer, the body parts, one video
    per labeled-data folder (DeepLabCut pairs them by name). Strings are written as JSON, which YAML reads."""
    text = json.dumps
    lines = ["# A DeepLabCut project around landmarks that benchsuite predicted, to proofread them:",
             f"#   deeplabcut.convertcsv2h5({text(str(project / 'config.yaml'))}, userfeedback=False)",
             f"#   deeplabcut.label_frames({text(str(project / 'config.yaml'))})",
             "# To add them to a project of your own instead: copy labeled-data/<video>/ into its labeled-data/,",
             f"# rename CollectedData_{scorer}.csv after its scorer (and the scorer row inside), list the video",
             "# under its video_sets, then run the two commands above with its config.yaml.",
             "Task: benchsuite-predictions", f"scorer: {text(scorer)}", "date: predicted",
             "multianimalproject: false", "identity:", f"project_path: {text(str(project))}", "video_sets:"]
    for video, members in videos.items():
        width, height = max(i.width for i in members), max(i.height for i in members)
        lines += [f"  {text(str(project / 'videos' / f'{video}.avi'))}:", f"    crop: 0, {width}, 0, {height}"]
    lines += ["bodyparts:"] + [f"- {text(name)}" for name in landmark_names]
    lines += ["start: 0", "stop: 1", "numframes2pick: 20", "skeleton: []", "skeleton_color: black", "pcutoff: 0.6",
              "dotsize: 8", "alphavalue: 0.7", "colormap: rainbow", "TrainingFraction:", "- 0.95", "iteration: 0",
              "default_net_type: resnet_50", "default_augmenter: default", "snapshotindex: -1", "batch_size: 8",
              "cropping: false", "x1: 0", "x2: 640", "y1: 0", "y2: 480", "corner2move2:", "- 50", "- 50",
              "move2corner: true"]
    return "\n".join(lines) + "\n"


def _table(video: str, items: list[Item], landmark_names: list[str], scorer: str) -> str:
    rows = [["scorer"] + [scorer] * 2 * len(landmark_names),
            ["bodyparts"] + [name for name in landmark_names for _ in "xy"],
            ["coords"] + ["x", "y"] * len(landmark_names)]
    for item in items:
        cells = [""] * 2 * len(landmark_names)
        for i, point in enumerate(item.points()):
            if point is not None:
                cells[2 * i: 2 * i + 2] = [repr(point[0]), repr(point[1])]
        rows.append([f"labeled-data/{video}/{item.image.name}"] + cells)
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    return text.getvalue()


def _project_scorer(project: Path) -> str | None:
    """The ``scorer:`` of a DeepLabCut project's config.yaml, when there is one."""
    try:
        config = (project / "config.yaml").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(r"^scorer:[ \t]*['\"]?([^'\"\r\n#]*?)['\"]?[ \t]*(?:#.*)?$", config, re.MULTILINE)
    return match.group(1) if match and match.group(1) else None
