"""Writing files so that a reader never sees half of one, and disk errors read as one line.

Every file the suite writes for later (cells, ``grid.json``, checkpoints,
fetched datasets, the Slurm submissions, reports, exports and figures) goes
through :func:`write_atomic`: the content is written under a temporary name in the same folder, flushed
to the disk (``fsync``), renamed over the target, and the folder is synced,
so a crash, a full disk or a killed process leaves either the old file or
the new one, never a truncated or zero-byte one. :func:`locked` serialises
read-modify-write updates of one small file between processes.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from benchsuite.errors import PluginError

# Errors of the storage rather than of the program: reported in one line, never as a traceback.
STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO, errno.ENOLCK,
                  errno.EFBIG}
_DIGESTS: dict[tuple, str] = {}  # (path, inode, size, mtime) -> sha256, for this process


def write_atomic(path: Path | str, write: Callable[[IO[bytes]], object]) -> Path:
    """Write ``path`` through ``write(handle)`` (binary handle) all or nothing.

    On any failure the temporary is removed; a disk error (full, read-only, refused) is raised naming ``path``,
    the file the user asked for, rather than the temporary or nothing at all.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror or os.strerror(exc.errno), str(path)) from exc
        raise
    fsync_dir(path.parent)
    return path


def write_text_atomic(path: Path | str, text: str) -> Path:
    return write_atomic(path, lambda handle: handle.write(text.encode("utf-8")))


def sha256(path: Path | str) -> str:
    """The file's SHA-256 in hex, computed once per process for an unchanged file (same inode, size, mtime)."""
    stat = os.stat(path)
    key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        _DIGESTS[key] = digest.hexdigest()
    return _DIGESTS[key]


def fsync_dir(folder: Path | str) -> None:
    """Make a rename in ``folder`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def check_folder(folder: Path | str, what: str) -> Path:
    """A folder the user named to write into, refused in one line when it, or a folder above it, is a file:
    checked before any work, so that nothing is computed for a place that cannot be written."""
    folder = Path(folder)
    blocking = _file_in_the_way(folder)
    if blocking is not None:
        raise PluginError(f"{what} {folder}: " + ("is not a folder" if blocking == folder
                                                   else f"cannot be made, {blocking} is not a folder"))
    return folder


def check_file(path: Path | str, what: str = "output file", example: str = "NAME") -> Path:
    """A file the user named to write, refused in one line when it is a folder or lies under a file."""
    path = Path(path)
    if path.is_dir():
        raise PluginError(f"{what} {path}: is a folder; name the file to write, e.g. {path / example}")
    blocking = _file_in_the_way(path.parent)
    if blocking is not None:
        raise PluginError(f"{what} {path}: cannot be written, {blocking} is not a folder")
    return path


def _file_in_the_way(folder: Path) -> Path | None:
    """The nearest path at or above ``folder`` that is there but is no folder (a file, a broken link), so that
    ``folder`` cannot be made; None when nothing is in the way."""
    for place in (folder, *folder.parents):
        if place.is_dir():
            return None
        if place.exists() or place.is_symlink():
            return place
    return None


def set_aside(path: Path | str, hidden: bool = False) -> Path:
    """Rename an unusable file or folder out of the way, kept as evidence and never read again: beside it as
    ``NAME.rejected-TIME-PID`` (``.NAME…`` with ``hidden``, so that listings of the folder skip it)."""
    path = Path(path)
    aside = path.with_name(f"{'.' if hidden else ''}{path.name}.rejected-{time.strftime('%Y%m%dT%H%M%S')}-"
                           f"{os.getpid()}")
    os.replace(path, aside)
    return aside


@contextlib.contextmanager
def locked(lock_file: Path | str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_file`` (created if needed), waiting for it."""
    lock_file = Path(lock_file)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError as exc:
            raise lock_error(lock_file, exc) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def lock_error(path: Path, exc: OSError) -> PluginError:
    """A one-line message for a file system that refuses locks (NFS without a lock daemon, some FUSE mounts)."""
    if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
        return PluginError(f"{path}: cannot lock files here ({os.strerror(exc.errno)}): put the results on a file "
                           "system with locks (on NFS, run the lock daemon or mount with local_lock=flock; on Lustre, "
                           "mount with flock or localflock)")
    return PluginError(f"{path}: cannot lock ({exc.strerror or exc})")


def storage_message(exc: OSError) -> str | None:
    """One line for a disk-full, read-only or permission error; None for any other error."""
    if exc.errno not in STORAGE_ERRNOS:
        return None
    where = exc.filename or ""
    return f"{where}: {exc.strerror or os.strerror(exc.errno)}" if where else (exc.strerror or str(exc))
