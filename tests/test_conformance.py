"""Every built-in plugin passes the conformance kit a third party runs (benchsuite.testing): one case per
registered name, on tiny inputs; and the kit finds broken plugins."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from benchsuite_builtin.codecs.regression import Regression
from benchsuite_builtin.metrics import MeanRadialError
from conftest import slurm_up
from landmark_files import tps_folder

from benchsuite import api, testing
from benchsuite.api import KINDS, PluginError
from benchsuite.plugins import registry as installed_registry
from benchsuite.testing.subject import cell_id_in_this_process
from benchsuite.testing.tiny import TinyDataset

REGISTRY = installed_registry()
TINY_ARCHITECTURES = [{"name": "fc-regression", "encoder_depth": 3},
                      {"name": "smp-unet", "encoder_depth": 3, "decoder_channels": [16, 8, 8]}]
# Every plugin is checked at its defaults (the networks at the papers' sizes), except these.
SMALL = {
    ("architectures", "hrnet"): {"variant": "hrnet_w18_small"},
    ("encoders", "smp"): {"smp_name": "tu-resnet10t"},  # any smp encoder: one from timm, small
    ("datasets", "synthetic"): {"n_images": 6},
    ("methods", "coarse-to-fine"): {"network": {"name": "smp-unet", "encoder_depth": 3, "decoder_channels": [8, 8, 8]},
                                    "crop": 16, "field": 8.0},
    ("executors", "slurm"): {"gpus_per_node": 0},  # the test cluster has no GPU
    ("methods", "dlib-ert"): {"cascade_depth": 2, "num_trees_per_cascade_level": 5, "oversampling_amount": 2,
                              "feature_pool_size": 20, "lambda_param": 1e6},
}
# Further cases: the same plugin with another declared behaviour.
EXTRA = [("codecs", "gaussian", {"decode": "dark"}), ("codecs", "exponential", {"decode": "dark"}),
         ("executors", "local", {"jobs": 2})]
CASES = [(kind, name, SMALL.get((kind, name), {})) for kind in KINDS for name in REGISTRY.names(kind)] + EXTRA


def _case_id(case) -> str:
    kind, name, params = case
    return f"{kind}:{name}" + (f"({','.join(f'{k}={v}' for k, v in params.items())})" if case in EXTRA else "")


def _options(kind: str) -> dict:
    """The kit's own options: encoders train with tiny architectures; the cell id's fresh-process check runs
    once for every case together (test_cell_ids_are_the_same_in_a_fresh_process) instead of once per case."""
    options = {"fresh_process": False} if kind in ("datasets", "encoders", "architectures", "methods", "codecs") else {}
    if kind == "encoders":
        options["with_architectures"] = TINY_ARCHITECTURES
    return options


def _usable(kind: str, name: str, params: dict) -> None:
    """Skip what cannot run here: a dataset whose files are absent, an executor without its cluster."""
    if REGISTRY.get(kind, name).cls.unavailable():
        pytest.skip(REGISTRY.get(kind, name).cls.unavailable())
    if kind == "executors" and name == "slurm" and not slurm_up():
        pytest.skip("no Slurm cluster (start one with ../shared/slurm/start-slurm.sh)")
    if kind == "datasets":
        try:
            REGISTRY.create(kind, name, params).samples()
        except PluginError as exc:
            pytest.skip(f"dataset files not here: {str(exc)[:120]}")


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_builtin_plugin_passes_the_conformance_kit(case, tmp_path):
    kind, name, params = case
    if (kind, name) == ("datasets", "folder"):
        params = {"path": str(tps_folder(tmp_path / "wings"))}
    _usable(kind, name, params)
    check = getattr(testing, f"check_{kind[:-1]}")
    notes = check(REGISTRY.get(kind, name).cls, **_options(kind), **params)
    assert all(isinstance(note, str) and "\n" not in note for note in notes)


def test_cell_ids_are_the_same_in_a_fresh_process(tmp_path):
    """What a worker process or a Slurm job computes for the same grid entry, for every case at once."""
    jobs = [(kind, name, {"path": "wings"} if name == "folder" else params) for kind, name, params in CASES
            if kind in ("datasets", "encoders", "architectures", "methods", "codecs")]
    here = [cell_id_in_this_process(kind, REGISTRY.get(kind, name).cls, params) for kind, name, params in jobs]
    code = ("import json, sys; from benchsuite.testing.subject import cell_id_in_this_process as cell_id; "
            "from benchsuite.plugins import registry; print(json.dumps([cell_id(k, registry().get(k, n).cls, p) "
            "for k, n, p in json.load(sys.stdin)]))")
    out = subprocess.run([sys.executable, "-c", code], input=json.dumps(jobs), capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout) == here
    assert len(set(here)) == len(here)  # and two different entries never share an id


# --- the kit fails where it must, in one line naming the class and the member -----------------------------------


def _failure(check, cls, **params) -> str:
    with pytest.raises(AssertionError) as excinfo:
        check(cls, **params)
    message = str(excinfo.value)
    assert "\n" not in message and message.startswith(f"{cls.__qualname__} (")
    return message


class _Network(api.Architecture):
    """A one-layer heatmap network; the broken variants below change one thing each."""

    name = "kit-network"
    description = "one convolution"
    encoder = "none"
    outputs = frozenset({"heatmap"})

    def build(self, *, in_channels, out_channels, output, encoder):
        return torch.nn.Conv2d(in_channels, out_channels, 3, padding=1)


class HalfResolution(_Network):
    name = "kit-half-resolution"

    def build(self, *, in_channels, out_channels, output, encoder):
        return torch.nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1)


class _SkipsItsFirstLayer(torch.nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.stem = torch.nn.Conv2d(in_channels, out_channels, 1)
        self.head = torch.nn.Conv2d(in_channels, out_channels, 3, padding=1)

    def forward(self, x):
        return self.head(x)


class DeadInputLayer(_Network):
    name = "kit-dead-input"

    def build(self, *, in_channels, out_channels, output, encoder):
        return _SkipsItsFirstLayer(in_channels, out_channels)


class FlatPredictions(api.Method):
    name = "kit-flat"
    description = "a method predicting one number per landmark"

    def fit(self, samples, images, training):
        self.mean = np.nanmean([s.landmarks for s in samples], axis=0)

    def predict(self, sample_ids, images):
        return np.zeros((len(sample_ids), len(self.mean)))


class NegativeEstimate(api.Method):
    name = "kit-negative-estimate"
    description = "the mean shape with an estimate below zero"

    def fit(self, samples, images, training):
        self.mean = np.nanmean([s.landmarks for s in samples], axis=0)

    def fit_seconds(self, n_images, n_landmarks, threads=1):
        return -1.0

    def predict(self, sample_ids, images):
        return np.broadcast_to(self.mean, (len(sample_ids), *self.mean.shape)).copy()


class Chatty(NegativeEstimate):
    name = "kit-chatty"
    description = "fit returns text instead of facts"

    def fit_seconds(self, n_images, n_landmarks, threads=1):
        return None

    def fit(self, samples, images, training):
        super().fit(samples, images, training)
        return "fitted"


class SwappedDecode(Regression):
    name = "kit-swapped"

    def decode(self, prediction, size):
        return super().decode(prediction, size).flip(-1)


class NanLoss(Regression):
    name = "kit-nan-loss"

    def loss(self, prediction, landmarks, size):
        return ((prediction - self.encode(landmarks, size).reshape(prediction.shape)) ** 2).mean()


class UpsideDown(MeanRadialError):
    name = "kit-upside-down"
    headline = False
    higher_is_better = True


class Meddling(MeanRadialError):
    name = "kit-meddling"
    headline = False

    def per_image(self, predictions):
        predictions["pred_x"] = predictions["x"]
        return super().per_image(predictions)


class WrongImageSize(TinyDataset):
    name = "kit-wrong-size"

    def load_image(self, sample_id):
        return super().load_image(sample_id)[:-1]


class HalfMissing(TinyDataset):
    name = "kit-half-missing"

    def samples(self):
        first, *rest = super().samples()
        landmarks = first.landmarks.copy()
        landmarks[0, 1] = np.nan
        return [api.Sample(first.id, landmarks, first.size), *rest]


class Lossy(api.Executor):
    name = "kit-lossy"
    description = "forgets the last cell"
    in_process = True

    def map(self, work, items, workdir):
        yield from [work(item) for item in list(items)[:-1]]


class SecondMre(MeanRadialError):
    headline = False  # same name as the built-in metric, another class


class TwoLines(MeanRadialError):
    name = "kit-two-lines"
    headline = False
    description = "first line\nsecond line"


@pytest.mark.parametrize("check, cls, member, what", [
    (testing.check_architecture, HalfResolution, "build(in_channels=1)", "must be (2, 3, 32, 64)"),
    (testing.check_architecture, DeadInputLayer, "training one step", "stem.weight did not change"),
    (testing.check_method, FlatPredictions, "predict()", "shape (2, 3, 2)"),
    (testing.check_method, NegativeEstimate, "fit_seconds()", "finite number of seconds ≥ 0, got -1.0"),
    (testing.check_method, Chatty, "fit()", "must return None or a dict of facts"),
    (testing.check_codec, SwappedDecode, "decode(size=(64, 32))", "off by"),
    (testing.check_codec, NanLoss, "loss(size=(64, 32))", "finite scalar tensor with a landmark missing"),
    (testing.check_metric, UpsideDown, "higher_is_better", "perfect predictions score 0"),
    (testing.check_metric, Meddling, "scores", "must not modify the predictions table"),
    (testing.check_dataset, WrongImageSize, "load_image('tiny0')", "but the sample says 48×40"),
    (testing.check_dataset, HalfMissing, "samples() 'tiny0'", "one coordinate NaN and not the other"),
    (testing.check_executor, Lossy, "map()", "3 items, 2 results"),
    (testing.check_metric, SecondMre, "name", "already registered by plugin 'metrics'"),
    (testing.check_metric, TwoLines, "description", "must be one line"),
], ids=lambda v: v.__name__ if isinstance(v, type) else None)
def test_the_kit_finds_a_broken_plugin_and_says_what_in_one_line(check, cls, member, what):
    with pytest.raises(AssertionError) as excinfo:
        check(cls, **({"fresh_process": False} if check in (testing.check_architecture, testing.check_codec,
                                                            testing.check_dataset, testing.check_method) else {}))
    message = str(excinfo.value)
    assert "\n" not in message, message
    assert message.startswith(f"{cls.__qualname__} ({cls.kind[:-1]} {cls.name!r}): {member}"), message
    assert what in message, message


def test_params_a_grid_file_cannot_hold_are_refused():
    with pytest.raises(AssertionError, match=r"parameters: .* are not what a grid file can hold"):
        testing.check_codec(REGISTRY.get("codecs", "gaussian").cls, sigma=np.float32(2), fresh_process=False)


class Tiny(TinyDataset):
    name = "kit-tiny-copy"


def test_working_plugins_that_are_not_installed_pass_and_say_so():
    """The kit's own tiny dataset is a correct dataset, and one convolution a correct network."""
    for check, cls in ((testing.check_architecture, _Network), (testing.check_dataset, Tiny)):
        assert check(cls, fresh_process=False) == ["test_conformance is not installed: its version was not checked"]


def test_the_fresh_process_check_runs_for_an_importable_class():
    """The kit's own cell-id check in a second process, for a class importable by name."""
    assert testing.check_codec(Regression, fresh_process=True) == []
