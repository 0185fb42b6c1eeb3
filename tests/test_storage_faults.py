"""Shared file systems, clusters and failing disks: what a run promises beyond one well-behaved machine.

Launchers in other PID namespaces (as on other nodes), locks that other
nodes cannot see, a file system without locks, a killed launcher with
worker processes, a cluster without Slurm's commands, a full disk and a
read-only results folder. Real mounts and namespaces are used where this
machine allows them (the tests skip otherwise).
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from benchsuite.cli import main
from benchsuite.run.cells import cell_id
from benchsuite.run.store import PREDICTION_COLUMNS, RunStore

REPO = Path(__file__).resolve().parent.parent
MEAN_GRID = """
protocol = "smoke"
datasets = [{ name = "synthetic", n_images = 12, n_landmarks = 2, min_size = 32, max_size = 40 }]
architectures = ["mean-shape"]
[settings]
folds = 3
"""


def _grid(tmp_path: Path, text: str = MEAN_GRID) -> str:
    path = tmp_path / "grid.toml"
    path.write_text(text)
    return str(path)


def _python(code: str, *args: str, prefix: tuple[str, ...] = (), **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True,
                          text=True, timeout=300, **kwargs)


def _can(*command: str) -> bool:
    return shutil.which(command[0]) is not None and subprocess.run([*command, "true"], capture_output=True).returncode == 0


def _table() -> pd.DataFrame:
    return pd.DataFrame({c: [1.0, 2.0] for c in PREDICTION_COLUMNS} | {"image_id": ["a", "b"]})


@pytest.fixture(autouse=True)
def no_cache(monkeypatch):
    monkeypatch.setenv("BENCHSUITE_CACHE", "off")


# --- temporaries belong to whoever holds the cell's claim ------------------------------------------

@pytest.mark.skipif(not _can("unshare", "--pid", "--fork"), reason="needs unshare --pid (root)")
def test_a_launcher_in_another_pid_namespace_never_deletes_a_cell_in_flight(tmp_path):
    store = RunStore(tmp_path / "run")
    store.cells_dir.mkdir(parents=True)
    in_flight = store.cells_dir / f".tmp-cell0-{os.getpid()}-deadbeef"  # named as this process would name it
    in_flight.mkdir()
    (in_flight / "cell.json").write_text("{}")
    hour_ago = time.time() - 3600
    os.utime(in_flight, (hour_ago, hour_ago))  # old: only the claim protects it
    clean = """
        import sys
        from benchsuite.run.store import RunStore
        print(RunStore(sys.argv[1]).remove_stale_temporaries())
    """
    with store.claim("cell0") as claimed:  # this process is writing cell0
        assert claimed
        other = _python(clean, str(store.root), prefix=("unshare", "--pid", "--fork"))
        assert other.returncode == 0, other.stderr
        assert other.stdout.strip() == "0" and in_flight.is_dir()  # our PID means nothing there; the lock does
    other = _python(clean, str(store.root), prefix=("unshare", "--pid", "--fork"))
    assert other.stdout.strip() == "1" and not in_flight.exists()  # claim released: a leftover, cleaned


# --- locks that other nodes cannot see, and no locks at all ----------------------------------------

ALWAYS_CLAIMED = """
    import contextlib, sys
    from benchsuite.run import store
    store.RunStore.claim = contextlib.contextmanager(lambda self, cell_id: (yield True))  # a node-local lock
    from benchsuite.cli import main
    sys.exit(main(sys.argv[1:]))
