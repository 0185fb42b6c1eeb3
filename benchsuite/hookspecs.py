"""The plugin hooks: one per kind, each handed a ``register`` callback.

A plugin implements any of these and calls ``register(SomeClass)`` once per
thing it offers. Built-in plugins use exactly the same hooks.
"""
import pluggy

hookspec = pluggy.HookspecMarker("benchsuite")
hookimpl = pluggy.HookimplMarker("benchsuite")


@hookspec
def register_datasets(register):
    """Register dataset classes: images with landmarks in original pixels."""


@hookspec
def register_encoders(register):
    """Register encoder classes: feature extractors buildable by name."""


@hookspec
def register_architectures(register):
    """Register architecture classes: networks the core trains through a codec."""


@hookspec
def register_methods(register):
    """Register method classes: what learns from images without a codec (baselines, classical predictors,
    methods that train networks of their own)."""


@hookspec
def register_codecs(register):
    """Register codec classes: landmarks to targets, outputs to landmarks."""


@hookspec
def register_metrics(register):
    """Register metric classes: scores computed from stored predictions."""


@hookspec
def register_executors(register):
    """Register executor classes: where grid cells run."""
