"""Training-time augmentation, applied identically to images and landmarks.

Geometric: a random similarity transform (rotation, scale, translation) and
a horizontal flip that swaps the dataset's declared left/right landmark
pairs, sampled per image and applied on the training device with one
``grid_sample`` per batch. Coordinates follow the pixel-centre convention;
in grid_sample's normalised space (align_corners=False) a pixel coordinate
x maps to (2x + 1) / size - 1.

Colour (the beetle paper, section 4): from each RGB training image, copies
with a random constant added to one channel (capped at 255) and the three
channels split into grayscale images. These multiply the training set once,
before training.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from benchsuite.api import PluginError

_LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class GeometricAugmentation:
    rotate_deg: float = 0.0  # uniform in ±rotate_deg
    scale: float = 0.0  # zoom factor uniform in [1 - scale, 1 + scale]
    translate: float = 0.0  # shift uniform in ±translate × image size, per axis
    hflip: float = 0.0  # probability of a horizontal flip
    flip_permutation: tuple[int, ...] | None = None  # landmark order after a flip

    def __post_init__(self):
        if self.hflip and self.flip_permutation is None:
            raise ValueError("horizontal flips need the dataset's left/right landmark pairs (flip_pairs)")

    @property
    def active(self) -> bool:
        return any((self.rotate_deg, self.scale, self.translate, self.hflip))

    def sample(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """(B, 2, 3) forward transforms in normalised coordinates, plus a flip flag column."""
        u = torch.rand(batch, 5, generator=generator) * 2 - 1
        angle = u[:, 0] * math.radians(self.rotate_deg)
        zoom = 1 + u[:, 1] * self.scale
        shift = u[:, 2:4] * 2 * self.translate  # normalised space spans 2 per image side
        flip = torch.where((u[:, 4] + 1) / 2 < self.hflip, -1.0, 1.0)
        cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
        forward = torch.stack([
            torch.stack([cos * flip, -sin, shift[:, 0]], dim=1),
            torch.stack([sin * flip, cos, shift[:, 1]], dim=1),
        ], dim=1)
        return forward

    def apply(self, images: torch.Tensor, landmarks: torch.Tensor, forward: torch.Tensor):
        """Warp float images (B, C, H, W) and move landmarks (B, N, 2) by the same transforms."""
        batch, _, height, width = images.shape
        forward = forward.to(images.device, images.dtype, non_blocking=True)
        linear, shift = forward[:, :, :2], forward[:, :, 2:]
        inverse = _inverse_2x2(linear)
        theta = torch.cat([inverse, -inverse @ shift], dim=2)  # output -> input sampling
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        warped = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        points = landmarks.to(images.dtype)
        normalised = torch.stack([(2 * points[..., 0] + 1) / width - 1, (2 * points[..., 1] + 1) / height - 1], -1)
        moved = normalised @ linear.transpose(1, 2) + shift.transpose(1, 2)
        moved = torch.stack([((moved[..., 0] + 1) * width - 1) / 2, ((moved[..., 1] + 1) * height - 1) / 2], -1)
        if self.hflip:  # a flipped image's left and right landmarks swap names; chosen per image, on the device
            flipped = linear[:, 0, 0] * linear[:, 1, 1] - linear[:, 0, 1] * linear[:, 1, 0] < 0
            swapped = moved.index_select(1, self._order(moved.device))
            moved = torch.where(flipped[:, None, None], swapped, moved)
        return warped, moved

    def _order(self, device: torch.device) -> torch.Tensor:
        """The flip permutation as an index tensor on ``device``, made once per device."""
        cache = self.__dict__.setdefault("_orders", {})
        if device not in cache:
            cache[device] = torch.tensor(self.flip_permutation).to(device)
        return cache[device]


def _inverse_2x2(linear: torch.Tensor) -> torch.Tensor:
    """(B, 2, 2) inverses in closed form: no solver, no host synchronisation (torch.linalg.inv checks for
    singular matrices on the host); a similarity with a zoom above 0 is never singular."""
    a, b, c, d = linear[:, 0, 0], linear[:, 0, 1], linear[:, 1, 0], linear[:, 1, 1]
    det = a * d - b * c
    return torch.stack([torch.stack([d, -b], -1), torch.stack([-c, a], -1)], -2) / det[:, None, None]


def flip_permutation(landmark_names: list[str], pairs) -> tuple[int, ...]:
    """Landmark order after a horizontal flip: each declared pair swaps places."""
    index = {name: i for i, name in enumerate(landmark_names)}
    order = list(range(len(landmark_names)))
    for left, right in pairs:
        if left not in index or right not in index:
            raise ValueError(f"flip pair ({left}, {right}) names an unknown landmark")
        order[index[left]], order[index[right]] = index[right], index[left]
    return tuple(order)


def colour_versions(images: torch.Tensor, max_shift: int, split: bool, generator: torch.Generator) -> torch.Tensor:
    """(B, 3, H, W) uint8 RGB to (V, B, 1, H, W) grayscale versions, the original first.

    ``max_shift`` > 0 adds three copies, each with a constant drawn uniformly
    from [1, max_shift] added to one RGB channel (capped at 255); ``split``
    adds the R, G and B channels as three grayscale images.
    """
    if images.shape[1] != 3:
        raise ValueError("colour augmentation needs RGB images (channels = 3 while preparing)")
    luma = torch.tensor(_LUMA).view(1, 3, 1, 1)

    def gray(rgb: torch.Tensor) -> torch.Tensor:
        return (rgb.float() * luma).sum(dim=1, keepdim=True).round().clamp(0, 255).to(torch.uint8)

    versions = [gray(images)]
    if max_shift > 0:
        for channel in range(3):
            shifted = images.to(torch.int16)
            constant = torch.randint(1, max_shift + 1, (images.shape[0], 1, 1), generator=generator)
            shifted[:, channel] = (shifted[:, channel] + constant).clamp(max=255)
            versions.append(gray(shifted.to(torch.uint8)))
    if split:
        versions += [images[:, c : c + 1] for c in range(3)]
    return torch.stack(versions)


def for_dataset(protocol, dataset) -> GeometricAugmentation:
    """The protocol's geometric augmentation, with the dataset's left/right pairs for flips."""
    pairs = dataset.flip_pairs if dataset is not None else None
    if protocol.hflip and not pairs:
        name = dataset.name if dataset is not None else "(pre-training)"
        raise PluginError(f"protocol {protocol.name!r} flips images but dataset {name!r} declares no "
                          "left/right landmark pairs (flip_pairs)")
    return GeometricAugmentation(
        rotate_deg=protocol.rotate_deg, scale=protocol.scale, translate=protocol.translate, hflip=protocol.hflip,
        flip_permutation=flip_permutation(dataset.landmark_names, pairs) if pairs else None,
    )
