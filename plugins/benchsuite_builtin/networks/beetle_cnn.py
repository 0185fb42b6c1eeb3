"""The beetle paper's CNN (Le et al., section 5, "third architecture").

Three elementary blocks, each an unpadded convolution (32 3×3, 64 2×2,
128 2×2) with ReLU, a 2×2 max-pooling and dropout (0.1, 0.2, 0.3), then
FC 1000 → dropout 0.5 → FC 1000 → 2N coordinates. The paper feeds
256×192 grayscale images, which leave a 31×23 map of 128 features for the
first dense layer (91M of the network's 92M parameters); other input sizes
are pooled to that map so the network stays the paper's.

``weights=PATH`` starts from a saved state dict (the fine-tuning arm: a model
pre-trained on other beetle parts); an output layer of another landmark count
is left at its random initialisation.
"""
from __future__ import annotations

from benchsuite import api
from benchsuite.hookspecs import hookimpl
from benchsuite.lazy import lazy_import

from benchsuite import toolkit

layers = lazy_import("._beetle_cnn_layers", __package__)

BLOCKS = ((32, 3, 0.1), (64, 2, 0.2), (128, 2, 0.3))  # filters, kernel, dropout


def feature_grid(width: int, height: int) -> tuple[int, int]:
    """(rows, columns) of the last block's output for a width × height input."""
    for _, kernel, _ in BLOCKS:
        width, height = (width - kernel + 1) // 2, (height - kernel + 1) // 2
    return max(height, 1), max(width, 1)


class BeetleCnn(api.Architecture):
    name = "beetle-cnn"
    description = "The beetle paper's CNN: 3 conv/pool/dropout blocks, FC 1000-1000-2N; direct regression"
    encoder = "none"
    outputs = frozenset({"coords"})

    def __init__(self, reference_input: list[int] | None = None, fc_units: int = 1000, weights: str | None = None):
        self.reference_input = list(reference_input or (256, 192))  # width, height
        self.fc_units = fc_units
        self.weights = weights

    def build(self, *, in_channels, out_channels, output, encoder):
        grid = feature_grid(*self.reference_input)
        model = layers.beetle_cnn(in_channels, out_channels, BLOCKS, grid, self.fc_units)
        if self.weights is not None:
            toolkit.load_weights(model, self.name, self.weights, skip_mismatched=True)
        return model


@hookimpl
def register_architectures(register):
    register(BeetleCnn)
