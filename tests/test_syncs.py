"""A training step never waits for the device: no tensor is read on the host inside it.

On a GPU each such read (``.item()``, ``bool(tensor)``, ``.tolist()``, a tensor built from host values on the
device, ...) stalls the host until the GPU has drained, so launch time and compute add up instead of
overlapping. CI has no GPU, so this counts them structurally on the CPU, in the same code: every way a value
crosses from the device to the host, or a host value is made into a device tensor, is patched to count."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from benchsuite.protocol import load_protocol
from benchsuite.run.grid import expand, load_spec
from benchsuite.train import augment as augment_module
from benchsuite.train import inputs, loop
from benchsuite.train.networks import build_network
from benchsuite.train.syncs import counting_host_reads

@pytest.fixture
def counted():
    """Calls, by name, of every tensor method that reads a tensor on the host, and of torch.tensor(device=...)."""
    with counting_host_reads() as reads:
        yield reads


@pytest.mark.parametrize("architecture, encoder, codec", [
    ({"name": "smp-unet", "encoder_depth": 3, "decoder_channels": [16, 8, 8]}, "resnet18", "integral"),
    ({"name": "unet", "base_channels": 4}, None, {"name": "gaussian", "loss": "adaptive-wing"}),
    ({"name": "fc-regression", "encoder_depth": 3}, "resnet18", "regression"),
])
def test_a_training_batch_reads_nothing_on_the_host(registry, tmp_path, counted, architecture, encoder, codec):
    grid = tmp_path / "g.toml"
    methods = {"architecture": architecture, "codec": codec} | ({"encoder": encoder} if encoder else {})
    import json

    grid.write_text(f'''protocol = "smoke"
datasets = [{{ name = "synthetic", n_images = 8, n_landmarks = 3, min_size = 40, max_size = 48, channels = 3 }}]
methods = [{json.dumps(methods).replace('": ', '" = ').replace('{"', '{ "')}]
[settings]
folds = 2
input_size = 32
batch_size = 4
channels = 3
''')
    counted.clear()
    cell = expand(load_spec(str(grid)), registry).cells[0]
    protocol = dataclasses.replace(cell.protocol, rotate_deg=10.0, scale=0.1, translate=0.05)
    data = registry.create("datasets", cell.dataset.name, cell.dataset.plugin_params)
    arch = registry.create("architectures", cell.architecture.name, cell.architecture.plugin_params)
    built_on = registry.create("encoders", cell.encoder.name, cell.encoder.plugin_params) if cell.encoder else None
    codec_ = registry.create("codecs", cell.codec.name, cell.codec.plugin_params)
    model = build_network(arch, codec_, built_on, 3, protocol.channels)
    prepared = inputs.prepare(data, data.samples(), protocol)
    dev = torch.device("cpu")
    augmentation = augment_module.GeometricAugmentation(rotate_deg=10.0, scale=0.1, translate=0.05, hflip=0.5,
                                                        flip_permutation=(1, 0, 2))
    steps = loop.batch_steps(model, codec_, prepared, protocol, dev, augment=augmentation, fused=True)  # as on a GPU
    steps[0]()  # the optimiser makes its state on the first step, once per cell
    counted.clear()
    for step in steps[1:]:
        loss = step()
    assert counted.total() == 0, f"host reads inside a training batch: {dict(counted)} at {counted.where}"
    assert len(steps) == 2
    assert torch.isfinite(loss.detach()).all()


def test_precision_follows_the_device_and_the_users_choice(monkeypatch):
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert loop.Runtime().autocast_dtype(cpu) is None and loop.Runtime(precision="bf16").precision_name(cpu) == "fp32"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert loop.Runtime().autocast_dtype(gpu) == torch.bfloat16
    assert not loop.gradient_scaler(cpu, torch.bfloat16).is_enabled()  # bf16 needs no scaler, hence no check
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert loop.Runtime().precision_name(gpu) == "fp16"
    assert loop.Runtime(precision="fp32").autocast_dtype(gpu) is None
    assert loop.Runtime(amp=False).autocast_dtype(gpu) is None


def test_deterministic_mode_sets_cudnn_and_torch(monkeypatch):
    chosen = []
    monkeypatch.setattr(torch, "use_deterministic_algorithms", lambda on, warn_only=False: chosen.append((on, warn_only)))
    loop.Runtime(deterministic=True).configure(torch.device("cpu"))
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark and chosen == [(True, True)]
    loop.Runtime().configure(torch.device("cpu"))
    assert torch.backends.cudnn.benchmark and not torch.backends.cudnn.deterministic


def test_the_counter_sees_each_kind_of_host_read_and_puts_torch_back():
    item = torch.Tensor.item
    with counting_host_reads() as reads:
        x = torch.ones(3)
        x.sum().item()
        bool(x.sum() > 0)
        torch.tensor([1.0], device="cpu")
        x.tolist()
    assert reads == {"item": 1, "__bool__": 1, "tensor(device=)": 1, "tolist": 1} and reads.total() == 4
    assert torch.Tensor.item is item and torch.tensor.__module__ != __name__
