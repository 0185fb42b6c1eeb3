"""Conformance checks for plugin classes, to call from a plugin package's own tests.

    from benchsuite.testing import check_architecture

    def test_tinynet_conforms():
        check_architecture(TinyNet, width=4)

``check_<kind>(cls, **params)`` makes every check the suite can make on a
class of that kind, built with ``params`` (keep them small: everything runs
on the CPU in seconds): the registration contract, the metadata, what each
member returns on tiny inputs, and that the same grid entry always gives
the same cell id, in this process and in a fresh one. The first failure
raises :class:`AssertionError` with one line naming the class, the member
and what is wrong. The checks return what they could not check here and
why (an executor whose ``preflight`` finds no cluster, a library that is
not installed), so a test can print it. No pytest needed.
"""
from benchsuite.testing.codecs import check_codec
from benchsuite.testing.datasets import check_dataset
from benchsuite.testing.executors import check_executor
from benchsuite.testing.methods import check_method
from benchsuite.testing.metrics import check_metric
from benchsuite.testing.networks import check_architecture, check_encoder

__all__ = ["check_architecture", "check_codec", "check_dataset", "check_encoder", "check_executor", "check_method",
           "check_metric"]
