"""``check_encoder`` and ``check_architecture``: networks built and trained one step the way a cell does it."""
from __future__ import annotations

from typing import Any

import numpy as np

from benchsuite.api import PluginError
from benchsuite.plugins import Registry
from benchsuite.testing.subject import Subject, check_cell_id, params_text, start
from benchsuite.testing.tiny import INPUT, N_LANDMARKS, TinyDataset, training_protocol


def check_encoder(cls: type, *, with_architectures: list[str | dict] | None = None, fresh_process: bool = True,
                  **params: Any) -> list[str]:
    """Feature maps of the declared channels at depths 3 and 5, on 1 and 3 input channels, gradients,
    ``load_weights``; then one training step with each architecture of ``with_architectures`` (names, or tables
    with ``name`` and parameters; default: every installed architecture that takes an encoder, at its
    defaults). An architecture whose ``build`` refuses this encoder with a PluginError is noted, not failed."""
    subject, registry, encoder = start("encoders", cls, params)
    if encoder is None:
        return subject.notes
    import torch

    subject.expect(isinstance(encoder.smp_name, str), "smp_name", f"must be a str, got {encoder.smp_name!r}")
    for channels, depth in ((1, 3), (3, 5)):
        member = f"build({channels}, {depth})"
        with subject.calling(member):
            module = encoder.build(channels, depth)
            subject.expect(isinstance(module, torch.nn.Module) and len(getattr(module, "out_channels", ())) ==
                           depth + 1, member, f"must return a torch module with {depth + 1} out_channels")
            encoder.load_weights(module)  # what smp's decoders call on a module built by smp
            features = module(torch.rand(2, channels, INPUT[1], INPUT[0]))
        subject.expect(isinstance(features, (list, tuple)) and len(features) == depth + 1, member,
                       f"the module must return {depth + 1} feature maps, got {type(features).__name__}")
        for i, (feature, width) in enumerate(zip(features, module.out_channels)):
            subject.expect(feature.ndim == 4 and feature.shape[:2] == (2, width) and torch.isfinite(feature).all(),
                           member, f"feature map {i} is {tuple(feature.shape)}, expected (2, {width}, H, W), finite")
    features[-1].float().mean().backward()
    subject.expect(any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters()), "build()",
                   "no gradient reaches the encoder's parameters")
    if with_architectures is None:
        with_architectures = [e.name for e in registry.select("architectures", lambda c: c.encoder == "required")]
    for wanted in with_architectures:
        arch = _instance(subject, registry, "architectures", wanted)
        codec = next(iter(_compatible_codecs(subject, registry, type(arch))), None) if arch is not None else None
        if codec is not None:
            _train_one_step(subject, arch, codec, encoder, f"with architecture {arch.name}", {}, refusal_is_note=True)
    check_cell_id(subject, params, fresh_process)
    return subject.notes


def _instance(subject: Subject, registry: Registry, kind: str, wanted: str | dict):
    """An installed plugin from a name (its defaults; None, noted, when it cannot be made so) or a grid table."""
    if isinstance(wanted, str):
        return _default_instance(subject, registry, kind, wanted)
    params = dict(wanted)
    name = params.pop("name")
    with subject.calling(f"{kind[:-1]} {name}({params_text(params)})"):
        return registry.create(kind, name, params)


def _default_instance(subject: Subject, registry: Registry, kind: str, name: str):
    """An installed plugin with its default parameters, or None (noted) when it needs some or cannot run here."""
    try:
        return registry.create(kind, name, {})
    except PluginError as exc:
        subject.notes.append(f"{kind[:-1]} {name} not used: {exc}")
        return None


def _compatible_codecs(subject: Subject, registry: Registry, arch_cls: type) -> list:
    codecs = [_default_instance(subject, registry, "codecs", e.name)
              for e in registry.select("codecs", lambda c: c.output in arch_cls.outputs)]
    return [c for c in codecs if c is not None]


# --- architectures -------------------------------------------------------------------------------------------


