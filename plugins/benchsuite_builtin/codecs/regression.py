"""Direct regression: the network outputs N×2 numbers, the landmark
coordinates normalised to [0, 1] over the network input's extent."""
from __future__ import annotations

import torch

from benchsuite import api
from benchsuite.api import extent
from benchsuite.hookspecs import hookimpl


def _extent(size, like: torch.Tensor) -> torch.Tensor:
    """The input's (width, height) as a tensor that broadcasts over (..., 2) coordinates."""
    return torch.tensor(extent(size), dtype=like.dtype, device=like.device)


class Regression(api.Codec):
    name = "regression"
    description = "Direct coordinate regression, coordinates normalised to [0, 1], masked MSE loss"
    output = "coords"

    def out_channels(self, n_landmarks: int) -> int:
        return 2 * n_landmarks

    def encode(self, landmarks: torch.Tensor, size) -> torch.Tensor:
        """Pixel centres at integers: the input's edges are -0.5 and width-0.5 (height-0.5)."""
        return (landmarks + 0.5) / _extent(size, landmarks)

    def loss(self, prediction: torch.Tensor, landmarks: torch.Tensor, size: int) -> torch.Tensor:
        target = self.encode(landmarks, size).reshape(prediction.shape)
        valid = ~torch.isnan(target)
        error = torch.where(valid, prediction - torch.nan_to_num(target), torch.zeros_like(prediction))
        return (error**2).sum() / valid.sum().clamp(min=1)

    def decode(self, prediction: torch.Tensor, size: int) -> torch.Tensor:
        return prediction.reshape(prediction.shape[0], -1, 2) * _extent(size, prediction) - 0.5


@hookimpl
def register_codecs(register):
    register(Regression)
