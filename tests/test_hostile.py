"""Hostile input: files and arguments an attacker or a careless user would give the command line.

Each case builds its hostile files in a sandbox, runs the command line on
them and asserts the suite's promise: a non-zero exit with exactly one line
on stderr (no traceback), nothing written outside the results folder (and
nothing at all when the input is refused up front), and no marker file from
a payload that tried to run code.
"""
from __future__ import annotations

import json
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import landmark_files as lf
import numpy as np
import pytest
from fake_runs import identified

from benchsuite.cli import main

MARKER = "PWNED"  # the file a payload would create


class Payload:
    """Unpickling this creates the marker file: proof that code from a file ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


GRID = """
protocol = "smoke"
datasets = [{dataset}]
architectures = ["mean-shape"]
[settings]
input_size = 32
folds = 2
epochs = 1
"""


@dataclass
class Sandbox:
    root: Path  # everything a case may touch lives under here

    @property
    def work(self) -> Path:
        return self.root / "work" / "deep"  # the working directory: ../../x stays inside the sandbox

    @property
    def results(self) -> Path:
        return self.work / "results"

    def grid(self, dataset: str = '"synthetic"', name: str = "grid.toml", text: str | None = None) -> str:
        path = self.work / name
        path.write_text(text if text is not None else GRID.format(dataset=dataset))
        return str(path)

    def folder_grid(self, folder: Path, **params) -> str:
        extra = "".join(f", {key} = {json.dumps(value)}" for key, value in params.items())
        return self.grid(f'{{ name = "folder", path = "{folder}"{extra} }}')

    def files(self) -> set[str]:
        return {str(p.relative_to(self.root)) for p in self.root.rglob("*")}


@pytest.fixture
def sandbox(tmp_path, monkeypatch) -> Sandbox:
    box = Sandbox(tmp_path / "sandbox")
    box.work.mkdir(parents=True)
    monkeypatch.chdir(box.work)
    monkeypatch.setenv("BENCHSUITE_CACHE", "off")
    return box


def refused(box: Sandbox, capsys, argv: list[str], *, writes_results: bool = False) -> str:
    """Run the command line on a hostile input; assert the promise; return the one error line."""
    before = box.files()
    code = main([*argv, "--results", str(box.results)] if argv[0] in ("run", "status", "leaderboard") else argv)
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code != 0, out
    assert "Traceback" not in out + err
    assert len(lines) == 1, err
    assert not any(p.name == MARKER for p in box.root.rglob("*")), "a payload ran"
    created = {p for p in box.files() - before if not (box.root / p).is_relative_to(box.results)}
    assert created == set(), f"written outside the results folder: {sorted(created)}"
    if not writes_results:
        assert not box.results.exists(), "refused input must not create a run"
    return lines[0]


def _csv_folder(folder: Path, rows: list[str], n: int = 4) -> Path:
    for i in range(n):
        lf.image(folder / f"img{i}.png", 20, 16, seed=i)
    (folder / "marks.csv").write_text("\n".join(rows) + "\n")
    return folder


# --- run names, grid names, protocols ------------------------------------------------------------

@pytest.mark.parametrize("name", ["../../x", "{root}/escaped-run", ".", "", "a\nb", "..", "x/../../y", "-rf"])
def test_a_run_name_that_is_not_one_safe_folder_is_refused(sandbox, capsys, name):
    name = name.format(root=sandbox.root)  # an absolute path into the sandbox, where a write would be seen
    line = refused(sandbox, capsys, ["run", "--grid", sandbox.grid(), f"--run={name}"])
    assert line.startswith("benchsuite: error: run name ") and "one folder under the results folder" in line


def test_a_grid_file_whose_name_is_dot_dot_writes_no_run_outside(sandbox, capsys):
    grid = sandbox.grid(name="...toml")  # its stem, the default run name, is ".."
    line = refused(sandbox, capsys, ["run", "--grid", grid])
    assert "cannot make a run name from '..'" in line


def test_a_run_folder_linked_out_of_the_results_folder_is_refused(sandbox, capsys):
    sandbox.results.mkdir()
    (sandbox.root / "elsewhere").mkdir()
    (sandbox.results / "r").symlink_to(sandbox.root / "elsewhere")
    line = refused(sandbox, capsys, ["run", "--grid", sandbox.grid(), "--run", "r"], writes_results=True)
    assert "outside the results folder" in line and not any((sandbox.root / "elsewhere").iterdir())


def test_a_grid_file_with_binary_bytes_is_one_line(sandbox, capsys):
    grid = sandbox.work / "grid.toml"
    grid.write_bytes(b'protocol = "smoke"\n\xff\xfe\x00datasets')
    for extra in ([], ["--dry-run"]):
        line = refused(sandbox, capsys, ["run", "--grid", str(grid), *extra])
        assert line == f"benchsuite: error: {grid}: not a text file (byte 19 is not UTF-8); a grid is a TOML file"


def test_a_results_folder_that_is_a_file_is_one_line(sandbox, capsys):
    sandbox.results.write_text("not a folder")
    line = refused(sandbox, capsys, ["run", "--grid", sandbox.grid()], writes_results=True)
    assert line == f"benchsuite: error: results folder {sandbox.results}: is not a folder"
    assert sandbox.results.read_text() == "not a folder"


@pytest.mark.parametrize("argv, expected", [
    (["report", "r", "--out", "{file}/page.html"], "report {file}/page.html: cannot be written, {file} is not a folder"),
    (["report", "r", "--out", "{folder}"], "report {folder}: is a folder; name the file to write, e.g. "
                                           "{folder}/report.html"),
    (["report", "r", "--out", "{work}/page.html", "--figures", "{file}/figures"],
     "--figures {file}/figures: cannot be made, {file} is not a folder"),
    (["export", "r", "--out", "{file}/all.parquet"], "export {file}/all.parquet: cannot be written, {file} is not a "
                                                     "folder"),
    (["export", "r", "--out", "{folder}"], "export {folder}: is a folder; name the file to write, e.g. "
                                           "{folder}/predictions.parquet"),
])
def test_an_output_that_cannot_be_written_is_refused_before_any_work(sandbox, capsys, argv, expected):
    assert _run(sandbox, capsys) == 0
    names = {"file": sandbox.work / "notes.txt", "folder": sandbox.work / "taken", "work": sandbox.work}
    names["file"].write_text("mine")
    names["folder"].mkdir()
    argv = [part.format(**names) for part in argv] + ["--results", str(sandbox.results)]
    line = refused(sandbox, capsys, argv, writes_results=True)
    assert line == f"benchsuite: error: {expected.format(**names)}"
    assert list(names["folder"].iterdir()) == [] and names["file"].read_text() == "mine"


def test_a_protocol_name_is_a_preset_never_a_path(sandbox, capsys):
    (sandbox.root / "x.toml").write_text('description = "planted"\nepochs = 1\n')
    climb = "../" * 40 + str(sandbox.root / "x").lstrip("/")  # from the presets' folder up to / and down to x.toml
    grid = sandbox.grid(text=GRID.format(dataset='"synthetic"').replace('protocol = "smoke"', f'protocol = "{climb}"'))
    line = refused(sandbox, capsys, ["run", "--grid", grid, "--dry-run"])
    assert f"unknown protocol '{climb}'" in line and "FILE.toml" in line


@pytest.mark.parametrize("setting", [
    "epochs=0", "folds=1", "folds=100000000", "val_fraction=0", "val_fraction=1", "lr=nan", "lr=-1", "lr=inf",
    "batch_size=0", "input_size=4", "channels=2", "optimizer=adamw", "lr_schedule=onecycle", "patience=-1",
    "hflip=1.5", "scale=-0.1", "bogus=1", "epochs=ten",
])
def test_a_bad_protocol_setting_is_refused_before_anything_is_written(sandbox, capsys, setting):
    line = refused(sandbox, capsys, ["run", "--grid", sandbox.grid(), "--run", "r", "--set", setting])
    assert f"'{setting.split('=')[0]}'" in line or setting.split("=")[0] in line


@pytest.mark.parametrize("argv, expected", [
    (["--checkpoint-every", "0"], "checkpoint interval"),
    (["--checkpoint-every", "nan"], "checkpoint interval"),
    (["--jobs", "0"], "jobs must be at least 1"),
    (["--folds", "13"], "12 usable images, fewer than the 13 folds"),
])
def test_bad_run_options_are_refused_before_anything_is_written(sandbox, capsys, argv, expected):
    grid = sandbox.grid('{ name = "synthetic", n_images = 12, n_landmarks = 2, min_size = 32, max_size = 40 }')
    assert expected in refused(sandbox, capsys, ["run", "--grid", grid, "--run", "r", *argv])


def test_folds_of_a_hundred_million_in_a_dry_run_is_refused_at_once(sandbox, capsys):
    line = refused(sandbox, capsys, ["run", "--grid", sandbox.grid(), "--dry-run", "--folds", "100000000"])
    assert "folds must be between 2 and 10000" in line


def test_an_unknown_plugin_parameter_is_one_error_at_load_not_a_failed_cell_per_fold(sandbox, capsys):
    grid = sandbox.grid('{ name = "synthetic", n_imagez = 12 }')
    assert "unknown parameter 'n_imagez'" in refused(sandbox, capsys, ["run", "--grid", grid, "--run", "r"])


# --- dataset folders ------------------------------------------------------------------------------

def test_an_image_linked_from_outside_the_dataset_folder_is_refused(sandbox, capsys):
    folder = lf.tps_folder(sandbox.root / "data", n=4)
    secret = lf.image(sandbox.root / "secret" / "img3.png", 40, 30)
    (folder / "img3.png").unlink()
    (folder / "img3.png").symlink_to(secret)
    line = refused(sandbox, capsys, ["run", "--grid", sandbox.folder_grid(folder), "--run", "r"])
    assert f"{folder / 'img3.png'}: links outside the dataset folder" in line and "allow_outside" in line
    assert main(["run", "--grid", sandbox.folder_grid(folder, allow_outside=True), "--run", "r", "--dry-run"]) == 0


@pytest.mark.parametrize("reference", ["{root}/secret/img0.png", "../secret/img0.png", "..\\secret\\img0.png",
                                       "sub/../../secret/img0.png"])
def test_a_csv_reference_out_of_the_dataset_folder_is_an_error_naming_the_row(sandbox, capsys, reference):
    lf.image(sandbox.root / "secret" / "img0.png", 20, 16)
    reference = reference.format(root=sandbox.root)
    folder = _csv_folder(sandbox.root / "data", [f"{reference},1,2"] + [f"img{i}.png,{i},{i}" for i in range(1, 4)])
    (folder / "img0.png").unlink()
    line = refused(sandbox, capsys, ["run", "--grid", sandbox.folder_grid(folder), "--run", "r"])
    assert f"{folder / 'marks.csv'} row 1" in line and "outside the dataset folder" in line


def test_a_coco_file_name_out_of_the_dataset_folder_is_an_error(sandbox, capsys):
    lf.image(sandbox.root / "secret" / "a.png", 20, 16)
    folder = sandbox.root / "data"
    images = [{"id": i, "file_name": f"img{i}.png", "width": 20, "height": 16} for i in range(3)]
    images.append({"id": 3, "file_name": "../secret/a.png", "width": 20, "height": 16})
    for i in range(3):
        lf.image(folder / f"img{i}.png", 20, 16, seed=i)
    annotations = [{"id": i, "image_id": i, "category_id": 1, "keypoints": [1, 2, 2, 3, 4, 2]} for i in range(4)]
    lf.coco(folder / "keypoints.json", ["a", "b"], images, annotations)
    line = refused(sandbox, capsys, ["datasets", "check", str(folder)])
    assert "'../secret/a.png' leads outside the dataset folder" in line


def test_names_differing_only_in_case_never_make_one_image_two_samples(sandbox, capsys):
    folder = _csv_folder(sandbox.root / "data", ["img0.png,1,2", "IMG0.png,3,4", "img1.png,1,1", "img2.png,2,2",
                                                 "img3.png,3,3"])
    line = refused(sandbox, capsys, ["run", "-d", str(folder), "--dry-run"])
    assert "row 1 (img0.png): names the same image file" in line and "row 2 (IMG0.png)" in line


def test_a_file_name_that_is_not_utf8_fails_check_as_a_run_would(sandbox, capsys):
    folder = lf.tps_folder(sandbox.root / "data", n=4)
    os.rename(folder / "img3.png", os.fsencode(folder) + b"/img\xff3.png")
    assert main(["datasets", "check", str(folder)]) == 1
    assert "file name is not valid UTF-8: rename the file" in capsys.readouterr().err
    line = refused(sandbox, capsys, ["run", "-d", str(folder), "--dry-run"])
    assert "file name is not valid UTF-8" in line and "img\\xff3.png" in line


def test_a_landmark_missing_in_every_image_fails_check_as_a_run_would(sandbox, capsys):
    folder = _csv_folder(sandbox.root / "data", [f"img{i}.png,{i},{i},," for i in range(4)])
    assert "landmark 'L2' is missing in every image" in refused(sandbox, capsys, ["datasets", "check", str(folder)])
    assert "missing in every image" in refused(sandbox, capsys, ["run", "-d", str(folder), "--dry-run"])


def _deep_json(path: Path) -> Path:
    """JSON nested deeper than Python's parser follows (a RecursionError in json.loads)."""
    path.write_text('{"shapes": [' + "[" * 100_000 + "]" * 100_000 + "]}")
    return path


