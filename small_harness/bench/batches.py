"""Sizing the timed batches of the benchmarks (bench.py, bench_models.py, bench_against.py)."""

from __future__ import annotations

import math


def batch_repeat(batch_seconds: float, one_run_ns: float) -> int:
    """Runs in a batch of about batch_seconds, from one run's time (at least 1; a run timed at 0 ns
    counts as 1 ns)."""
    return max(1, math.ceil(batch_seconds * 1e9 / max(one_run_ns, 1)))
