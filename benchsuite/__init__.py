"""benchsuite: benchmark landmark-detection methods on your own images."""

__version__ = "0.1.0"