"""


def test_node_local_locks_cost_duplicate_compute_never_a_corrupt_or_lost_cell(tmp_path):
    grid = _grid(tmp_path)
    args = ["run", "--grid", grid, "--results", str(tmp_path), "--run", "r"]
    launchers = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(ALWAYS_CLAIMED), *args],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=300) for p in launchers]
    assert [p.returncode for p in launchers] == [0, 0], results
    store = RunStore(tmp_path / "r")
    assert store.corrupt() == {} and len(list(store.records())) == 3
    assert all(r["status"] == "ok" for r in store.records())
    assert sorted(p.name for p in store.cells_dir.iterdir() if p.name.startswith(".tmp")) == []
    assert main(["status", "r", "--results", str(tmp_path)]) == 0


def test_two_writers_of_one_cell_at_once_always_leave_one_whole_cell(tmp_path):
    writer = """
        import sys
        import pandas as pd
        from benchsuite.run.cells import cell_id
        from benchsuite.run.store import PREDICTION_COLUMNS, RunStore
        table = pd.DataFrame({c: [1.0, 2.0] for c in PREDICTION_COLUMNS} | {"image_id": ["a", "b"]})
        store = RunStore(sys.argv[1])
        for i in range(60):
            store.write(cell_id({"fold": 0}), {"status": "ok", "config": {"fold": 0}, "writer": sys.argv[2],
                                               "round": i}, table)
    """
    writers = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(writer), str(tmp_path), name],
                                stderr=subprocess.PIPE, text=True) for name in "ab"]
    store, seen, cell = RunStore(tmp_path), set(), cell_id({"fold": 0})
    while any(w.poll() is None for w in writers):
        seen.add(store.status(cell))
    assert [w.wait() for w in writers] == [0, 0], [w.stderr.read() for w in writers]
    assert seen <= {None, "ok"} and store.status(cell) == "ok"  # never corrupt, never half
    assert sorted(p.name for p in store.cells_dir.iterdir()) == [cell]


def test_a_file_system_without_locks_is_one_clear_line(tmp_path, monkeypatch, capsys):
    import fcntl

    def no_locks(*_):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    code = main(["run", "--grid", _grid(tmp_path), "--results", str(tmp_path), "--run", "r"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and "cannot lock files here" in err and "local_lock" in err


def test_two_launchers_adopting_different_grids_at_once_cannot_both_win(tmp_path):
    adopt = """
        import sys
        from benchsuite.api import PluginError
        from benchsuite.run.store import RunStore
        try:
            RunStore(sys.argv[1]).adopt_grid(sys.argv[2], [sys.argv[2] + str(i) for i in range(2000)])
            print("adopted")
        except PluginError:
            print("refused")
    """
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(adopt), str(tmp_path), name],
                              stdout=subprocess.PIPE, text=True) for name in ("a", "b")]
    outcomes = sorted(p.communicate(timeout=120)[0].strip() for p in procs)
    assert outcomes == ["adopted", "refused"]
    manifest = json.loads((tmp_path / "grid.json").read_text())
    assert manifest["grid"] in "ab" and len(manifest["cells"]) == 2000


def test_slurm_submissions_of_two_launchers_are_merged_not_lost(tmp_path):
    pytest.importorskip("submitit")
    from benchsuite_builtin.executors.slurm import _Submissions

    path = tmp_path / "slurm" / "submitted.json"
    first, second = _Submissions(path), _Submissions(path)  # both read an empty file
    first.record({"cell-a": "1_0"})
    second.record({"cell-b": "2_0"})  # would have overwritten cell-a's job without the re-read under the lock
    assert json.loads(path.read_text()) == {"cell-a": "1_0", "cell-b": "2_0"}


# --- processes -----------------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_killing_a_jobs_launcher_ends_its_workers(tmp_path):
    grid = _grid(tmp_path, MEAN_GRID.replace('"mean-shape"', '{ name = "smp-unet", encoder_depth = 3, '
                                                             'decoder_channels = [8, 8, 8] }')
                 .replace("[settings]", 'encoders = ["resnet18"]\ncodecs = [{ name = "gaussian", sigma = 2.0 }]\n'
                                         "[settings]\ninput_size = 32\nepochs = 500\npatience = 500"))
    launcher = subprocess.Popen([sys.executable, "-m", "benchsuite.cli", "run", "--grid", grid, "--results",
                                 str(tmp_path), "--run", "r", "--jobs", "2"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    locks = tmp_path / "r" / "cells" / ".locks"
    deadline = time.time() + 180
    while time.time() < deadline and not (locks.is_dir() and len(list(locks.iterdir())) >= 2):
        time.sleep(0.1)
    workers = [p for p in _children(launcher.pid) if "resource_tracker" not in Path(f"/proc/{p}/cmdline").read_text()]
    assert len(workers) == 2, "both workers should be computing a cell"
    os.kill(launcher.pid, signal.SIGKILL)
    launcher.wait()
    deadline = time.time() + 20
    while time.time() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.1)
    assert not any(_alive(p) for p in workers), "orphaned workers keep running (and holding memory)"


def test_the_slurm_executor_without_srun_is_one_line_before_anything_is_written(tmp_path, monkeypatch, capsys):
    pytest.importorskip("submitit")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for command in ("sbatch", "sacct", "scancel"):  # a machine with some of Slurm's commands but not srun
        (bin_dir / command).write_text("#!/bin/sh\nexit 1\n")
        (bin_dir / command).chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    results = tmp_path / "results"
    code = main(["run", "--grid", _grid(tmp_path), "--results", str(results), "--executor", "slurm"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and "needs the Slurm command 'srun'" in err
    assert not results.exists()


def test_a_slurm_controller_that_does_not_answer_is_one_line_and_leaves_no_submission_files(tmp_path, monkeypatch,
                                                                                            capsys):
    pytest.importorskip("submitit")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    refusal = "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)"
    for command in ("sbatch", "srun", "sacct", "scancel"):
        (bin_dir / command).write_text(f"#!/bin/sh\necho '{refusal}' >&2\nexit 1\n" if command == "sbatch" else
                                       "#!/bin/sh\nexit 0\n")
        (bin_dir / command).chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    results = tmp_path / "results"
    code = main(["run", "--grid", _grid(tmp_path), "--results", str(results), "--run", "r", "--executor", "slurm"])
    err = capsys.readouterr().err
    assert code == 2 and err == (f"benchsuite: error: Slurm refused the job array of 3 cells ({refusal}); nothing "
                                 "was submitted: run again once sbatch works\n")
    assert list((results / "r" / "slurm").iterdir()) == []  # submitit's pickles and batch script are gone


# --- full and read-only disks --------------------------------------------------------------------

def _in_mount_namespace(script: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run a shell script in a private mount namespace (its mounts vanish with it)."""
    path = tmp_path / "script.sh"
    path.write_text(script)
    return subprocess.run(["unshare", "--mount", "sh", str(path)], capture_output=True, text=True, timeout=300,
                          env=os.environ | {"PYTHONPATH": os.pathsep.join(str(REPO / p) for p in ("", "plugins", "tests"))})


