"""``benchsuite datasets fetch`` against a local HTTP server on 127.0.0.1.

Good archive, wrong checksum, an archive with a ``../`` member (tar and
zip) and a link: only the good one leaves files, and only inside the
dataset's folder.
"""
from __future__ import annotations

import functools
import hashlib
import io
import tarfile
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from benchsuite_builtin.datasets.fetch import fetch

from benchsuite.api import PluginError
from benchsuite.cli import main

MANIFEST = {"name": "tiny", "layout": "a.txt and sub/b.txt", "obtain": {"instructions": "ask the tiny lab"}}


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """Serves tmp_path/www on 127.0.0.1; yields (folder, base URL)."""
    www = tmp_path / "www"
    www.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def _tar(path, members: dict[str, bytes], link: tuple[str, str] | None = None) -> str:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link[0])
            info.type, info.linkname = tarfile.SYMTYPE, link[1]
            tar.addfile(info)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _manifest(url: str, sha256: str) -> dict:
    return MANIFEST | {"obtain": {"url": url, "sha256": sha256, "instructions": "ask the tiny lab"}}


def _everything(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def test_a_good_archive_is_verified_and_unpacked_into_the_dataset_folder(server, tmp_path):
    www, base = server
    digest = _tar(www / "tiny.tar.gz", {"a.txt": b"alpha", "sub/b.txt": b"beta"})
    root = tmp_path / "data"
    messages = []
    result = fetch(_manifest(f"{base}/tiny.tar.gz", digest), root / "tiny", messages.append)
    assert result == f"tiny: 2 files in {root / 'tiny'}"
    assert _everything(root) == ["tiny", "tiny/a.txt", "tiny/sub", "tiny/sub/b.txt"]  # no temporary left
    assert (root / "tiny" / "sub" / "b.txt").read_bytes() == b"beta"
    assert messages[1].startswith("sha256 verified")
    assert "already present" in fetch(_manifest(f"{base}/tiny.tar.gz", digest), root / "tiny", messages.append)


def test_a_wrong_checksum_discards_the_download(server, tmp_path):
    www, base = server
    _tar(www / "tiny.tar.gz", {"a.txt": b"alpha"})
    root = tmp_path / "data"
    with pytest.raises(PluginError, match=r"tiny\.tar\.gz: checksum mismatch: sha256 [0-9a-f]{64}, the manifest says 0{64}"):
        fetch(_manifest(f"{base}/tiny.tar.gz", "0" * 64), root / "tiny", lambda _: None)
    assert _everything(root) == []


def test_an_archive_member_escaping_the_folder_rejects_the_whole_archive(server, tmp_path):
    www, base = server
    digest = _tar(www / "evil.tar.gz", {"a.txt": b"alpha", "../escaped.txt": b"gotcha"})
    root = tmp_path / "data"
    with pytest.raises(PluginError, match=r"evil\.tar\.gz: unsafe member '\.\./escaped\.txt': it would be written outside"):
        fetch(_manifest(f"{base}/evil.tar.gz", digest), root / "tiny", lambda _: None)
    assert _everything(root) == [] and not list(tmp_path.rglob("escaped.txt"))


def test_zip_with_dot_dot_and_tar_with_a_link_are_refused(server, tmp_path):
    www, base = server
    with zipfile.ZipFile(www / "evil.zip", "w") as archive:
        archive.writestr("ok.txt", b"fine")
        archive.writestr("sub/../../escaped.txt", b"gotcha")
    digest = hashlib.sha256((www / "evil.zip").read_bytes()).hexdigest()
    with pytest.raises(PluginError, match="unsafe member 'sub/../../escaped.txt'"):
        fetch(_manifest(f"{base}/evil.zip", digest), tmp_path / "data" / "tiny", lambda _: None)
    digest = _tar(www / "link.tar.gz", {"a.txt": b"alpha"}, link=("b.txt", "/etc/passwd"))
    with pytest.raises(PluginError, match="member 'b.txt' is a link or special file; nothing extracted"):
        fetch(_manifest(f"{base}/link.tar.gz", digest), tmp_path / "data" / "tiny", lambda _: None)
    assert _everything(tmp_path / "data") == [] and not list(tmp_path.rglob("escaped.txt"))


def test_an_unreachable_url_is_one_clear_error(server, tmp_path):
    _, base = server
    with pytest.raises(PluginError, match=r"/missing\.tar\.gz: download failed \(.*404"):
        fetch(_manifest(f"{base}/missing.tar.gz", "0" * 64), tmp_path / "tiny", lambda _: None)


def test_the_command_fetches_a_named_dataset_and_says_where_files_go_without_a_url(server, tmp_path, registry,
                                                                                      monkeypatch, capsys):
    www, base = server
    digest = _tar(www / "medaka.tar.gz", {"m1.png": b"not really", "m1.txt": b"1 2\n"})
    medaka = registry.get("datasets", "medaka").cls
    assert main(["datasets", "fetch", "medaka", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"medaka: dataset files not found at {tmp_path / 'medaka'}; put them there" in err and len(err.splitlines()) == 1
    monkeypatch.setitem(medaka.manifest, "obtain", {"url": f"{base}/medaka.tar.gz", "sha256": digest})
    monkeypatch.setenv("BENCHSUITE_DATA", str(tmp_path / "data"))
    assert main(["datasets", "fetch", "medaka"]) == 0
    assert f"medaka: 2 files in {tmp_path / 'data' / 'medaka'}" in capsys.readouterr().out
    assert (tmp_path / "data" / "medaka" / "m1.txt").read_text() == "1 2\n"