def test_a_labelme_file_nested_too_deeply_fails_check_in_one_line_naming_it(sandbox, capsys):
    folder = sandbox.root / "data"
    for i in range(4):
        lf.image(folder / f"img{i}.png", 20, 16, seed=i)
        lf.labelme(folder / f"img{i}.json", [("a", 3, 4), ("b", 5, 6)], (20, 16), f"img{i}.png")
    deep = _deep_json(folder / "img3.json")
    assert main(["datasets", "check", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.endswith(f"{deep}: not valid JSON (nested too deeply: a landmark file is "
                                                   "a few levels deep, this one thousands)\n")
    assert f"{deep}: not valid JSON (nested too deeply" in refused(sandbox, capsys, ["run", "-d", str(folder),
                                                                                     "--dry-run"])
    _deep_json(folder / "coco.json")  # COCO's sniffer parses it too: not a COCO file, and no RecursionError
    assert "no coco files" in refused(sandbox, capsys, ["datasets", "check", str(folder), "--format", "coco"])


def test_a_dry_run_on_a_broken_folder_reports_its_problem(sandbox, capsys):
    folder = lf.tps_folder(sandbox.root / "data", n=4)
    (folder / "img2.png").unlink()
    line = refused(sandbox, capsys, ["run", "-d", str(folder), "--dry-run"])
    assert "annotation without image" in line and "datasets check" in line


def _dlc_h5(root: Path, poison: str) -> Path:
    pd = pytest.importorskip("pandas")
    tables = pytest.importorskip("tables", reason="PyTables is needed to write a crafted .h5")
    video = root / "labeled-data" / "v1"
    for i in range(3):
        lf.image(video / f"img{i}.png", 30, 20, seed=i)
    columns = pd.MultiIndex.from_product([["T"], ["snout", "tail"], ["x", "y"]],
                                         names=["scorer", "bodyparts", "coords"])
    frame = pd.DataFrame(np.arange(12.0).reshape(3, 4), columns=columns,
                         index=[f"labeled-data/v1/img{i}.png" for i in range(3)])
    path = video / "CollectedData_T.h5"
    if poison == "column":
        frame[("T", "tail", "y")] = [Payload(root / MARKER)] * 3
    with pytest.warns(Warning) if poison == "column" else _nothing():
        frame.to_hdf(path, key="df", mode="w")
    if poison == "attribute":
        with tables.open_file(path, "a") as handle:
            handle.root.df._v_attrs.pandas_type = Payload(root / MARKER)
    return root


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("poison", ["attribute", "column"])
def test_a_deeplabcut_h5_with_a_pickle_payload_runs_no_code(sandbox, capsys, poison):
    folder = _dlc_h5(sandbox.root / "data", poison)
    line = refused(sandbox, capsys, ["datasets", "check", str(folder)])
    assert "CollectedData_T.h5: refused: the file stores pickled Python objects" in line


def test_a_clean_deeplabcut_h5_still_reads(sandbox, capsys):
    folder = _dlc_h5(sandbox.root / "data", "none")
    assert main(["datasets", "check", str(folder)]) == 0
    assert "images: 3 usable" in capsys.readouterr().out


# --- fetched archives -----------------------------------------------------------------------------

def _zip(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize("members, limits, expected", [
    ([("bomb.bin", b"\0" * (4 << 20))], {"max_bytes": 1 << 20}, "unpacks to more than"),  # 4 MiB from a few KiB
    ([(f"f{i}.txt", b"x") for i in range(50)], {"max_members": 20}, "more than 20 members"),
    ([("a", b"file"), ("a/b.txt", b"then a folder")], {}, "member 'a/b.txt' clashes"),
    ([("a/b.txt", b"folder first"), ("a", b"then a file")], {}, "member 'a' clashes"),
    ([("same.txt", b"one"), ("same.txt", b"two")], {}, "member 'same.txt' clashes"),
])
def test_a_hostile_archive_is_refused_in_one_line_and_nothing_is_extracted(tmp_path, members, limits, expected):
    from benchsuite_builtin.datasets.fetch import unpack

    from benchsuite.api import PluginError

    with pytest.warns(UserWarning) if len({n for n, _ in members}) < len(members) else _nothing():
        archive = _zip(tmp_path / "evil.zip", members)
    with pytest.raises(PluginError, match=expected) as raised:
        unpack(archive, tmp_path / "out", **limits)
    assert len(str(raised.value).splitlines()) == 1 and "nothing extracted" in str(raised.value)
    assert list((tmp_path / "out").iterdir()) == []


# --- corrupted, partial and concurrently replaced results ------------------------------------------

SMALL = '{ name = "synthetic", n_images = 12, n_landmarks = 2, min_size = 32, max_size = 40 }'


def _run(box: Sandbox, capsys, *extra: str) -> int:
    code = main(["run", "--grid", box.grid(SMALL), "--results", str(box.results), "--run", "r", *extra])
    capsys.readouterr()
    return code


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _edit_parquet(path: Path) -> None:
    """A valid table with one image left: what a hand edit or a bad merge produces."""
    import pandas as pd

    table = pd.read_parquet(path)
    table[table.image_id == table.image_id.iloc[0]].to_parquet(path, index=False)


def _edit_record(path: Path, edit) -> None:
    record = json.loads(path.read_text())
    edit(record)
    path.write_text(json.dumps(record))


def _move_to_fold_1(record: dict) -> None:
    """The hand edit of issue 20: a fold-0 cell made to count as fold 1."""
    record["fold"] = record["config"]["fold"] = 1


def _copy_cell(source: Path, target: Path) -> None:
    for name in ("cell.json", "predictions.parquet"):
        (target / name).write_bytes((source / name).read_bytes())


DAMAGE = {"truncated cell.json": lambda folder, other: _truncate(folder / "cell.json"),
          "truncated parquet": lambda folder, other: _truncate(folder / "predictions.parquet"),
          "edited parquet": lambda folder, other: _edit_parquet(folder / "predictions.parquet"),
          "parquet gone": lambda folder, other: (folder / "predictions.parquet").unlink(),
          "fold edited": lambda folder, other: _edit_record(folder / "cell.json", _move_to_fold_1),
          "top-level fold edited": lambda folder, other: _edit_record(folder / "cell.json",
                                                                      lambda r: r.update(fold=1)),
          "identity removed": lambda folder, other: _edit_record(folder / "cell.json", lambda r: r.pop("config")),
          "copied from the other fold": lambda folder, other: _copy_cell(other, folder)}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_cell_is_reported_never_used_and_recomputed(sandbox, capsys, damage):
    from benchsuite.run.store import RunStore

    assert _run(sandbox, capsys) == 0
    store = RunStore(sandbox.results / "r")
    victim, other = sorted(r["id"] for r in store.records() if r["fold"] == 0) + sorted(
        r["id"] for r in store.records() if r["fold"] == 1)
    folder = store.cell_dir(victim)
    DAMAGE[damage](folder, store.cell_dir(other))
    damaged = (folder / "cell.json").read_bytes()
    assert main(["status", "r", "--results", str(sandbox.results)]) == 1
    out, err = capsys.readouterr()
    detail = [line for line in out.splitlines() if re.match(r"  corrupt [0-9a-f]{16}: ", line)]
    assert err == "" and len(detail) == 1 and detail[0].startswith(f"  corrupt {victim}: ")
    assert main(["leaderboard", "r", "--results", str(sandbox.results)]) == 0
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and f"{victim}: corrupt (" in err and "Traceback" not in err
    assert "1/2 incomplete" in out  # the damaged fold is left out, never averaged in
    assert _run(sandbox, capsys) == 0
    assert store.status(victim) == "ok" and store.corrupt() == {}
    assert len(store.predictions(victim)) == store.record(victim)["predictions"]["rows"]
    assert store.record(victim)["fold"] == 0 and store.status(other) == "ok"
    (aside,) = [p for p in store.cells_dir.iterdir() if p.name.startswith(f".{victim}.rejected-")]
    assert (aside / "cell.json").read_bytes() == damaged  # the damaged cell is kept as evidence, never read


def _plant(folder: Path, data: bytes) -> None:
    """Replace a cell's table by other bytes and record their digest, as someone covering their tracks would."""
    import hashlib

    (folder / "predictions.parquet").write_bytes(data)
    _edit_record(folder / "cell.json", lambda r: r["predictions"].update(sha256=hashlib.sha256(data).hexdigest()))


@pytest.mark.parametrize("command", [["leaderboard", "r"], ["report", "r", "--out", "{results}/page.html"],
                                     ["export", "r"], ["stats", "r"]])
def test_a_pickle_stored_as_predictions_with_its_digest_runs_no_code_and_is_one_line(sandbox, capsys, command):
    import pickle

    from benchsuite.run.store import RunStore

    assert _run(sandbox, capsys) == 0
    store = RunStore(sandbox.results / "r")
    victim = sorted(r["id"] for r in store.records())[0]
    _plant(store.cell_dir(victim), pickle.dumps(Payload(sandbox.root / MARKER)))
    argv = [part.format(results=sandbox.results) for part in command]
    assert main([*argv, "--results", str(sandbox.results)]) == 0
    out, err = capsys.readouterr()
    assert not (sandbox.root / MARKER).exists() and "Traceback" not in out + err
    assert err.count("\n") == 1 and f"{victim}: corrupt (predictions.parquet is not a parquet table" in err
    assert main(["status", "r", "--results", str(sandbox.results)]) == 1
    assert f"corrupt {victim}: predictions.parquet is not a parquet table" in capsys.readouterr().out
    assert _run(sandbox, capsys) == 0 and store.status(victim) == "ok"  # recomputed


def test_a_table_damaged_past_its_footer_with_its_digest_is_one_line(sandbox, capsys):
    from benchsuite.run.store import RunStore

    assert _run(sandbox, capsys) == 0
    store = RunStore(sandbox.results / "r")
    victim = sorted(r["id"] for r in store.records())[0]
    data = bytearray((store.cell_dir(victim) / "predictions.parquet").read_bytes())
    data[4:40] = b"\xff" * 36  # the first column's pages, not the magic nor the footer
    _plant(store.cell_dir(victim), bytes(data))
    line = refused(sandbox, capsys, ["leaderboard", "r"], writes_results=True)
    assert line.startswith(f"benchsuite: error: {store.cell_dir(victim) / 'predictions.parquet'}: cannot be read")


def test_a_truncated_grid_json_is_one_line_for_status_and_rewritten_by_the_next_run(sandbox, capsys):
    assert _run(sandbox, capsys) == 0
    _truncate(sandbox.results / "r" / "grid.json")
    line = refused(sandbox, capsys, ["status", "r"], writes_results=True)
    assert "grid.json: corrupt" in line and "run the grid again" in line
    assert _run(sandbox, capsys) == 0
    assert main(["status", "r", "--results", str(sandbox.results)]) == 0


def test_a_run_without_grid_json_has_a_status_as_it_has_a_leaderboard(sandbox, capsys):
    assert _run(sandbox, capsys) == 0
    (sandbox.results / "r" / "grid.json").unlink()
    assert main(["leaderboard", "r", "--results", str(sandbox.results)]) == 0
    capsys.readouterr()
    assert main(["status", "r", "--results", str(sandbox.results)]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "(no grid.json: the cells found in it): 2 cells" in out and "  ok           2" in out


def test_a_folder_under_cells_that_no_run_computes_is_never_promised_a_recompute(sandbox, capsys):
    assert _run(sandbox, capsys) == 0
    junk = sandbox.results / "r" / "cells" / "notes"
    junk.mkdir()
    (junk / "todo.txt").write_text("mine")
    for _ in range(2):  # said the same way after a run as before it: the run leaves it alone
        assert main(["leaderboard", "r", "--results", str(sandbox.results)]) == 0
        err = capsys.readouterr().err
        assert err == (f"benchsuite: warning: {junk}: corrupt (cell.json is missing), left out; it is not a cell of "
                       "this run's grid, so no run recomputes it; remove it if nothing in it is yours\n")
        assert main(["status", "r", "--results", str(sandbox.results)]) == 0  # the grid's cells are all there
        capsys.readouterr()
        assert _run(sandbox, capsys) == 0
    assert (junk / "todo.txt").read_text() == "mine"


def test_force_replaces_a_cell_without_a_moment_when_none_is_there(tmp_path):
    import threading

    import pandas as pd

    from benchsuite.run.store import PREDICTION_COLUMNS, RunStore

    store = RunStore(tmp_path)
    table = pd.DataFrame({c: [1.0, 2.0] for c in PREDICTION_COLUMNS} | {"image_id": ["a", "b"]})
    cell, record = identified({"status": "ok"})
    store.write(cell, record, table)
    seen, stop = set(), threading.Event()

    def watch():
        while not stop.is_set():
            seen.add(store.status(cell))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for i in range(150):
            store.write(cell, record | {"round": i}, table)
    finally:
        stop.set()
        watcher.join()
    assert seen == {"ok"}
    assert store.record(cell)["round"] == 149
    assert sorted(p.name for p in (tmp_path / "cells").iterdir()) == [cell]  # no temporary left behind


def test_a_truncated_image_is_refused_before_any_cell_is_written(sandbox, capsys):
    folder = lf.tps_folder(sandbox.root / "data", n=4)
    lf.image(folder / "img1.jpg", 40, 30, mode="RGB")
    (folder / "img1.png").unlink()
    _truncate(folder / "img1.jpg")  # the header survives: listing the dataset works, decoding would not
    line = refused(sandbox, capsys, ["run", "--grid", sandbox.folder_grid(folder), "--run", "r"])
    assert f"{folder / 'img1.jpg'}: truncated JPEG" in line


def test_a_corrupt_image_fails_the_mean_shape_baseline_like_every_other_method(sandbox, capsys):
    folder = lf.tps_folder(sandbox.root / "data", n=4)
    damaged = bytearray((folder / "img1.png").read_bytes())
    for i in range(len(damaged) // 2, len(damaged) // 2 + 40):  # inside the pixel data; both ends intact
        damaged[i] ^= 0x5A
    (folder / "img1.png").write_bytes(bytes(damaged))
    code = main(["run", "--grid", sandbox.folder_grid(folder), "--results", str(sandbox.results), "--run", "r"])
    out, err = capsys.readouterr()
    assert code == 1 and "0 cells computed" in out and "2 failed" in out  # the baseline fails too
    assert err.count("img1.png: cannot decode image") == 2 and "Traceback" not in err


def test_a_checkpoint_planted_in_a_run_folder_runs_no_code_and_the_cell_starts_afresh(sandbox, capsys, registry):
    import torch

    from benchsuite.run.grid import expand, load_spec

    grid = sandbox.grid(text=GRID.format(dataset=SMALL).replace(
        '["mean-shape"]', '[{ name = "smp-unet", encoder_depth = 3, decoder_channels = [8, 8, 8] }]\n'
                          'encoders = ["resnet18"]\ncodecs = [{ name = "gaussian", sigma = 2.0 }]'))
    cell = expand(load_spec(grid), registry).cells[0]
    planted = sandbox.results / "r" / "checkpoints" / f"{cell.id}.pt"
    planted.parent.mkdir(parents=True)
    torch.save({"format": 2, "state": Payload(sandbox.root / MARKER)}, planted)
    code = main(["run", "--grid", grid, "--results", str(sandbox.results), "--run", "r"])
    out, err = capsys.readouterr()
    assert code == 0 and "2 cells computed" in out
    assert not (sandbox.root / MARKER).exists()
    assert err.count("unusable checkpoint") == 1 and "Traceback" not in err
    assert [p.name.startswith(f"{cell.id}.pt.rejected-") for p in planted.parent.iterdir()] == [True]
