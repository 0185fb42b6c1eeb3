"""What a network's learning curve says: whether its validation error was still falling when training stopped,
and when it had converged. The report flags (‖) and the dry run's time estimate read the same rules."""
from __future__ import annotations

import math

TAIL_SHARE = 0.25  # the last part of a learning curve that still improving is judged on
TAIL_EPOCHS = 2  # ... at least this many epochs
MIN_GAIN = 0.01  # the relative drop of the best validation error over that part that counts as still falling
CONVERGED_WITHIN = 0.05  # a validation error this close to the best one counts as converged


def still_improving(record: dict) -> bool:
    """Whether a network's validation error was still falling when its training stopped: its best validation
    error of the last quarter of its epochs (at least the last 2) is 1 % or more below its best before them.

    Why from the curve and not from ``stopped_by``: a budget also ends curves that flattened long before (more
    time would not help), and a new best by a hair on a flat curve is noise, not progress. Cells recorded
    before learning curves: the best epoch among that last part of ``epochs_run``. Too short a curve to have a
    part before (1 or 2 epochs) counts as still improving: it had barely started.
    """
    errors = [error for _, error in _validation_errors(record)]
    if errors:
        tail = _tail(len(errors))
        before = errors[:-tail]
        return not before or min(errors[-tail:]) < min(before) * (1 - MIN_GAIN)
    epochs, best = record.get("epochs_run"), record.get("best_epoch")
    if not isinstance(epochs, int) or not isinstance(best, int) or epochs < 1 or best < 1:
        return False
    return best > epochs - _tail(epochs)


def starved(record: dict) -> bool:
    """Whether the time budget stopped a network that was still improving (more time would likely help). A
    method training in stages (one network, then another) is starved when any stage is: its top line says
    only which stage stopped last."""
    stages = record.get("stages")
    if isinstance(stages, dict) and stages:
        return any(isinstance(stage, dict) and starved(stage) for stage in stages.values())
    return record.get("stopped_by") == "budget" and still_improving(record)


def budget_minutes(record: dict) -> float | None:
    """The training time a cell was allowed (the protocol's ``max_minutes``), None without a budget."""
    minutes = ((record.get("config") or {}).get("protocol") or {}).get("max_minutes")
    return float(minutes) if _finite(minutes) and minutes > 0 else None


def _validation_errors(record: dict) -> list[tuple[dict, float]]:
    """(curve point, validation error) per epoch: the MRE where the curve has it, else the loss."""
    curve = record.get("learning_curve")
    curve = [p for p in curve if isinstance(p, dict)] if isinstance(curve, list) else []  # a damaged record: none
    key = "val_mre" if any(_finite(p.get("val_mre")) for p in curve) else "val_loss"
    return [(p, float(p[key])) for p in curve if _finite(p.get(key))]


def _tail(epochs: int) -> int:
    return max(TAIL_EPOCHS, math.ceil(epochs * TAIL_SHARE))


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def converged(record: dict) -> tuple[int, float | None] | None:
    """(epoch, seconds of training and validation) at which the validation error first came within 5 % of its
    best: when more epochs had stopped paying. None without a learning curve, or while the curve was still
    falling at its end (it had not converged)."""
    if still_improving(record):
        return None
    errors = [(p, e) for p, e in _validation_errors(record) if isinstance(p.get("epoch"), int)]
    if not errors:
        return None
    best = min(e for _, e in errors)
    first = next(p for p, e in errors if e <= best * (1 + CONVERGED_WITHIN))
    seconds = first.get("elapsed_seconds", first.get("train_seconds"))  # with its validation passes
    return int(first["epoch"]), float(seconds) if _finite(seconds) else None
