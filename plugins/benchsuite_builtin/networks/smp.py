"""Networks built on an encoder: smp decoders (U-Net, FPN, DeepLabV3+) for
heatmaps at input resolution, and a fully connected regression head for
direct coordinates. Any encoder entry works, including ``smp`` with a
``smp_name``, so every smp/timm backbone can be paired with every decoder."""
from __future__ import annotations

from benchsuite import api
from benchsuite.hookspecs import hookimpl
from benchsuite.lazy import lazy_import

smp = lazy_import("segmentation_models_pytorch")
heads = lazy_import(".heads", __package__)


def smp_name(encoder: api.Encoder, architecture: str) -> str:
    """The name smp builds the encoder by; an encoder smp does not know cannot take an smp decoder."""
    if not encoder.smp_name:
        raise api.PluginError(f"{architecture} builds its encoder with segmentation-models-pytorch, and encoder "
                              f"{encoder.name} has no smp_name; use it with an architecture that calls encoder.build()")
    return encoder.smp_name


class SmpUnet(api.Architecture):
    name = "smp-unet"
    description = "U-Net decoder (segmentation-models-pytorch) on any encoder; heatmaps at input resolution"
    encoder = "required"
    outputs = frozenset({"heatmap"})

    def __init__(self, encoder_depth: int = 5, decoder_channels: list[int] | None = None):
        self.encoder_depth = encoder_depth
        self.decoder_channels = list(decoder_channels or (256, 128, 64, 32, 16)[:encoder_depth])

    def build(self, *, in_channels, out_channels, output, encoder):
        model = smp.Unet(
            smp_name(encoder, self.name),
            encoder_weights=None,
            encoder_depth=self.encoder_depth,
            decoder_channels=self.decoder_channels,
            in_channels=in_channels,
            classes=out_channels,
        )
        encoder.load_weights(model.encoder)
        return model


class FcRegression(api.Architecture):
    name = "fc-regression"
    description = "Encoder + global pooling + fully connected layer regressing N×2 coordinates"
    encoder = "required"
    outputs = frozenset({"coords"})

    def __init__(self, encoder_depth: int = 5):
        self.encoder_depth = encoder_depth

    def build(self, *, in_channels, out_channels, output, encoder):
        return heads.RegressionHead(encoder.build(in_channels, self.encoder_depth), out_channels)


class SmpFpn(api.Architecture):
    name = "smp-fpn"
    description = "Feature Pyramid Network decoder (segmentation-models-pytorch) on any encoder; heatmaps at input resolution"
    encoder = "required"
    outputs = frozenset({"heatmap"})

    def __init__(self, encoder_depth: int = 5, pyramid_channels: int = 256, segmentation_channels: int = 128,
                 dropout: float = 0.2):
        if encoder_depth != 5:  # smp's FPN upsamples as if from five stages: fewer give heatmaps larger than the input
            raise api.PluginError(f"smp-fpn: encoder_depth must be 5 (segmentation-models-pytorch's FPN decoder "
                                  f"assumes five encoder stages), got {encoder_depth}")
        self.encoder_depth = encoder_depth
        self.pyramid_channels = pyramid_channels
        self.segmentation_channels = segmentation_channels
        self.dropout = dropout

    def build(self, *, in_channels, out_channels, output, encoder):
        model = smp.FPN(
            smp_name(encoder, self.name),
            encoder_weights=None,
            encoder_depth=self.encoder_depth,
            decoder_pyramid_channels=self.pyramid_channels,
            decoder_segmentation_channels=self.segmentation_channels,
            decoder_dropout=self.dropout,
            in_channels=in_channels,
            classes=out_channels,
        )
        encoder.load_weights(model.encoder)
        return model


class SmpDeepLabV3Plus(api.Architecture):
    name = "smp-deeplabv3plus"
    description = "DeepLabV3+ decoder (segmentation-models-pytorch) on any encoder; heatmaps at input resolution"
    encoder = "required"
    outputs = frozenset({"heatmap"})

    def __init__(self, encoder_depth: int = 5, output_stride: int = 16, decoder_channels: int = 256):
        self.encoder_depth = encoder_depth
        self.output_stride = output_stride
        self.decoder_channels = decoder_channels

    def build(self, *, in_channels, out_channels, output, encoder):
        model = smp.DeepLabV3Plus(
            smp_name(encoder, self.name),
            encoder_weights=None,
            encoder_depth=self.encoder_depth,
            encoder_output_stride=self.output_stride,
            decoder_channels=self.decoder_channels,
            in_channels=in_channels,
            classes=out_channels,
        )
        encoder.load_weights(model.encoder)
        return model


@hookimpl
def register_architectures(register):
    register(SmpUnet)
    register(FcRegression)
    register(SmpFpn)
    register(SmpDeepLabV3Plus)
