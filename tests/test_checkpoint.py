"""A cell interrupted mid-training resumes from its checkpoint to the same result."""
from __future__ import annotations

import pytest
import torch

from benchsuite.protocol import load_protocol
from benchsuite.train import inputs, loop
from benchsuite.train.augment import GeometricAugmentation


class Interrupted(Exception):
    pass


def _setup(registry):
    protocol = load_protocol("smoke", {"input_size": 32, "epochs": 5, "batch_size": 4, "patience": 5, "lr_patience": 1})
    dataset = registry.get("datasets", "synthetic").cls(n_images=10, n_landmarks=2, min_size=40, max_size=60)
    data = inputs.prepare(dataset, dataset.samples(), protocol)
    torch.manual_seed(0)
    model = registry.get("architectures", "smp-unet").cls(encoder_depth=3, decoder_channels=[8, 8, 8]).build(
        in_channels=1, out_channels=2, output="heatmap", encoder=registry.get("encoders", "resnet18").cls())
    return protocol, data, model, registry.get("codecs", "gaussian").cls(sigma=2.0)


AUGMENT = GeometricAugmentation(rotate_deg=10, scale=0.1, translate=0.05)


def test_resumed_training_equals_uninterrupted_training(registry, tmp_path):
    protocol, data, model, codec = _setup(registry)
    torch.manual_seed(1)
    reference = loop.train(model, codec, data, data, protocol, augmentation=AUGMENT)
    expected = {k: v.clone() for k, v in model.state_dict().items()}

    protocol, data, model, codec = _setup(registry)
    runtime = loop.Runtime(checkpoint=tmp_path / "cell.ckpt", checkpoint_every_s=0)

    def stop_at_three(epoch, *_):
        if epoch == 3:
            raise Interrupted

    torch.manual_seed(1)
    with pytest.raises(Interrupted):
        loop.train(model, codec, data, data, protocol, on_epoch=stop_at_three, augmentation=AUGMENT,
                       runtime=runtime)
    assert runtime.checkpoint.is_file()
    torch.manual_seed(123)  # a fresh process would have another global RNG state: the checkpoint restores it
    protocol, data, model, codec = _setup(registry)
    epochs = []
    resumed = loop.train(model, codec, data, data, protocol, on_epoch=lambda e, *_: epochs.append(e),
                             augmentation=AUGMENT, runtime=runtime)
    assert epochs == [3, 4, 5]  # epochs 1-2 came from the checkpoint
    assert (resumed.best_epoch, resumed.epochs_run) == (reference.best_epoch, reference.epochs_run)
    assert resumed.best_val_loss == pytest.approx(reference.best_val_loss, rel=1e-6)
    for key, value in model.state_dict().items():
        assert torch.allclose(value.float(), expected[key].float(), atol=1e-6), key


class _Payload:
    """A pickle that creates a marker file when unpickled (what a planted checkpoint would do)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_planted_checkpoint_runs_no_code_is_set_aside_and_training_starts_afresh(registry, tmp_path, capsys):
    protocol, data, model, codec = _setup(registry)
    torch.manual_seed(1)
    reference = loop.train(model, codec, data, data, protocol)
    marker, checkpoint = tmp_path / "pwned", tmp_path / "cell.ckpt"
    torch.save({"format": loop.CHECKPOINT_FORMAT, "state": _Payload(marker)}, checkpoint)
    protocol, data, model, codec = _setup(registry)
    torch.manual_seed(1)
    resumed = loop.train(model, codec, data, data, protocol, runtime=loop.Runtime(checkpoint=checkpoint))
    assert not marker.exists()
    assert (resumed.best_epoch, resumed.epochs_run) == (reference.best_epoch, reference.epochs_run)
    assert resumed.best_val_loss == pytest.approx(reference.best_val_loss, rel=1e-6)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{checkpoint}: unusable checkpoint" in err[0] and "training restarts" in err[0]
    aside = [p.name for p in tmp_path.iterdir() if p.name.startswith("cell.ckpt.rejected-")]
    assert len(aside) == 1 and not checkpoint.exists()  # kept as evidence, never loaded again


def test_a_checkpoint_of_another_model_is_set_aside_not_half_applied(registry, tmp_path, capsys):
    protocol, data, model, codec = _setup(registry)
    torch.manual_seed(1)
    reference = loop.train(model, codec, data, data, protocol)
    checkpoint = tmp_path / "cell.ckpt"
    other = torch.nn.Linear(2, 2)
    torch.save({"format": loop.CHECKPOINT_FORMAT, "state": {}, "model": other.state_dict()}, checkpoint)
    protocol, data, model, codec = _setup(registry)
    torch.manual_seed(1)
    resumed = loop.train(model, codec, data, data, protocol, runtime=loop.Runtime(checkpoint=checkpoint))
    assert resumed.best_val_loss == pytest.approx(reference.best_val_loss, rel=1e-6)
    assert "unusable checkpoint" in capsys.readouterr().err


def test_a_checkpoint_saved_with_eight_gpus_resumes_on_one(monkeypatch):
    """Only the training device's CUDA generator matters; an older checkpoint holding eight is read too."""
    import torch

    from benchsuite.train import loop

    restored = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda state, device="cuda": restored.append(state))
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", lambda states: (_ for _ in ()).throw(
        RuntimeError("8 states for 1 device")))
    eight = [torch.full((4,), i, dtype=torch.uint8) for i in range(8)]
    loop.restore_cuda_rng(eight)
    loop.restore_cuda_rng(eight[3])
    assert [int(s[0]) for s in restored] == [0, 3]
    loop.restore_cuda_rng(None)
    assert len(restored) == 2
