"""The error floor of a decoding: the best any network could do with it at an input size.

Each true landmark is mapped into the network input (letterbox), encoded as
the codec's perfect output, decoded inside the image region and mapped back
to original pixels. What remains is the decoding's own error at that input
size: half an input pixel's worth for the argmax (≈ 0.38·δ on average for
points spread uniformly within a pixel), near zero for sub-pixel decodings
away from the image's edges. A network's error can approach it, never beat it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from benchsuite.api import Sample, extent
from benchsuite.distance import per_image_errors
from benchsuite.train.geometry import Letterbox
from benchsuite.train.loop import decode_inside

_BATCH = 16


def decoding_errors(codec, samples: list[Sample], size) -> np.ndarray:
    """Per-image mean radial error (original pixels) of ``codec``'s decode(encode(truth)) at input ``size``."""
    errors = []
    for start in range(0, len(samples), _BATCH):
        chunk = samples[start : start + _BATCH]
        boxes = [Letterbox(*s.size, size) for s in chunk]
        truth = np.stack([s.landmarks for s in chunk])
        points = torch.from_numpy(np.stack([b.to_input(s.landmarks) for b, s in zip(boxes, chunk)])).float()
        with torch.no_grad():
            decoded = decode_inside(codec, codec.encode(points, size), size, torch.tensor([b.region for b in boxes]))
        back = np.stack([b.to_original(p) for b, p in zip(boxes, decoded.double().numpy())])
        per_image = per_image_errors(back, truth)
        errors += list(per_image[np.isfinite(per_image)])
    return np.array(errors)


def floor_table(datasets, codecs) -> pd.DataFrame:
    """One row per dataset × codec: δ, the floor (mean over images of the per-image error) and its worst image.

    ``datasets`` are (label, instance, network input size) triples, ``codecs`` (label, instance) pairs.
    """
    rows = []
    for dataset_label, dataset, size in datasets:
        width, height = extent(size)
        samples = dataset.samples()
        delta = float(np.mean([max(s.size[0] / width, s.size[1] / height) for s in samples]))
        for codec_label, codec in codecs:
            errors = decoding_errors(codec, samples, size)
            rows.append({"dataset": dataset_label, "input": f"{width}×{height}", "delta_px": delta,
                         "codec": codec_label, "floor_px": float(errors.mean()), "worst_image_px": float(errors.max()),
                         "images": len(errors)})
    return pd.DataFrame(rows)
