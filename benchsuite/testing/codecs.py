"""``check_codec``: encode/decode round trips, decoding any output, a loss to train on."""
from __future__ import annotations

import math
from typing import Any

from benchsuite import api
from benchsuite.testing.subject import Subject, check_cell_id, start
from benchsuite.testing.tiny import INPUT, N_LANDMARKS


def check_codec(cls: type, *, tolerance: float = 1.0, fresh_process: bool = True, **params: Any) -> list[str]:
    """Encode/decode round trip within ``tolerance`` input pixels at a rectangular and a square size,
    finite decoding of any output, a finite differentiable loss with a missing landmark, lowest at the target."""
    subject, _, codec = start("codecs", cls, params)
    if codec is None:
        return subject.notes
    import torch

    with subject.calling("out_channels(3)"):
        out = codec.out_channels(N_LANDMARKS)
    subject.expect(isinstance(out, int) and not isinstance(out, bool) and out > 0, "out_channels(3)",
                   f"must be a positive int, got {out!r}")
    nan = float("nan")
    landmarks = torch.tensor([[[3.2, 4.7], [50.5, 20.25], [nan, nan]], [[10.0, 30.0], [33.3, 1.6], [60.4, 15.5]]])
    present = ~torch.isnan(landmarks).any(dim=-1)
    for size in (INPUT, INPUT[0]):
        width, height = api.extent(size)
        shape = (2, out, height, width) if codec.output == "heatmap" else (2, out)
        with subject.calling(f"encode(size={size})"):
            target = codec.encode(landmarks, size)
        subject.expect(isinstance(target, torch.Tensor) and target.numel() == math.prod(shape),
                       f"encode(size={size})", f"must give as many values as the network outputs {shape}, got "
                                               f"{tuple(getattr(target, 'shape', ()))}")
        target = torch.nan_to_num(target.reshape(shape).float())
        back = _decoded(subject, codec, target, size)
        error = float((back - landmarks).abs()[present].max())
        subject.expect(error <= tolerance, f"decode(size={size})", f"decoding the encoded landmarks is off by "
                                                                   f"{error:.3g} input px (tolerance {tolerance})")
        output = torch.rand(shape, generator=torch.Generator().manual_seed(0))
        subject.expect(torch.isfinite(_decoded(subject, codec, output, size)).all(), f"decode(size={size})",
                       "decoding a network output gave non-finite points")
        _check_loss(subject, codec, output, target, landmarks, size)
    check_cell_id(subject, params, fresh_process)
    return subject.notes


def _decoded(subject: Subject, codec, output, size):
    import torch

    with subject.calling(f"decode(size={size})"):
        points = codec.decode(output, size)
    subject.expect(isinstance(points, torch.Tensor) and tuple(points.shape) == (2, N_LANDMARKS, 2)
                   and points.is_floating_point(), f"decode(size={size})",
                   f"must return a float tensor of shape (2, {N_LANDMARKS}, 2), got "
                   f"{tuple(getattr(points, 'shape', ())) or type(points).__name__}")
    return points


def _check_loss(subject: Subject, codec, output, target, landmarks, size) -> None:
    import torch

    member = f"loss(size={size})"
    prediction = output.clone().requires_grad_(True)
    with subject.calling(member):
        loss = codec.loss(prediction, landmarks, size)
        at_target = codec.loss(target, landmarks, size)
    subject.expect(isinstance(loss, torch.Tensor) and loss.numel() == 1 and torch.isfinite(loss), member,
                   f"must be a finite scalar tensor with a landmark missing, got {loss!r}")
    with subject.calling(f"{member}.backward()"):
        loss.backward()
    grad = prediction.grad
    subject.expect(grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, member,
                   "its gradient with respect to the network output is missing, zero or not finite")
    at_target, at_random = float(at_target.detach()), float(loss.detach())
    subject.expect(at_target <= at_random, member, f"is higher at the codec's own target ({at_target:.3g}) than at "
                                                   f"a random output ({at_random:.3g})")
