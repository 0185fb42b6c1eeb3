"""Integral regression (Sun et al., "Integral Human Pose Regression", ECCV 2018).

The network outputs one map of logits per landmark; their spatial softmax is a
probability map and its expectation (soft-argmax) is the landmark. The loss is
the L1 distance of that expectation to the truth, in input pixels, so it has
no all-zero minimum to collapse into: every pixel's logit gets a gradient
that moves the expectation towards the landmark, from the first step.
``heatmap_weight`` adds the Jensen-Shannon divergence between the probability
map and a normalised Gaussian of width σ (the DSNT regulariser of Nibali et
al., 2018), which keeps the map a single peak; σ is also what :meth:`encode`
gives, the output of a perfect network (as logits).

Why the regulariser matters on small data: the coordinate loss alone is
satisfied by any map whose expectation lands on the landmark, and a network
trained on a few dozen images settles for nearly uniform maps whose faint
tilt places the expectation. Such a map is imprecise, and a second faint mode
drags it. Measured on the fly wings (fold 0 of 5, 37 training images, an
ImageNet-pretrained EfficientNet-Lite0 U-Net, 10 CPU-minutes): without the
term 7 of 12 maps had an entropy within 1 nat of a uniform map's (9.9 nats)
and the test error was 4.25 px; with ``heatmap_weight = 1`` two maps stayed
flat (3.20 px); with ``heatmap_weight = 10`` every map had the target
Gaussian's entropy (4.2 nats) and the error was 2.56 px. The loss is in
input pixels, so the weight that matters is large next to DSNT's 1 on
normalised coordinates.
"""
from __future__ import annotations

import numbers

from benchsuite import api
from benchsuite.api import PluginError, extent
from benchsuite.hookspecs import hookimpl
from benchsuite.lazy import lazy_import

from . import decoding

torch = lazy_import("torch")


def _log_gaussian_axes(landmarks: torch.Tensor, size, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """A normalised Gaussian of width σ at each landmark is the product of one along x and one along y: their
    (B, N, W) and (B, N, H) log-probabilities, each normalised over its axis."""
    width, height = extent(size)
    centre = torch.nan_to_num(landmarks.float(), nan=0.0)

    def along(axis: int, length: int) -> torch.Tensor:
        positions = torch.arange(length, device=landmarks.device, dtype=torch.float32)
        logits = -((positions - centre[..., axis:axis + 1]) ** 2) / (2 * sigma**2)
        return logits - torch.logsumexp(logits, dim=-1, keepdim=True)

    return along(0, width), along(1, height)


def _log_gaussian(landmarks: torch.Tensor, size, sigma: float) -> torch.Tensor:
    """(B, N, H, W) log-probabilities of a Gaussian of width σ at each landmark, normalised over the map."""
    log_x, log_y = _log_gaussian_axes(landmarks, size, sigma)
    return log_y.unsqueeze(-1) + log_x.unsqueeze(-2)


def _jensen_shannon_to_gaussian(probability: torch.Tensor, log_p: torch.Tensor, landmarks: torch.Tensor, size,
                                sigma: float) -> torch.Tensor:
    """(B, N) Jensen-Shannon divergence between each map (its probabilities and their logarithms, flattened to
    (B, N, H·W)) and the Gaussian of width σ at its landmark.

    Written as ½(Σ p log p + Σ q log q) − Σ m log m with m = (p + q)/2, and the Gaussian's Σ q log q summed
    along its two axes: a few passes over the maps and no logarithm of a sum of exponentials over them, which
    had made the term a quarter of a training step's time."""
    log_x, log_y = _log_gaussian_axes(landmarks, size, sigma)
    x, y = log_x.exp(), log_y.exp()
    gaussian = (y.unsqueeze(-1) * x.unsqueeze(-2)).flatten(-2)
    gaussian_negentropy = (x * log_x).sum(-1) + (y * log_y).sum(-1)
    mixture = (probability + gaussian) * 0.5
    # the floor keeps log finite where both maps underflow to 0 there (the product is 0 and so is its gradient)
    mixture_negentropy = (mixture * mixture.clamp_min(1e-38).log()).sum(-1)
    return 0.5 * ((probability * log_p).sum(-1) + gaussian_negentropy) - mixture_negentropy


class Integral(api.Codec):
    name = "integral"
    description = ("Integral regression: soft-argmax over heatmap logits, L1 loss on the coordinates (cannot "
                   "collapse to zero maps); heatmap_weight adds a Gaussian (σ) regulariser")
    output = "heatmap"
    takes_region = True

    def __init__(self, sigma: float = 2.0, heatmap_weight: float = 0.0):
        if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real) or not sigma > 0:
            raise PluginError(f"codec {self.name}: sigma must be a positive number, got {sigma!r}")
        if isinstance(heatmap_weight, bool) or not isinstance(heatmap_weight, numbers.Real) or not heatmap_weight >= 0:
            raise PluginError(f"codec {self.name}: heatmap_weight must be a number >= 0, got {heatmap_weight!r}")
        self.sigma = float(sigma)
        self.heatmap_weight = float(heatmap_weight)

    def out_channels(self, n_landmarks: int) -> int:
        return n_landmarks

    def encode(self, landmarks: torch.Tensor, size) -> torch.Tensor:
        """The logits of a perfect network: a normalised Gaussian's logarithm (uniform where missing)."""
        logits = _log_gaussian(landmarks, size, self.sigma)
        return torch.where(torch.isnan(landmarks).any(-1)[..., None, None], torch.zeros_like(logits), logits)

    def loss(self, prediction: torch.Tensor, landmarks: torch.Tensor, size) -> torch.Tensor:
        """Mean absolute coordinate error (input pixels) of the soft-argmax, present landmarks only."""
        valid = ~torch.isnan(landmarks).any(dim=-1)
        log_p = torch.log_softmax(prediction.float().flatten(-2), dim=-1)
        probability = log_p.exp()  # one softmax for the expectation and the divergence
        expected = decoding.expectation(probability.unflatten(-1, prediction.shape[-2:]))
        error = (expected - torch.nan_to_num(landmarks.float())).abs().sum(-1) / 2
        if self.heatmap_weight:
            divergence = _jensen_shannon_to_gaussian(probability, log_p, landmarks, size, self.sigma)
            error = error + self.heatmap_weight * divergence
        return (error * valid).sum() / valid.sum().clamp(min=1)

    def flat_output(self, prediction: torch.Tensor) -> torch.Tensor:
        """Flat logits: every landmark at the input's centre, what a network that learnt nothing answers."""
        return torch.zeros_like(prediction)

    def decode(self, prediction: torch.Tensor, size, region: torch.Tensor | None = None) -> torch.Tensor:
        """The expected position under each map's softmax, taken over ``region`` only."""
        return decoding.soft_argmax(prediction, region)


@hookimpl
def register_codecs(register):
    register(Integral)
