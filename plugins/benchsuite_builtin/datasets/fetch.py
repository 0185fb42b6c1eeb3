"""``benchsuite datasets fetch``: download, verify, unpack — or say where the files go.

A download is accepted only with the sha256 its manifest gives, checked
before anything is unpacked. Archives (zip, tar, tar.gz/bz2/xz) are
checked member by member first: an absolute path, a ``..`` component, a
link or a device file anywhere in it rejects the whole archive, so nothing
is ever written outside the dataset's folder. Unpacking happens in a
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

from .manifest import where_to_put

_CHUNK = 1 << 20


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


def unpack(archive: Path, target: Path) -> int:
    """Extract a zip or tar archive (or place a plain file) into target; return the number of files."""
    target.mkdir(parents=True)
    if zipfile.is_zipfile(archive):
        return _unzip(archive, target)
    if tarfile.is_tarfile(archive):
        return _untar(archive, target)
    shutil.copyfile(archive, target / archive.name)
    return 1


def _member_path(archive: Path, target: Path, name: str) -> Path:
    cleaned = name.replace("\\", "/")
    parts = PurePosixPath(cleaned).parts
    if not cleaned or cleaned.startswith("/") or re.match(r"^[A-Za-z]:", cleaned) or ".." in parts:
        raise PluginError(f"{archive}: unsafe member {name!r}: it would be written outside {target}; nothing extracted")
    path = (target / cleaned).resolve()
    if not path.is_relative_to(target.resolve()):
        raise PluginError(f"{archive}: unsafe member {name!r}: it would be written outside {target}; nothing extracted")
    return path


def _unzip(archive: Path, target: Path) -> int:
    with zipfile.ZipFile(archive) as zf:
        plan = []
        for info in zf.infolist():
            path = _member_path(archive, target, info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise PluginError(f"{archive}: member {info.filename!r} is a symbolic link; nothing extracted")
            plan.append((info, path, info.is_dir()))
        return _write_members(plan, zf.open)


def _untar(archive: Path, target: Path) -> int:
    with tarfile.open(archive) as tf:
        plan = []
        for member in tf.getmembers():
            path = _member_path(archive, target, member.name)
            if not (member.isfile() or member.isdir()):
                raise PluginError(f"{archive}: member {member.name!r} is a link or special file; nothing extracted")
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
        with open_member(member) as source, path.open("wb") as out:
            shutil.copyfileobj(source, out, _CHUNK)
        count += 1
    return count
