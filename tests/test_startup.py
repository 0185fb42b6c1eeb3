"""Commands that only read stored results start without torch, timm or segmentation-models-pytorch.

Importing torch alone takes seconds; listing plugins or printing a leaderboard
needs none of it, so the built-in plugins import their heavy libraries lazily
(:mod:`benchsuite.lazy`) and the core imports the training code only to train.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from fake_runs import make_run

HEAVY = ("torch", "timm", "segmentation_models_pytorch")

# Runs each command line in one process, in turn, and names the first one after which a heavy module is loaded.
PROBE = textwrap.dedent("""
    import json, sys
    from benchsuite.cli import main

    for argv in json.loads(sys.argv[1]):
        try:
            code = main(argv)
        except SystemExit as exc:  # --help
            code = exc.code
        heavy = [m for m in {heavy!r} if m in sys.modules]
        print(json.dumps({{"argv": argv, "code": code, "heavy": heavy}}))
        if heavy:
            break
""").format(heavy=HEAVY)


def _probe(commands: list[list[str]], cwd) -> list[dict]:
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(commands)], capture_output=True, text=True,
                         cwd=cwd, timeout=600)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith('{"argv"')]


def test_read_only_commands_never_import_torch(tmp_path):
    store = make_run(tmp_path / "results" / "fake", {"fish": {"unet+gaussian": 3.0, "fcn8+gaussian": 4.0,
                                                              "mean-shape": 10.0}})
    store.adopt_grid("fake", [record["id"] for record in store.records()])
    results = ["--results", str(tmp_path / "results")]
    commands = [["--help"], ["plugins"], ["list", "codecs"], ["list", "metrics"], ["list", "datasets"],
                ["list", "encoders"], ["list", "executors"], ["status", "fake", *results],
                ["leaderboard", "fake", *results], ["leaderboard", "fake", "--table", "speed", *results],
                ["stats", "fake", *results], ["compare", "fake", "fake", *results]]
    seen = _probe(commands, tmp_path)
    assert [r["heavy"] for r in seen] == [[]] * len(commands), f"imported by {seen[-1]['argv']}: {seen[-1]['heavy']}"
    assert all(r["code"] == 0 for r in seen), seen


def test_the_probe_notices_torch(tmp_path):
    """The test above can fail: listing architectures counts parameters with torch."""
    seen = _probe([["list", "architectures"]], tmp_path)
    assert seen[0]["heavy"] and "torch" in seen[0]["heavy"]


def test_a_reader_that_stops_early_ends_the_output_quietly():
    """`benchsuite list encoders | head -1`: the pipe closes before the output is written; no traceback."""
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-m", "benchsuite.cli", "list", "encoders"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the reader has gone before the first line
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0 and b"BrokenPipeError" not in err and b"Traceback" not in err, err
