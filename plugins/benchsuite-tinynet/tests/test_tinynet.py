"""tinynet's own tests: benchsuite's conformance kit, the way every plugin package can test itself."""
from benchsuite.testing import check_architecture
from benchsuite_tinynet import TinyNet


def test_tinynet_passes_the_conformance_kit():
    """Registration contract, metadata, one training step with every heatmap codec installed, cell ids."""
    notes = check_architecture(TinyNet, width=4)
    print(*notes, sep="\n")


def test_tinynet_width_sets_the_size_of_the_network():
    def parameters(width):
        model = TinyNet(width=width).build(in_channels=1, out_channels=3, output="heatmap", encoder=None)
        return sum(p.numel() for p in model.parameters())

    assert parameters(8) > 3 * parameters(4)  # convolutions grow with width²
