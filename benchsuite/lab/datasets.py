"""``benchsuite datasets check PATH|NAME [--draw N]`` and ``benchsuite datasets fetch NAME``.

The core knows no file format: a PATH is handed to the dataset plugin that
declares ``opens_folders`` (parameter ``path``), a NAME to that dataset, both
through the registry. A dataset's ``check()`` returns a
:class:`benchsuite.api.CheckReport`; its ``fetch(progress)`` obtains the files. ``check`` prints the summary and the warnings on stdout,
each error on one line on stderr, and exits 1 when there was any error. With
``--draw`` it also draws a few images with their landmarks numbered and
named, to see a wrong convention (a y axis counted from the bottom, swapped
landmarks) before spending hours of training on it.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from benchsuite.api import CheckReport, PluginError
from benchsuite.lab.checks import render
from benchsuite.report.plots import filename

EXIT_ERRORS = 1
DRAWN = 6  # images drawn by --draw without a number
DRAWN_SIDE = 800  # longest side of a drawing, in pixels


def add_parser(sub, common) -> None:
    parser = sub.add_parser("datasets", parents=[common], help="check a folder or dataset; fetch a named dataset")
    actions = parser.add_subparsers(dest="action", required=True)
    check = actions.add_parser("check", parents=[common], help="validate and summarise a folder or a named dataset")
    check.add_argument("target", metavar="PATH|NAME", help="a folder or annotation file, or a registered dataset name")
    check.add_argument("--format", help="the annotation format (default: detected)")
    check.add_argument("--annotator", help="which annotator is the ground truth (default: the first)")
    check.add_argument("--outside", help="points outside the image: keep (warn), missing, or error")
    check.add_argument("--root", help="folder holding a named dataset's files (default: its usual place)")
    check.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="another dataset parameter")
    check.add_argument("--draw", nargs="?", type=int, const=DRAWN, metavar="N",
                       help=f"also draw N images (default {DRAWN}) with their landmarks numbered and named: a flipped "
                       "y axis or swapped landmarks show before any training")
    check.add_argument("--out", metavar="DIR", help="folder for the drawings (default: ./<dataset>-annotations)")
    fetch = actions.add_parser("fetch", parents=[common], help="download a named dataset, or say where its files go")
    fetch.add_argument("name", help="a registered dataset name")
    fetch.add_argument("--root", help="folder to put it in (default: $BENCHSUITE_DATA or ~/.local/share/benchsuite/datasets)")


def command(args, registry) -> int:
    if args.action == "check":
        return _check(args, registry)
    return _fetch(args, registry)


def _check(args, registry) -> int:
    from benchsuite.protocol import parse_assignments

    params = {key: value for key, value in (("format", args.format), ("annotator", args.annotator),
                                            ("outside", args.outside), ("root", args.root)) if value is not None}
    target = args.target
    if Path(target).exists():
        name, params = folder_dataset(registry), {"path": target} | params
    elif target in registry.names("datasets"):
        name = target
    else:
        raise PluginError(f"{target}: no such file or folder, and no dataset of that name "
                          f"(datasets: {', '.join(registry.names('datasets'))})")
    params |= typed_params(registry.get("datasets", name).cls, parse_assignments(args.param))
    dataset = registry.create("datasets", name, params)
    report = dataset.check()
    print(render(report))
    for problem in report.errors:
        print(f"benchsuite: error: {problem.line()}", file=sys.stderr)
    if args.draw is not None:
        if args.draw < 1:
            raise PluginError(f"--draw {args.draw}: draw at least one image")
        label = Path(target).name if name != target else target
        folder = Path(args.out) if args.out else Path(f"{filename(label)}-annotations")
        written = draw(dataset, report, args.draw, folder)
        print(f"{len(written)} images drawn with their landmarks in {folder}: {', '.join(p.name for p in written)}")
    return EXIT_ERRORS if report.errors else 0


def draw(dataset, report: CheckReport, count: int, folder: Path) -> list[Path]:
    """``count`` usable images spread over the dataset, each with its landmarks numbered and named, as PNG files."""
    from benchsuite.report.overlays import draw_landmarks, png_bytes
    from benchsuite.report.plots import save

    samples = report.samples
    picks = sorted({round(i) for i in np.linspace(0, len(samples) - 1, min(count, len(samples)))}) if samples else []
    written = []
    for index in picks:
        sample = samples[index]
        try:
            image = dataset.load_image(sample.id)
        except PluginError as exc:
            print(f"benchsuite: error: {exc}", file=sys.stderr)
            continue
        picture = draw_landmarks(image, report.landmark_names, sample.landmarks, longest=DRAWN_SIDE, numbered=True)
        written.append(save(png_bytes(picture), folder / f"{filename(sample.id)}.png"))
    return written


def _fetch(args, registry) -> int:
    dataset = registry.create("datasets", args.name, {"root": args.root} if args.root else {})
    print(dataset.fetch(progress=print))
    return 0


def typed_params(cls: type, texts: dict[str, str]) -> dict:
    """``--param`` values as typed: a yes/no option reads true/false, 1/0, yes/no; anything else stays text."""
    import typing

    from benchsuite.protocol import parse_flag

    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # noqa: BLE001 - an annotation that cannot be evaluated: the values stay text
        hints = {}
    flags = {key for key, hint in hints.items() if hint is bool or bool in typing.get_args(hint)}
    return {key: parse_flag(value, f"--param {key}") if key in flags else value for key, value in texts.items()}


def folder_dataset(registry) -> str:
    """The name of the dataset plugin that opens a user's own folder."""
    return registry.the_one("datasets", lambda cls: cls.opens_folders, "able to open a folder (opens_folders)").name


def folder_component(pattern: str | None, registry) -> dict | None:
    """``-d PATH`` naming an existing folder or file: the grid entry that reads it."""
    if not pattern or not Path(pattern).exists():
        return None
    path = Path(pattern).resolve()
    return {"name": folder_dataset(registry), "path": str(path), "label": path.name}