def check_architecture(cls: type, *, with_encoder: str | dict | None = None, fresh_process: bool = True,
                       **params: Any) -> list[str]:
    """A network: one training step through the core's training loop with every compatible codec installed,
    outputs of the declared shape, finite predictions (a method that learns without a codec: ``check_method``).

    ``with_encoder`` (a name, or a table with ``name`` and parameters) is the encoder an encoder-taking
    architecture is built on; default: the first installed encoder that needs no parameters."""
    subject, registry, arch = start("architectures", cls, params)
    if arch is None:
        return subject.notes
    encoder = _encoder_for(subject, registry, with_encoder) if cls.encoder == "required" else None
    codecs = _compatible_codecs(subject, registry, cls)
    if not codecs:
        subject.notes.append(f"no installed codec produces {sorted(cls.outputs)}: nothing trained")
    networks: dict = {}
    for codec in codecs:
        _train_one_step(subject, arch, codec, encoder, f"with codec {codec.name}", networks)
    if codecs:
        _build(subject, arch, codecs[0], encoder, f"with codec {codecs[0].name}", in_channels=3)
    check_cell_id(subject, params, fresh_process)
    return subject.notes


def _encoder_for(subject: Subject, registry: Registry, wanted: str | dict | None):
    if wanted is not None:
        return _instance(subject, registry, "encoders", {"name": wanted} if isinstance(wanted, str) else wanted)
    for entry in registry.entries("encoders"):
        encoder = _default_instance(subject, registry, "encoders", entry.name)
        if encoder is not None:
            return encoder
    subject.fail("encoder", "takes an encoder, and no installed encoder can be built without parameters")


def _build(subject: Subject, arch, codec, encoder, how: str, in_channels: int):
    """``build_network`` as a cell calls it, and one forward pass: the output must have the codec's shape."""
    import torch

    from benchsuite.train.networks import build_network

    member = f"build(in_channels={in_channels}) {how}"
    torch.manual_seed(0)
    with subject.calling(member):
        model = build_network(arch, codec, encoder, N_LANDMARKS, in_channels)
    subject.expect(isinstance(model, torch.nn.Module), member, f"must return a torch module, got {type(model)}")
    _check_output(subject, model, codec, in_channels, member)
    return model


def _train_one_step(subject: Subject, arch, codec, encoder, how: str, networks: dict,
                    refusal_is_note: bool = False) -> None:
    """The core's own path: ``build_network``, ``loop.train`` (one step), ``loop.predict`` on tiny images.
    Codecs that need the same network (``networks``, by output and channels) train one network in turn."""
    import torch

    from benchsuite.train import inputs, loop

    protocol, data = training_protocol(), TinyDataset()
    samples = data.samples()
    key = (codec.output, codec.out_channels(N_LANDMARKS))
    if key not in networks:
        try:
            networks[key] = _build(subject, arch, codec, encoder, how, protocol.channels)
        except AssertionError as failure:
            if refusal_is_note and isinstance(failure.__cause__, PluginError):
                subject.notes.append(f"{how}: refused: {failure.__cause__}")
                return
            raise
    model = networks[key]
    trainable = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    subject.expect(trainable, f"build() {how}", "the network has no trainable parameters")
    first, parameter = trainable[0]  # registered first: normally the input layer
    before = parameter.detach().cpu().clone()  # training may move the network to a GPU
    with subject.calling(f"training one step {how}"):
        loop.train(model, codec, inputs.prepare(data, samples[:2], protocol), inputs.prepare(data, samples[2:3],
                   protocol), protocol)
        predicted = loop.predict(model, codec, inputs.prepare(data, samples[3:5], protocol), protocol)
    subject.expect(not torch.equal(parameter.detach().cpu(), before), f"training one step {how}",
                   f"parameter {first} did not change: the loss does not reach the network's input layer")
    subject.expect(predicted.shape == (2, N_LANDMARKS, 2) and np.isfinite(predicted).all(),
                   f"predicting {how}", f"expected finite points of shape (2, {N_LANDMARKS}, 2), got "
                                        f"{predicted.shape}")


def _check_output(subject: Subject, model, codec, channels: int, member: str) -> None:
    import torch

    width, height = INPUT
    out = codec.out_channels(N_LANDMARKS)
    expected = (2, out, height, width) if codec.output == "heatmap" else (2, out)
    model.eval()
    with subject.calling(f"{member}: forward"), torch.no_grad():
        output = model(torch.rand(2, channels, height, width))
    subject.expect(isinstance(output, torch.Tensor) and tuple(output.shape) == expected, member,
                   f"{codec.output} output must be {expected} for a {width}×{height} input, got "
                   f"{tuple(getattr(output, 'shape', ())) or type(output).__name__}")
    subject.expect(torch.isfinite(output).all(), member, "the network output is not finite")
