"""``benchsuite bench gpu``: how busy the lab grid's networks keep the device they find, in one JSON file.

For each network of the lab grid (the U-Net on EfficientNet-Lite0, the fish paper's U-Net) at the fly wings'
lab input, and each precision the device offers, it trains a few epochs on synthetic images exactly as a cell
does and records: the loop's, the fastest epoch's and the bare step's images/s and the pipeline efficiency;
the device's busy fraction (kernel time over wall time, from the profiler, on CUDA); the host reads per
training step (counted structurally, and by CUDA's sync debug mode where it exists); bare steps at batches
8, 32 and 64; the peak device memory. Then whether two deterministic trainings give identical weights, and
the throughput of 1, 2 and 4 cells training at once on the device. ``--quick`` runs the same code at tiny
sizes on the smallest of those networks, so that the test suite runs it on a CPU and it cannot rot before a
GPU is lent.

It stops measuring at its deadline (8 minutes), saying what it left out.
"""
from __future__ import annotations

import dataclasses
import json
import multiprocessing
import platform
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from benchsuite import __version__
from benchsuite.files import write_atomic
from benchsuite.plugins import Registry, load_registry
from benchsuite.run.cells import Cell
from benchsuite.run.grid import expand, load_spec
from benchsuite.train import augment, inputs, loop, speed
from benchsuite.train.networks import build_network
from benchsuite.train.syncs import counting_host_reads

DEADLINE_S = 480.0
N_LANDMARKS = 15  # the fly wings'


@dataclass(frozen=True)
class Sizes:
    input_size: str
    images: int
    epochs: int
    batch_size: int
    batches: tuple[int, ...]  # bare steps at these batch sizes
    packing: tuple[int, ...]  # cells training at once on the device
    sync_steps: int
    bare_steps: int  # timed bare steps per batch size, after one untimed


FULL = Sizes(input_size="160x128", images=64, epochs=3, batch_size=8, batches=(8, 32, 64), packing=(1, 2, 4),
             sync_steps=8, bare_steps=8)
QUICK = Sizes(input_size="32x32", images=8, epochs=2, batch_size=4, batches=(2, 4), packing=(1, 2), sync_steps=2,
              bare_steps=2)


def lab_networks(registry: Registry, sizes: Sizes) -> list[Cell]:
    """Fold 0 of each network method of the lab grid (those with a codec), on synthetic images."""
    spec = load_spec("lab")
    synthetic = registry.the_one("datasets", lambda cls: cls.synthetic, "a synthetic image generator (synthetic)")
    side = max(int(v) for v in sizes.input_size.split("x"))
    dataset = {"name": synthetic.name, "n_images": sizes.images, "n_landmarks": N_LANDMARKS, "channels": 3,
               "min_size": side, "max_size": side}
    spec = dataclasses.replace(spec, axes=spec.axes | {"datasets": [dataset]})
    grid = expand(spec, registry, settings={"input_size": sizes.input_size, "folds": 2, "max_minutes": 0,
                                            "epochs": sizes.epochs, "patience": sizes.epochs,
                                            "batch_size": sizes.batch_size})
    return [c for c in grid.cells if c.fold == 0 and c.codec is not None]


def precisions(dev: torch.device) -> list[str]:
    if dev.type != "cuda":
        return ["fp32"]
    return ["fp32"] + (["bf16"] if torch.cuda.is_bf16_supported() else []) + ["fp16"]


def _network(cell: Cell, registry: Registry):
    """The cell's network (no pretrained file read: speed does not depend on it) and codec."""
    codec = registry.create("codecs", cell.codec.name, cell.codec.plugin_params)
    arch = registry.create("architectures", cell.architecture.name, cell.architecture.plugin_params)
    encoder = registry.create("encoders", cell.encoder.name, cell.encoder.plugin_params) if cell.encoder else None
    return build_network(arch, codec, encoder, N_LANDMARKS, cell.protocol.channels, load_weights=False), codec


def _parameters(cell: Cell, registry: Registry) -> int:
    """The network's size, built on the meta device: shapes only, no memory, no initialisation."""
    with torch.device("meta"):
        return sum(p.numel() for p in _network(cell, registry)[0].parameters())


