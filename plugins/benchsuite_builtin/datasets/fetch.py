"""``benchsuite datasets fetch``: download, verify, unpack — or say where the files go.

A download is accepted only with the sha256 its manifest gives, checked
before anything is unpacked. Archives (zip, tar, tar.gz/bz2/xz) are
checked member by member first: an absolute path, a ``..`` component, a
link or a device file anywhere in it rejects the whole archive, so nothing
is ever written outside the dataset's folder. So does an archive that
would unpack to more than ``MAX_BYTES`` (or more than the free disk) or
more than ``MAX_MEMBERS`` files (a zip bomb), and one where a name is both
a file and a folder. Unpacking happens in a
temporary folder beside the target, renamed into place at the end: an
interrupted fetch leaves no half dataset behind.
"""
from __future__ import annotations

import hashlib
import re
import shutil
import stat
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from benchsuite.api import PluginError
from benchsuite.toolkit import write_atomic

from .manifest import where_to_put

_CHUNK = 1 << 20
MAX_BYTES = 64 << 30  # unpacked size above which an archive is refused (no landmark dataset is that big)
MAX_MEMBERS = 1_000_000


def fetch(manifest: dict, folder: Path, progress=print) -> str:
    name = manifest["name"]
    if folder.is_dir() and any(folder.iterdir()):
        return f"{name}: already present at {folder} (run `benchsuite datasets check {name}` to verify it)"
    obtain = manifest["obtain"]
    url, expected = obtain.get("url"), obtain.get("sha256")
    if not url:
        raise PluginError(where_to_put(manifest, folder))
    if not expected:
        raise PluginError(f"{name}: the manifest gives a URL but no sha256; refusing an unverifiable download")
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".{folder.name}-fetch-") as tmp:
        download = Path(tmp) / (PurePosixPath(url.split("?")[0]).name or "download")
        progress(f"downloading {url}")
        download_verified(url, download, expected)
        progress(f"sha256 verified ({expected[:12]}…)")
        staging = Path(tmp) / "files"
        count = unpack(download, staging)
        if folder.exists():
            folder.rmdir()  # empty: checked above
        staging.rename(folder)
    return f"{name}: {count} files in {folder}"


def download_verified(url: str, target: Path, sha256: str) -> None:
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=60) as response, target.open("wb") as out:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        target.unlink(missing_ok=True)
        reason = f"HTTP {exc.code} {exc.reason}" if isinstance(exc, urllib.error.HTTPError) else getattr(exc, "reason", None) or exc
        raise PluginError(f"{url}: download failed ({reason})") from None
    if digest.hexdigest() != sha256.lower():
        target.unlink(missing_ok=True)
        raise PluginError(f"{url}: checksum mismatch: sha256 {digest.hexdigest()}, the manifest says {sha256}; "
                          "download discarded")


def unpack(archive: Path, target: Path, max_bytes: int = MAX_BYTES, max_members: int = MAX_MEMBERS) -> int:
    """Extract a zip or tar archive (or place a plain file) into target; return the number of files."""
    target.mkdir(parents=True)
    limits = _Limits(archive, target, max_bytes, max_members)
    if zipfile.is_zipfile(archive):
        return _unzip(archive, target, limits)
    if tarfile.is_tarfile(archive):
        return _untar(archive, target, limits)
    write_atomic(target / archive.name, lambda out: _copy(archive, out))
    return 1


def _copy(source: Path, out) -> None:
    with source.open("rb") as handle:
        shutil.copyfileobj(handle, out, _CHUNK)


class _Limits:
    """Checks an archive's members before anything is written: size, count, and file/folder clashes."""

    def __init__(self, archive: Path, target: Path, max_bytes: int, max_members: int):
        self.archive, self.target = archive, target
        self.max_bytes = min(max_bytes, shutil.disk_usage(target).free)
        self.max_members = max_members
        self.total = 0
        self.files: set[Path] = set()
        self.folders: set[Path] = set()

    def add(self, name: str, path: Path, is_dir: bool, size: int) -> None:
        if len(self.files) + len(self.folders) >= self.max_members:
            raise PluginError(f"{self.archive}: more than {self.max_members} members; refusing to unpack it "
                              "(nothing extracted)")
        self.total += max(size, 0)
        if self.total > self.max_bytes:
            raise PluginError(f"{self.archive}: unpacks to more than {self.max_bytes / 2**30:.3g} GiB (the limit, "
                              "or the free disk); refusing to unpack it (nothing extracted)")
        parents = {p for p in path.parents if p.is_relative_to(self.target.resolve())}
        clash = (path in self.files or (is_dir and path in self.files) or (not is_dir and path in self.folders)
                 or parents & self.files)
        if clash:
            raise PluginError(f"{self.archive}: member {name!r} clashes with another member of the same name (a file "
                              "and a folder, or a file twice); nothing extracted")
        (self.folders if is_dir else self.files).add(path)
        self.folders |= parents


def _member_path(archive: Path, target: Path, name: str) -> Path:
    cleaned = name.replace("\\", "/")
    parts = PurePosixPath(cleaned).parts
    if not cleaned or cleaned.startswith("/") or re.match(r"^[A-Za-z]:", cleaned) or ".." in parts:
        raise PluginError(f"{archive}: unsafe member {name!r}: it would be written outside {target}; nothing extracted")
    path = (target / cleaned).resolve()
    if not path.is_relative_to(target.resolve()):
        raise PluginError(f"{archive}: unsafe member {name!r}: it would be written outside {target}; nothing extracted")
    return path


def _unzip(archive: Path, target: Path, limits: _Limits) -> int:
    with zipfile.ZipFile(archive) as zf:
        plan = []
        for info in zf.infolist():
            path = _member_path(archive, target, info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise PluginError(f"{archive}: member {info.filename!r} is a symbolic link; nothing extracted")
            limits.add(info.filename, path, info.is_dir(), info.file_size)
            plan.append((info, path, info.is_dir()))
        return _write_members(plan, zf.open)


def _untar(archive: Path, target: Path, limits: _Limits) -> int:
    with tarfile.open(archive) as tf:
        plan = []
        for member in tf:
            path = _member_path(archive, target, member.name)
            if not (member.isfile() or member.isdir()):
                raise PluginError(f"{archive}: member {member.name!r} is a link or special file; nothing extracted")
            limits.add(member.name, path, member.isdir(), member.size)
            plan.append((member, path, member.isdir()))
        return _write_members(plan, tf.extractfile)


def _write_members(plan, open_member) -> int:
    """Write checked members (member, destination, is_dir); only called once every member passed."""
    count = 0
    for member, path, is_dir in plan:
        if is_dir:
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        with open_member(member) as source:
            write_atomic(path, lambda out, source=source: shutil.copyfileobj(source, out, _CHUNK))
        count += 1
    return count
