"""Speed benchmarks (pytest-benchmark). In the normal test run each body runs
once, as a test; ``tox -e bench`` times them and compares with the saved
baseline in benchmarks/ (``tox -e bench-save`` records a new one)."""
from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
import torch
from PIL import Image

from benchsuite.protocol import load_protocol
from benchsuite.run.grid import expand, load_spec
from benchsuite.run.runner import compute_cell, execute_cell
from benchsuite.run.store import RunStore
from benchsuite.train import loop
from benchsuite.train.cache import ImageCache
from benchsuite.train.geometry import Letterbox
from benchsuite.train.images import to_channels


@pytest.fixture(scope="module")
def landmarks():
    return torch.rand(16, 25, 2, generator=torch.Generator().manual_seed(0)) * 250


@pytest.mark.parametrize("codec_name", ["gaussian", "exponential"])
def test_target_generation_256px(benchmark, registry, landmarks, codec_name):
    codec = registry.get("codecs", codec_name).cls()
    heatmaps = benchmark(codec.encode, landmarks, 256)
    assert heatmaps.shape == (16, 25, 256, 256)


@pytest.mark.parametrize("decode", ["argmax", "dark"])
def test_decoding_256px(benchmark, registry, landmarks, decode):
    codec = registry.get("codecs", "gaussian").cls(decode=decode)
    heatmaps = codec.encode(landmarks, 256)
    points = benchmark(codec.decode, heatmaps, 256)
    assert torch.allclose(points, landmarks, atol=0.5)


@pytest.fixture(scope="module")
def large_image(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "large.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (1671, 1340), dtype=np.uint8)).save(path)
    return path


def _decode_and_letterbox(path):
    image = to_channels(np.asarray(Image.open(path)), 1)
    return Letterbox(image.shape[1], image.shape[0], 256).apply(image)


def test_image_loading_without_cache(benchmark, large_image):
    assert benchmark(_decode_and_letterbox, large_image).shape == (256, 256, 1)


def test_image_loading_with_cache(benchmark, large_image, tmp_path):
    cache = ImageCache(tmp_path)
    cache.put("ab" * 32, 256, 1, _decode_and_letterbox(large_image))
    assert benchmark(cache.get, "ab" * 32, 256, 1).shape == (256, 256, 1)


def test_one_training_step_64px(benchmark, registry):
    protocol = load_protocol("smoke", {"batch_size": 8})
    model = registry.get("architectures", "smp-unet").cls(encoder_depth=3, decoder_channels=[64, 32, 16]).build(
        in_channels=1, out_channels=6, output="heatmap", encoder=registry.get("encoders", "resnet18").cls())
    codec = registry.get("codecs", "gaussian").cls(sigma=4.0)
    optimizer = loop.make_optimizer(model, protocol)
    images = torch.randint(0, 255, (8, 1, 64, 64), dtype=torch.uint8)
    points = torch.rand(8, 6, 2) * 63

    def step():
        loss = codec.loss(model(images.float() / 255.0), points, 64)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.detach()

    assert torch.isfinite(benchmark(step))


def test_integral_loss_with_single_peak_term(benchmark, registry):
    """The lab grid's codec at the fly wings' input (160×128, 12 landmarks, a batch of 8), forward and backward:
    its Jensen-Shannon term had cost a quarter of a training step."""
    codec = registry.create("codecs", "integral", {"heatmap_weight": 10.0})
    generator = torch.Generator().manual_seed(0)
    logits = (torch.randn(8, 12, 128, 160, generator=generator) * 3).requires_grad_()
    points = torch.rand(8, 12, 2, generator=generator) * torch.tensor([159.0, 127.0])

    def step():
        logits.grad = None
        loss = codec.loss(logits, points, (160, 128))
        loss.backward()
        return loss.detach()

    assert torch.isfinite(benchmark(step))


def test_smoke_cell(benchmark, registry):
    cell = next(c for c in expand(load_spec("smoke"), registry, {"architectures": "smp-unet"},
                                  {"epochs": 1}).cells)
    record, table = benchmark.pedantic(compute_cell, args=(cell, registry), rounds=1, iterations=1)
    assert record["pipeline_efficiency"] > 0 and len(table) == record["split"]["test"] * 6


def test_fixed_cell_overhead(benchmark, registry, tmp_path):
    """A smoke cell end to end (claim, read, prepare, build, train, validate, predict, write its files): the
    time that is not training, validation or the once-per-configuration speed ceiling is the fixed per-cell
    overhead; extra_info gives it in seconds and as a share of the cell."""
    cell = next(c for c in expand(load_spec("smoke"), registry, {"architectures": "smp-unet"}, {"epochs": 3}).cells)
    runs = itertools.count()

    def one_cell():
        root = tmp_path / f"run{next(runs)}"
        started = time.perf_counter()
        assert execute_cell(cell, root, registry=registry).status == "done"
        return time.perf_counter() - started, RunStore(root).record(cell.id)

    wall, record = benchmark.pedantic(one_cell, rounds=1, iterations=1)
    fixed = wall - record["train_seconds"] - record["validation_seconds"] - record["ceiling_seconds"]
    benchmark.extra_info.update(fixed_seconds=fixed, fixed_share=fixed / wall, train_share=record["train_seconds"] / wall)
    assert 0 <= record["fixed_seconds"] <= fixed <= wall  # the record's own count leaves out writing its files