def _parts(cell: Cell, registry: Registry):
    """The cell's network, codec, dataset and prepared images, as a cell trains them."""
    torch.manual_seed(0)
    model, codec = _network(cell, registry)
    dataset = registry.create("datasets", cell.dataset.name, cell.dataset.plugin_params)
    return model, codec, dataset, inputs.prepare(dataset, dataset.samples(), cell.protocol)


def busy_fraction(kernel_microseconds: float, wall_seconds: float) -> float | None:
    """The share of the wall time the device spent in kernels (at most 1: streams may overlap)."""
    if wall_seconds <= 0:
        return None
    return min(1.0, kernel_microseconds / 1e6 / wall_seconds)


def _kernel_microseconds(profile) -> float:
    return float(sum(getattr(e, "self_device_time_total", 0.0) for e in profile.key_averages()))


def host_reads_per_step(model, codec, data, protocol, dev, dtype, dataset, steps: int) -> dict[str, Any]:
    """Host reads in ``steps`` training steps after the first (which makes the optimiser's state), with the
    fused optimiser a GPU uses (a CPU's unfused Adam reads each parameter's step count on the host)."""
    augmentation = augment.for_dataset(protocol, dataset)
    memory_format = torch.channels_last if dev.type == "cuda" else torch.contiguous_format
    plan = loop.batch_steps(model, codec, data, protocol, dev, dtype, augmentation, memory_format,
                            fused=True)  # as on a GPU, also where the check runs on a CPU
    while len(plan) < steps + 1:
        plan += plan
    plan[0]()
    result: dict[str, Any] = {}
    with counting_host_reads() as reads:
        for step in plan[1:steps + 1]:
            step()
    result["host_syncs_per_step"] = reads.total() / steps
    result["host_reads"] = dict(reads)
    if dev.type == "cuda":  # CUDA's own account: a warning per synchronising call
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("warn")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                for step in plan[1:steps + 1]:
                    step()
                torch.cuda.synchronize()
        finally:
            torch.cuda.set_sync_debug_mode("default")
        result["cuda_sync_warnings_per_step"] = sum("synchroniz" in str(w.message) for w in caught) / steps
    return result


def measure(cell: Cell, registry: Registry, precision: str, sizes: Sizes, dev: torch.device) -> dict[str, Any]:
    """One network at one precision: loop, fastest-epoch and bare-step speed, efficiency, busy fraction, host
    reads per step, bare steps by batch size, peak memory."""
    model, codec, dataset, data = _parts(cell, registry)
    protocol = cell.protocol
    runtime = loop.Runtime(precision=precision)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    began = time.perf_counter()
    if dev.type == "cuda":
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CUDA]) as profiled:
            report = loop.train(model, codec, data, data, protocol, runtime=runtime,
                                augmentation=augment.for_dataset(protocol, dataset))
            torch.cuda.synchronize()
        busy = busy_fraction(_kernel_microseconds(profiled), time.perf_counter() - began)
    else:
        report = loop.train(model, codec, data, data, protocol, runtime=runtime,
                            augmentation=augment.for_dataset(protocol, dataset))
        busy = None
    bare = {b: speed.bare_images_per_s(model, codec, N_LANDMARKS, dataclasses.replace(protocol, batch_size=b),
                                       runtime, steps=sizes.bare_steps, warmup=1) for b in sizes.batches}
    ceiling, efficiency = speed.pipeline_efficiency(report.train_images_per_s, report.fastest_epoch_images_per_s,
                                                    bare.get(protocol.batch_size) or max(bare.values()))
    row = {
        "network": cell.method, "input": sizes.input_size, "precision": runtime.precision_name(dev),
        "batch": protocol.batch_size, "epochs": report.epochs_run,
        "loop_images_per_s": report.train_images_per_s,
        "fastest_epoch_images_per_s": report.fastest_epoch_images_per_s,
        "bare_images_per_s": ceiling, "efficiency": efficiency, "busy_fraction": busy,
        "bare_images_per_s_by_batch": {str(b): v for b, v in bare.items()},
        "peak_memory_mb": torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else None,
    }
    return row | host_reads_per_step(model, codec, data, protocol, dev, runtime.autocast_dtype(dev), dataset,
                                     sizes.sync_steps)


