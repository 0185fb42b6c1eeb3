"""cell.json is versioned: this version writes format 2, reads format 1 (what earlier versions wrote) as well,
and calls any other format unreadable in one line; such a cell is left out and recomputed, never guessed at."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from fake_runs import identified

from benchsuite.cli import main
from benchsuite.run import record
from benchsuite.run.store import RunStore

TABLE = pd.DataFrame({"image_id": ["a", "b"], "landmark": ["L1", "L1"], "x": [1.0, 2.0], "y": [1.0, 2.0],
                      "pred_x": [1.5, 2.0], "pred_y": [1.0, 3.0]})
C0, CELL = identified({"status": "ok", "dataset": "toy", "method": "m", "fold": 0,
                       "config": {"fold": 0, "protocol": {"folds": 2}}})


def _written(tmp_path) -> RunStore:
    store = RunStore(tmp_path / "run")
    store.write(C0, CELL, TABLE)
    return store


def _edit(store: RunStore, **changes) -> None:
    path = store.cell_dir(C0) / "cell.json"
    data = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    path.write_text(json.dumps(data))


def test_a_new_cell_is_format_2(tmp_path):
    assert _written(tmp_path).record(C0)["format"] == record.FORMAT == 2


def test_a_format_1_cell_still_reads(tmp_path):
    store = _written(tmp_path)
    _edit(store, format=None, predictions=None)  # as earlier versions wrote it: no format, no digest
    assert store.status(C0) == "ok" and store.record(C0)["format"] == 2
    (store.cell_dir(C0) / "predictions.parquet").write_bytes(b"truncated")
    assert store.status(C0) == "corrupt"  # format 1 without a digest: the table must still parse


def test_an_unknown_format_is_one_line_and_the_cell_is_not_used(tmp_path, capsys):
    store = _written(tmp_path)
    _edit(store, format=99)
    assert store.status(C0) == "corrupt" and store.record(C0) is None
    (why,) = store.corrupt().values()
    assert why == "cell.json has format 99, which this version of benchsuite does not read (it reads formats 1 and 2)"
    main(["leaderboard", str(store.root)])
    err = capsys.readouterr().err
    assert "format 99" in err and "Traceback" not in err


def test_a_record_the_readers_would_refuse_is_never_written(tmp_path):
    with pytest.raises(ValueError, match="status"):
        record.stamp(CELL | {"status": "maybe"}, C0)
    with pytest.raises(ValueError, match="fold"):
        record.stamp(CELL | {"fold": "zero"}, C0)