@pytest.mark.skipif(not _can("unshare", "--mount"), reason="needs unshare --mount (root)")
def test_a_full_disk_during_force_is_one_line_and_keeps_the_old_cells(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    run = [sys.executable, "-m", "benchsuite.cli", "run", "--grid", _grid(tmp_path), "--results", str(results),
           "--run", "r"]
    script = f"""
        set -e
        mount -t tmpfs -o size=1m tmpfs {results}
        {' '.join(run)} > /dev/null
        cp -r {results}/r {tmp_path}/before
        dd if=/dev/zero of={results}/filler bs=4k 2>/dev/null || true
        set +e
        {' '.join(run)} --force > /dev/null 2> {tmp_path}/err
        echo "rc=$?"
        rm {results}/filler
        find {results}/r -type f -size 0 ! -name '*.lock' > {tmp_path}/empty
        {sys.executable} -m benchsuite.cli status r --results {results} > {tmp_path}/status
        echo "status=$?"
        ls -A {results}/r/cells > {tmp_path}/cells
    """
    done = _in_mount_namespace(textwrap.dedent(script), tmp_path)
    if "mount:" in done.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    assert "rc=2" in done.stdout and "status=0" in done.stdout, done.stdout + done.stderr
    err = (tmp_path / "err").read_text()
    assert len(err.splitlines()) == 1 and "No space left on device" in err and "Traceback" not in err
    assert (tmp_path / "empty").read_text() == ""  # no zero-byte file left behind
    cells = (tmp_path / "cells").read_text().split()
    assert sorted(c for c in cells if not c.startswith(".")) == sorted(
        p.name for p in (tmp_path / "before" / "cells").iterdir() if not p.name.startswith("."))
    assert not [c for c in cells if c.startswith(".tmp")]


@pytest.mark.skipif(not _can("unshare", "--mount"), reason="needs unshare --mount (root)")
def test_a_full_disk_during_report_or_export_is_one_line_naming_the_file_and_leaves_no_temporary(tmp_path):
    results = tmp_path / "results"
    assert main(["run", "--grid", _grid(tmp_path), "--results", str(results), "--run", "r"]) == 0
    out = tmp_path / "out"
    out.mkdir()
    cli = f"{sys.executable} -m benchsuite.cli"
    script = f"""
        mount -t tmpfs -o size=1m tmpfs {out} || exit 99
        dd if=/dev/zero of={out}/filler bs=4k 2>/dev/null
        for to in parquet csv; do
            {cli} export r --results {results} --to $to --out {out}/all.$to > /dev/null 2> {tmp_path}/export-$to
            echo "export-$to=$?"
        done
        {cli} report r --results {results} --out {out}/page.html > /dev/null 2> {tmp_path}/report; echo "report=$?"
        rm {out}/filler
        {cli} export r --results {results} --out {out}/all.parquet > /dev/null; echo "again=$?"
        ls -A {out} > {tmp_path}/left
    """
    done = _in_mount_namespace(textwrap.dedent(script), tmp_path)
    if done.returncode == 99:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    assert done.stdout.split() == ["export-parquet=2", "export-csv=2", "report=2", "again=0"], (
        done.stdout + done.stderr)
    for name, target in (("export-parquet", "all.parquet"), ("export-csv", "all.csv"), ("report", "page.html")):
        assert (tmp_path / name).read_text() == f"benchsuite: error: {out / target}: No space left on device\n"
    assert (tmp_path / "left").read_text().split() == ["all.parquet"]  # no temporary, empty or not, survives


def test_an_existing_folder_as_the_report_leaves_nothing_beside_it(tmp_path, capsys):
    results = tmp_path / "results"
    assert main(["run", "--grid", _grid(tmp_path), "--results", str(results), "--run", "r"]) == 0
    capsys.readouterr()
    (tmp_path / "taken").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["report", "r", "--results", str(results), "--out", str(tmp_path / "taken")]) == 2
    err = capsys.readouterr().err
    assert err == f"benchsuite: error: report {tmp_path / 'taken'}: is a folder; name the file to write, e.g. " \
                  f"{tmp_path / 'taken' / 'report.html'}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == before and list((tmp_path / "taken").iterdir()) == []