def deterministic_repeat(cell: Cell, registry: Registry) -> dict[str, Any]:
    """Whether two trainings of the same cell in deterministic mode end with identical weights."""
    states = []
    for _ in range(2):
        model, codec, dataset, data = _parts(cell, registry)
        loop.train(model, codec, data, data, cell.protocol, runtime=loop.Runtime(deterministic=True),
                   augmentation=augment.for_dataset(cell.protocol, dataset))
        states.append({k: v.detach().float().cpu() for k, v in model.state_dict().items()})
    loop.Runtime().configure(loop.device())  # back to the fastest algorithms
    largest = max(float((a - states[1][k]).abs().max()) if a.numel() else 0.0 for k, a in states[0].items())
    return {"network": cell.method, "identical_weights": largest == 0.0, "max_abs_difference": largest}


def _packed_worker(arguments) -> tuple[int, float]:
    """Train one cell in a process of its own; (images trained, seconds), after the start signal."""
    cell, barrier = arguments
    registry = load_registry()
    model, codec, dataset, data = _parts(cell, registry)
    barrier.wait()
    began = time.perf_counter()
    report = loop.train(model, codec, data, data, cell.protocol, augmentation=augment.for_dataset(cell.protocol,
                                                                                                  dataset))
    return round(report.train_images_per_s * report.train_seconds), time.perf_counter() - began


def packing(cell: Cell, counts: tuple[int, ...], deadline: float) -> list[dict[str, Any]]:
    """Images/s of 1, 2, 4... copies of a cell training at once on the device, each in its own process, as
    ``--jobs`` packs cells onto a GPU."""
    context = multiprocessing.get_context("spawn")
    rows = []
    for count in counts:
        if time.monotonic() > deadline:
            rows.append({"cells": count, "skipped": "the check's deadline"})
            continue
        manager = context.Manager()
        barrier = manager.Barrier(count)
        with context.Pool(count) as pool:
            began = time.perf_counter()
            results = pool.map(_packed_worker, [(cell, barrier)] * count)
        wall = max(seconds for _, seconds in results)
        images = sum(n for n, _ in results)
        rows.append({"cells": count, "images_per_s": images / wall if wall else 0.0,
                     "wall_seconds": time.perf_counter() - began})
        manager.shutdown()
    return rows


def gpu_check(registry: Registry, quick: bool = False, deadline_s: float = DEADLINE_S, say=print) -> dict[str, Any]:
    sizes = QUICK if quick else FULL
    started = time.monotonic()
    deadline = started + deadline_s
    dev = loop.device()
    result: dict[str, Any] = {
        "benchsuite": __version__, "torch": torch.__version__, "quick": quick, "host": platform.node(),
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "cuda": torch.version.cuda if dev.type == "cuda" else None,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "networks": [], "skipped": [],
    }
    cells = lab_networks(registry, sizes)
    if quick:  # every code path once, on the smallest network: the test suite runs this on a CPU
        cells = sorted(cells, key=lambda c: _parameters(c, registry))[:1]
    for cell in cells:
        for precision in precisions(dev):
            if time.monotonic() > deadline:
                result["skipped"].append(f"{cell.method} at {precision}: the check's deadline")
                continue
            say(f"timing {cell.method} at {precision}")
            result["networks"].append(measure(cell, registry, precision, sizes, dev))
    if cells and time.monotonic() < deadline:
        say("training twice in deterministic mode")
        result["determinism"] = deterministic_repeat(cells[0], registry)
    if cells:
        say("training several cells at once on the device")
        result["packing"] = {"network": cells[0].method, "runs": packing(cells[0], sizes.packing, deadline)}
    result["seconds"] = time.monotonic() - started
    return result


def write(result: dict[str, Any], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, lambda handle: handle.write(json.dumps(result, indent=2).encode()))
    return out


def default_out(results_root: Path) -> Path:
    return results_root / "bench" / f"gpu-{time.strftime('%Y%m%dT%H%M%S')}.json"
