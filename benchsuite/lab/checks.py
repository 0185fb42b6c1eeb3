"""How ``benchsuite datasets check`` prints a dataset's :class:`benchsuite.api.CheckReport`.

Errors make the dataset unusable until fixed; warnings (a duplicated label
that only makes one landmark missing, a point outside the image) are listed
but do not fail.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from benchsuite.api import CheckReport, Sample


def missing_counts(report: CheckReport) -> list[int]:
    if not report.samples:
        return [0] * len(report.landmark_names)
    missing = np.isnan(np.stack([s.landmarks for s in report.samples])).any(axis=-1)
    return [int(n) for n in missing.sum(axis=0)]


def _sizes(samples: list[Sample]) -> str:
    counts = Counter(tuple(s.size) for s in samples)
    if not counts:
        return "none"
    if len(counts) <= 4:
        return ", ".join(f"{w}×{h} ({n})" for (w, h), n in sorted(counts.items(), key=lambda kv: -kv[1]))
    widths, heights = [w for w, _ in counts], [h for _, h in counts]
    return f"{len(counts)} different, width {min(widths)}–{max(widths)}, height {min(heights)}–{max(heights)}"


def render(report: CheckReport) -> str:
    """The human summary: counts, names, sizes, missing landmarks, notes, warnings."""
    names = report.landmark_names
    missing = missing_counts(report)
    lines = [f"dataset: {report.dataset}"]
    if report.format:
        lines.append(f"format: {report.format}")
    lines += [
        f"images: {len(report.samples)} usable",
        f"landmarks: {len(names)} ({', '.join(names)})",
        f"image sizes (W×H): {_sizes(report.samples)}",
    ]
    total = sum(missing)
    if total:
        per = ", ".join(f"{n} {m}" for n, m in zip(names, missing) if m)
        lines.append(f"missing landmarks: {total} of {len(report.samples) * len(names)} ({per})")
    else:
        lines.append("missing landmarks: none")
    lines += [f"{key}: {value}" for key, value in report.notes.items()]
    lines.append(f"errors: {len(report.errors)}, warnings: {len(report.warnings)}")
    lines += [f"  warning: {p.line()}" for p in report.warnings]
    return "\n".join(lines)  # errors are printed one per line by the caller, on stderr
