"""Dataset manifests (the repository's ``datasets/*.toml``): what a dataset is and where its files live.

A manifest names the dataset, its source, licence, citation and landmark
names, the format and layout of its files, the counts and checksums they
must have, and how to obtain them. It is installed with the package as
``benchsuite_builtin.manifests``, so an installed suite knows its datasets
too. Files are never shipped: they are looked up under a root —

* ``kind = "shared"``: the team's shared datasets, ``$BENCHSUITE_SHARED_DATA``
  or ``../shared/datasets`` beside the repository checkout;
* ``kind = "download"``: ``$BENCHSUITE_DATA`` or ``~/.local/share/benchsuite/datasets``,
  where ``benchsuite datasets fetch NAME`` puts them.

A checksum key is a path inside the dataset folder, or a glob pattern whose
checksum is the sha256 of its ``sha256sum``-style listing (``<sha256>  <path>``
lines, sorted by path): one line then verifies a whole folder.
"""
from __future__ import annotations

import hashlib
import os
import tomllib
from importlib import resources
from pathlib import Path

from benchsuite.api import ERROR, PluginError, Problem

REQUIRED = ("name", "title", "kind", "folder", "source", "licence", "citation", "landmark_names", "obtain")
KINDS = ("shared", "download")
_REPO = Path(__file__).resolve().parents[3]  # <repo>/plugins/benchsuite_builtin/datasets/manifest.py


def load_manifests() -> list[dict]:
    """Every packaged manifest, validated, sorted by name."""
    folder = resources.files("benchsuite_builtin.manifests")
    manifests = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".toml"):
            manifests.append(parse(entry.read_text(encoding="utf-8"), entry.name))
    return manifests


def parse(text: str, source: str) -> dict:
    try:
        manifest = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PluginError(f"manifest {source}: not valid TOML: {exc}") from None
    missing = [key for key in REQUIRED if key not in manifest]
    if missing:
        raise PluginError(f"manifest {source}: missing {', '.join(missing)}")
    if manifest["kind"] not in KINDS:
        raise PluginError(f"manifest {source}: kind must be one of {', '.join(KINDS)}, got {manifest['kind']!r}")
    expected = manifest.get("expected", {})
    if "landmarks" in expected and expected["landmarks"] != len(manifest["landmark_names"]):
        raise PluginError(f"manifest {source}: {len(manifest['landmark_names'])} landmark names "
                          f"but expected.landmarks = {expected['landmarks']}")
    return manifest


def default_root(kind: str) -> Path:
    if kind == "shared":
        return Path(os.environ.get("BENCHSUITE_SHARED_DATA") or _REPO.parent / "shared" / "datasets")
    return Path(os.environ.get("BENCHSUITE_DATA") or Path.home() / ".local" / "share" / "benchsuite" / "datasets")


def where_to_put(manifest: dict, folder: Path) -> str:
    """One line: what is missing, where it must go, how to get it."""
    obtain = manifest["obtain"]
    how = obtain.get("instructions", "").strip().rstrip(".")
    fetch = f"run `benchsuite datasets fetch {manifest['name']}`, or " if obtain.get("url") else ""
    return (f"{manifest['name']}: dataset files not found at {folder}; {fetch}put them there "
            f"({manifest.get('layout', 'images and landmark files').strip()}). How to obtain them: {how}")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checksum(folder: Path, key: str) -> str | None:
    """The sha256 of a file, or of a glob's listing; None when nothing matches."""
    if any(ch in key for ch in "*?["):
        paths = sorted(p for p in folder.glob(key) if p.is_file())
        if not paths:
            return None
        listing = "".join(f"{sha256_file(p)}  {p.relative_to(folder).as_posix()}\n" for p in paths)
        return hashlib.sha256(listing.encode()).hexdigest()
    path = folder / key
    return sha256_file(path) if path.is_file() else None


def verify(manifest: dict, folder: Path) -> list[Problem]:
    """File counts and checksums against the manifest."""
    problems = []
    for pattern, count in manifest.get("expected", {}).get("files", {}).items():
        found = sum(1 for p in folder.glob(pattern) if p.is_file())
        if found != count:
            problems.append(Problem(str(folder / pattern), f"{found} files, the manifest expects {count}", ERROR))
    for key, expected in manifest.get("checksums", {}).items():
        actual = checksum(folder, key)
        if actual != expected:
            problems.append(Problem(str(folder / key), "missing" if actual is None else
                                    f"sha256 {actual[:12]}… differs from the manifest's {expected[:12]}…", ERROR))
    return problems
