"""Direct regression: the network outputs N×2 numbers, the landmark
coordinates normalised over the network input's extent to [0, 1]
(``coordinates = "unit"``) or to [−1, 1] (``coordinates = "signed"``, the beetle paper's)."""
from __future__ import annotations

from benchsuite import api
from benchsuite.api import extent
from benchsuite.hookspecs import hookimpl
from benchsuite.lazy import lazy_import

torch = lazy_import("torch")


_EXTENTS: dict = {}  # (width, height, dtype, device) -> tensor: made once, not copied to the device per batch


def _extent(size, like: torch.Tensor) -> torch.Tensor:
    """The input's (width, height) as a tensor that broadcasts over (..., 2) coordinates."""
    key = (*extent(size), like.dtype, like.device)
    if key not in _EXTENTS:
        _EXTENTS[key] = torch.tensor(extent(size), dtype=like.dtype).to(like.device)
    return _EXTENTS[key]


SCALES = ("unit", "signed")


class Regression(api.Codec):
    name = "regression"
    description = "Direct coordinate regression, coordinates normalised to [0, 1] (coordinates=signed: [-1, 1]), masked MSE"
    output = "coords"

    def __init__(self, coordinates: str = "unit"):
        if coordinates not in SCALES:
            raise api.PluginError(f"codec regression: coordinates must be one of {', '.join(SCALES)}, "
                                  f"got {coordinates!r}")
        self.coordinates = coordinates

    def out_channels(self, n_landmarks: int) -> int:
        return 2 * n_landmarks

    def encode(self, landmarks: torch.Tensor, size) -> torch.Tensor:
        """Pixel centres at integers: the input's edges are -0.5 and width-0.5 (height-0.5), i.e. 0 and 1 (or ±1)."""
        unit = (landmarks + 0.5) / _extent(size, landmarks)
        return unit * 2 - 1 if self.coordinates == "signed" else unit

    def loss(self, prediction: torch.Tensor, landmarks: torch.Tensor, size: int) -> torch.Tensor:
        target = self.encode(landmarks, size).reshape(prediction.shape)
        valid = ~torch.isnan(target)
        error = torch.where(valid, prediction - torch.nan_to_num(target), torch.zeros_like(prediction))
        return (error**2).sum() / valid.sum().clamp(min=1)

    def decode(self, prediction: torch.Tensor, size: int) -> torch.Tensor:
        unit = prediction.reshape(prediction.shape[0], -1, 2)
        if self.coordinates == "signed":
            unit = (unit + 1) / 2
        return unit * _extent(size, prediction) - 0.5


@hookimpl
def register_codecs(register):
    register(Regression)