@pytest.mark.skipif(not _can("unshare", "--mount"), reason="needs unshare --mount (root)")
def test_a_read_only_run_folder_answers_status_and_refuses_a_run_in_one_line(tmp_path):
    results = tmp_path / "results"
    assert main(["run", "--grid", _grid(tmp_path), "--results", str(results), "--run", "r"]) == 0
    cli = f"{sys.executable} -m benchsuite.cli"
    script = f"""
        mount --bind -o ro {results} {results} || exit 99
        {cli} status r --results {results} > {tmp_path}/status 2>&1; echo "status=$?"
        {cli} leaderboard r --results {results} > /dev/null 2> {tmp_path}/board; echo "board=$?"
        {cli} run --grid {tmp_path}/grid.toml --results {results} --run r --force > /dev/null 2> {tmp_path}/err
        echo "run=$?"
    """
    done = _in_mount_namespace(textwrap.dedent(script), tmp_path)
    if done.returncode == 99:
        pytest.skip("cannot bind-mount read-only here")
    assert "status=0" in done.stdout and "board=0" in done.stdout, done.stdout + (tmp_path / "status").read_text()
    assert (tmp_path / "board").read_text() == ""
    err = (tmp_path / "err").read_text()
    assert "run=2" in done.stdout and len(err.splitlines()) == 1 and "Read-only file system" in err, err
