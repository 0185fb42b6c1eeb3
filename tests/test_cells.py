"""Cell ids: stable across processes, sensitive to everything that matters."""
from __future__ import annotations

import dataclasses
import subprocess
import sys

from benchsuite.protocol import load_protocol
from benchsuite.run.cells import Cell, Component


def _cell(**changes) -> Cell:
    base = dict(
        dataset=Component("synthetic", {"n_images": 12, "seed": 0}),
        architecture=Component("smp-unet", {"encoder_depth": 3}),
        encoder=Component("resnet18"),
        codec=Component("gaussian", {"sigma": 2.0}),
        fold=0,
        protocol=load_protocol("smoke"),
        versions={"benchsuite": "0.1.0", "smp-models": "0.1.0"},
    )
    return Cell(**(base | changes))


def test_id_is_stable_across_processes_and_parameter_order():
    code = ("from test_cells import _cell; from benchsuite.run.cells import Component; "
            "print(_cell(dataset=Component('synthetic', {'seed': 0, 'n_images': 12})).id)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=__file__.rsplit("/", 1)[0])
    assert out.stdout.strip() == _cell().id
    assert len(_cell().id) == 16


def test_id_changes_with_everything_that_determines_the_result():
    base = _cell().id
    variants = [
        _cell(dataset=Component("synthetic", {"n_images": 13, "seed": 0})),
        _cell(architecture=Component("smp-unet", {"encoder_depth": 4})),
        _cell(encoder=Component("resnet34")),
        _cell(encoder=None),
        _cell(codec=Component("gaussian", {"sigma": 3.0})),
        _cell(codec=Component("regression")),
        _cell(fold=1),
        _cell(protocol=load_protocol("smoke", {"epochs": 41})),
        _cell(protocol=load_protocol("smoke", {"split_seed": 1})),
        _cell(protocol=load_protocol("kumar2022")),
        _cell(versions={"benchsuite": "0.1.0", "smp-models": "0.2.0"}),
    ]
    ids = [v.id for v in variants]
    assert base not in ids and len(set(ids)) == len(ids)


def test_id_ignores_the_protocol_description():
    protocol = dataclasses.replace(load_protocol("smoke"), description="reworded")
    assert _cell(protocol=protocol).id == _cell().id
