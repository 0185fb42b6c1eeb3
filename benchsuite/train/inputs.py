"""Network inputs: every sample decoded, converted and letterboxed once.

A prepared set keeps its images as uint8 tensors (a quarter of float32's
memory, converted per batch on the device) and its landmarks in input
pixels, with each image's letterbox to map predictions back. Decoded
inputs are cached on disk when the dataset can key its files by content.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from benchsuite.api import PluginError, Sample
from benchsuite.protocol import Protocol
from benchsuite.train.augment import colour_versions
from benchsuite.train.cache import ImageCache
from benchsuite.train.geometry import Letterbox, extent
from benchsuite.train.images import to_channels


@dataclass
class Prepared:
    """A set of samples letterboxed to the network input."""

    samples: list[Sample]
    images: torch.Tensor  # (B, C, S, S) uint8
    landmarks: torch.Tensor  # (B, N, 2) float32, input pixels, NaN = missing
    boxes: list[Letterbox]


def prepare(dataset, samples: list[Sample], protocol: Protocol, channels: int | None = None) -> Prepared:
    """Load, convert to ``channels`` (default: the protocol's) and letterbox every sample; ``dataset`` is anything
    with a ``name``, ``load_image`` and ``image_key`` (a dataset, :class:`benchsuite.api.Images`)."""
    size, channels = protocol.input_size, channels or protocol.channels
    width, height = extent(size)
    n_landmarks = samples[0].landmarks.shape[0] if samples else 0
    images = np.zeros((len(samples), channels, height, width), dtype=np.uint8)
    landmarks = np.zeros((len(samples), n_landmarks, 2), dtype=np.float32)
    boxes = []
    cache = ImageCache.for_dataset(dataset)  # the next cell or fold does not decode the originals again
    for i, sample in enumerate(samples):
        box = Letterbox(*sample.size, size)
        images[i] = _letterboxed(dataset, sample, box, size, channels, cache).transpose(2, 0, 1)
        landmarks[i] = box.to_input(sample.landmarks)
        boxes.append(box)
    return Prepared(samples, torch.from_numpy(images), torch.from_numpy(landmarks), boxes)


def check_images(dataset, samples: list[Sample], protocol: Protocol) -> None:
    """Decode every image once, as a network cell's preparation does (cached ones are not decoded again).

    Codec-free methods may never look at the pixels (the mean shape); checking them here makes a corrupt
    image fail every method's cells on the dataset alike, instead of leaving one baseline standing.
    """
    cache = ImageCache.for_dataset(dataset)
    for sample in samples:
        _letterboxed(dataset, sample, Letterbox(*sample.size, protocol.input_size), protocol.input_size,
                     protocol.channels, cache)


def _letterboxed(dataset, sample: Sample, box: Letterbox, size, channels: int, cache) -> np.ndarray:
    """One sample's image converted and letterboxed (H×W×C uint8), from the cache when it is there."""
    key = dataset.image_key(sample.id) if cache else None
    letterboxed = cache.get(key, size, channels) if cache and key else None
    if letterboxed is None:
        image = to_channels(dataset.load_image(sample.id), channels)
        height, width = image.shape[:2]
        if (width, height) != tuple(sample.size):
            raise PluginError(
                f"{dataset.name}/{sample.id}: image is {width}×{height} but the dataset says {sample.size[0]}×{sample.size[1]}"
            )
        letterboxed = box.apply(image)
        if cache and key:
            cache.put(key, size, channels, letterboxed)
    return letterboxed


def concat(parts: list[Prepared]) -> Prepared:
    """Several prepared sets (e.g. from several datasets) as one."""
    return Prepared(
        [s for p in parts for s in p.samples],
        torch.cat([p.images for p in parts]),
        torch.cat([p.landmarks for p in parts]),
        [b for p in parts for b in p.boxes],
    )


def with_colour_versions(rgb: Prepared, protocol: Protocol) -> Prepared:
    """The beetle paper's offline colour augmentation: every image becomes several grayscale ones."""
    generator = torch.Generator().manual_seed(protocol.seed)
    versions = colour_versions(rgb.images, protocol.channel_shift, protocol.channel_split, generator)
    count = versions.shape[0]
    return Prepared(
        rgb.samples * count,
        versions.flatten(0, 1),
        rgb.landmarks.repeat(count, 1, 1),
        rgb.boxes * count,
    )


def training_set(dataset, samples: list[Sample], protocol: Protocol) -> Prepared:
    """The training part, multiplied by the protocol's offline colour augmentation if any."""
    if protocol.channel_shift or protocol.channel_split:
        if protocol.channels != 1:
            raise PluginError(f"protocol {protocol.name!r}: colour augmentation produces grayscale images; "
                              "set channels = 1")
        return with_colour_versions(prepare(dataset, samples, protocol, channels=3), protocol)
    return prepare(dataset, samples, protocol)
