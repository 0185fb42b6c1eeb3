"""The one error a plugin or its input raises, at the bottom of the layers: every module that refuses
input (files, protocol, weights, the contract) imports it from here, and :mod:`benchsuite.api` re-exports it
for plugins."""
from __future__ import annotations


class PluginError(Exception):
    """A plugin or its input is unusable; the message names what and why, on one line."""


class DatasetMissing(PluginError):
    """A dataset whose files are not there yet (not downloaded, not unpacked): a dry run still lists its cells
    and says where to put them; a run refuses it."""
