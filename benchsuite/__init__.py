"""benchsuite: benchmark landmark-detection methods on your own images.

The library API beside the command line (imported lazily, so ``import
benchsuite`` stays cheap): :func:`run_grid`, :func:`plan_grid`,
:func:`load_run`, :func:`load_registry`.
"""

__version__ = "0.1.0"

_API = {
    "run_grid": "benchsuite.run.launch", "plan_grid": "benchsuite.run.launch", "load_run": "benchsuite.run.launch",
    "run_status": "benchsuite.run.launch", "Filters": "benchsuite.run.launch", "load_registry": "benchsuite.plugins",
}


def __getattr__(name: str):
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'benchsuite' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_API])
