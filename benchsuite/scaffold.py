"""``benchsuite new-plugin KIND NAME``: a complete plugin package to start from.

The package registers a working example of its kind through the
``benchsuite`` entry-point group, tests it with the conformance kit
(:mod:`benchsuite.testing`), and carries a README and a CI workflow that
installs it, runs the test and gates a smoke benchmark with ``benchsuite
compare REFERENCE RUN --fail-worse``. The files are rendered from the
templates in ``benchsuite/templates/`` and written all at once: an existing
folder is never touched, and a failure leaves nothing behind.
"""
from __future__ import annotations

import os
import re
import shutil
import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from benchsuite import __version__
from benchsuite.api import BASES, KINDS, PluginError

NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")  # lower-case words joined by '-': a package, a module, a name
MAX_NAME = 40

_SYNTHETIC = '[{ name = "synthetic", n_images = 24, n_landmarks = 3, min_size = 40, max_size = 64 }]'
_SMALL_UNET = '{ name = "smp-unet", encoder_depth = 3, decoder_channels = [16, 8, 8] }'
_BASELINE_AND_UNET = f"""datasets = {_SYNTHETIC}
architectures = ["mean-shape", {_SMALL_UNET}]
encoders = ["resnet18"]
codecs = [{{ name = "gaussian", sigma = 2.0 }}]"""


@dataclass(frozen=True)
class _Kind:
    """What differs between the kinds in a generated package."""

    axes: str  # the smoke benchmark's grid axes
    test_arguments: str = ""  # after the class, in the conformance test's call
    run_options: str = ""  # for ``benchsuite run``
    compare_options: str = ""  # for ``benchsuite compare``


_KINDS = {
    "datasets": _Kind(f"""datasets = ["$name"]
architectures = ["mean-shape", {_SMALL_UNET}]
encoders = ["resnet18"]
codecs = [{{ name = "gaussian", sigma = 2.0 }}]""", ", n_images=6"),
    "encoders": _Kind(f"""datasets = {_SYNTHETIC}
architectures = [{{ name = "fc-regression", encoder_depth = 3 }}]
encoders = ["$name"]
codecs = ["regression"]""", ", width=4"),
    "architectures": _Kind(f"""datasets = {_SYNTHETIC}
architectures = ["$name"]
encoders = []
codecs = [{{ name = "gaussian", sigma = 2.0 }}, "regression"]""", ", width=4"),
    "methods": _Kind(f"""datasets = {_SYNTHETIC}
architectures = ["mean-shape", "$name"]
encoders = []
codecs = []""", ", quantile=0.5"),
    "codecs": _Kind(f"""datasets = {_SYNTHETIC}
architectures = [{_SMALL_UNET}]
encoders = ["resnet18"]
codecs = ["$name", {{ name = "gaussian", sigma = 2.0 }}]"""),
    "metrics": _Kind(_BASELINE_AND_UNET, compare_options=" --metric $name"),
    "executors": _Kind(_BASELINE_AND_UNET, run_options=" --executor $name"),
}
assert tuple(_KINDS) == KINDS


def kind_of(word: str) -> str:
    """``architecture`` or ``architectures`` to the kind's name; an error listing the kinds otherwise."""
    kind = word if word in KINDS else f"{word}s"
    if kind not in KINDS:
        raise PluginError(f"unknown plugin kind {word!r} (kinds: {', '.join(k[:-1] for k in KINDS)})")
    return kind


def check_name(name: str) -> str:
    if len(name) > MAX_NAME or not NAME.fullmatch(name):
        raise PluginError(f"plugin name {name!r} must be lower-case letters and digits, words joined by '-', "
                          f"starting with a letter, at most {MAX_NAME} characters (e.g. 'my-net')")
    return name


def files(kind: str, name: str) -> dict[str, str]:
    """Every file of the package (path relative to its folder -> text)."""
    kind, name = kind_of(kind), check_name(name)
    module = "benchsuite_" + name.replace("-", "_")
    values = {
        "kind": kind, "kind_word": kind[:-1], "name": name, "module": module, "dist": f"benchsuite-{name}",
        "class_name": "".join(word.capitalize() for word in name.split("-")), "base": BASES[kind].__name__,
        "title": name.replace("-", " ").capitalize(), "benchsuite_version": __version__,
    }
    facts = _KINDS[kind]
    values |= {key: string.Template(getattr(facts, key)).substitute(values)
               for key in ("axes", "test_arguments", "run_options", "compare_options")}
    templates = {f"{module}/__init__.py": f"{kind}.py", "pyproject.toml": "pyproject.toml",
                 "README.md": "README.md", f"tests/test_{module}.py": "test_plugin.py",
                 "benchmark.toml": "benchmark.toml", ".github/workflows/ci.yml": "ci.yml"}
    folder = resources.files("benchsuite") / "templates"
    return {path: string.Template((folder / f"{template}.tmpl").read_text()).substitute(values)
            for path, template in templates.items()}


def new_plugin(kind: str, name: str, out: str | Path | None = None) -> Path:
    """Write the package into ``out`` (default ``./benchsuite-NAME``), which must not exist yet."""
    rendered = files(kind, name)
    folder = Path(out if out is not None else f"benchsuite-{name}")
    if folder.exists() or folder.is_symlink():
        raise PluginError(f"{folder}: already exists; nothing was written (choose another --out)")
    parent = folder.absolute().parent
    if not parent.is_dir():
        raise PluginError(f"{parent}: no such folder; nothing was written")
    staging = parent / f".{folder.name}.{os.getpid()}.tmp"
    staging.mkdir()
    try:
        for path, text in rendered.items():
            target = staging / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        os.rename(staging, folder)  # all files appear at once
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder
